/**
 * The service graph (issue 19): edges between services from CLIENT/SERVER (PRODUCER/CONSUMER) pairs in the spans
 * the store receives, exposed under Tempo's metric names, estimated from the sample without bias.
 *
 * Pairing follows Tempo's metrics-generator (`modules/generator/processor/servicegraphs`) and the Collector's
 * servicegraph connector: a client half is keyed by trace id + its span id, a server half by trace id + its
 * parent span id; when both halves are there the edge completes; a half waits at most `wait`, and at most
 * `max_items` halves wait. What differs is the count: each pair counts the inverse of the probability that the
 * sample holds both its halves (Horvitz-Thompson), which depends on why each half was kept (`pairWeight`).
 */
import { every, systemClock, wallClockNow, type Clock, type ClockInterval } from '../clock.js';
import type { ServiceGraphConfig } from '../config/index.js';

import {
  DEPLOYMENT_VARIANT_ATTRIBUTE,
  SAMPLING_COMPLETED_ATTRIBUTE,
  SAMPLING_WEIGHT_ATTRIBUTE,
  SpanKind,
  StatusCode,
  stringAttribute,
  type Span,
  type TraceBatch,
  type TraceConsumer,
  type TraceData,
} from '../otlp/index.js';
import {
  bucketIndex,
  pushHistogramSamples,
  registerCollectedMetric,
  type CollectedValue,
  type Logger,
  type Metrics,
} from '../telemetry/index.js';

/** A bound counter child. */
interface Counter {
  inc(value?: number): void;
}

/** Why a half is in the sample, as its span says (`sampling.weight`, `sampling.completed`). */
const Inclusion = {
  /** Weight 1, not completed: kept by a rule (or nothing is sampled): in the sample with probability 1. */
  Certain: 0,
  /** Weight above 1: a probabilistic keep, in the sample with probability 1/weight. */
  Probabilistic: 1,
  /** `sampling.completed`: kept only because another agent kept the trace by a rule; outside the sample. */
  Completed: 2,
} as const;
type Inclusion = (typeof Inclusion)[keyof typeof Inclusion];

/** Tempo's `connection_type` values. */
export type ConnectionType = '' | 'messaging_system' | 'database' | 'virtual_node';

/** One side of a pair, as much of its span as the graph needs. */
export interface Half {
  readonly service: string;
  readonly variant: string;
  readonly inclusion: Inclusion;
  readonly weight: number;
  readonly failed: boolean;
  readonly seconds: number;
  readonly startMs: number;
  /** The first `peer_attributes` value, for a virtual node if no server answers. */
  readonly peer: string;
}

interface Pending {
  client: Half | undefined;
  server: Half | undefined;
  readonly expiresAt: number;
  readonly connectionType: ConnectionType;
}

/** One Tempo series: (client, server, connection_type). */
interface EdgeSeries {
  readonly labels: Readonly<Record<string, string>>;
  requests: number;
  failed: number;
  /** Pairs seen, unweighted. */
  pairs: number;
  /** Sum of w(w-1): the Horvitz-Thompson variance estimate of `requests` (inclusion independent per trace). */
  variance: number;
  readonly server: LatencyTotals;
  readonly client: LatencyTotals;
}

interface LatencyTotals {
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** Per-minute totals of one edge and variant pair, for `GET /api/servicegraph`. */
interface MinuteEdge {
  readonly client: string;
  readonly server: string;
  readonly connectionType: ConnectionType;
  readonly clientVariant: string;
  readonly serverVariant: string;
  requests: number;
  failed: number;
  pairs: number;
  variance: number;
  serverSeconds: number;
  serverWeight: number;
}

/** An edge of `GET /api/servicegraph`. */
export interface ServiceGraphEdge {
  readonly client: string;
  readonly server: string;
  readonly connectionType: ConnectionType;
  readonly clientVariant?: string;
  readonly serverVariant?: string;
  /** Estimated requests in the window (weighted). */
  readonly requests: number;
  /** Estimated failed requests (either side had error status). */
  readonly failed: number;
  /** Pairs actually seen in the sample. */
  readonly sampledPairs: number;
  /** An approximate 95 % interval of `requests`: estimate ± 1.96 √(Σ w(w−1)), never below the pairs seen. */
  readonly requestsInterval95: readonly [number, number];
  readonly requestRate: number;
  readonly errorRate: number;
  /** Weighted mean of the server side's latency, when a server side was seen. */
  readonly meanServerSeconds: number | null;
}

export interface ServiceGraphNode {
  readonly id: string;
  /** Requests it served (as Grafana's service map counts a node: the edges into it). */
  readonly requests: number;
  readonly failed: number;
  readonly requestRate: number;
  readonly errorRate: number;
  /** Not an instrumented service: a peer named by an attribute, a database, or `user`. */
  readonly virtual: boolean;
}

export interface ServiceGraphView {
  /** Where the numbers come from: the live pairing state (per-minute totals since the store started). */
  readonly source: 'live';
  readonly start: number;
  readonly end: number;
  /** The oldest time still held (`service_graph.history` back from now); the window is cut to its minute. */
  readonly coveredFrom: number;
  readonly nodes: ServiceGraphNode[];
  readonly edges: ServiceGraphEdge[];
}

export interface ServiceGraphOptions {
  readonly config: ServiceGraphConfig;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Pairing waits; and, on the calendar (wallClockNow), the per-minute totals' minutes. */
  readonly clock?: Clock;
}

const OVERFLOW = 'otel_metric_overflow';
const MINUTE_MS = 60_000;
const WEIGHT = SAMPLING_WEIGHT_ATTRIBUTE;
const COMPLETED = SAMPLING_COMPLETED_ATTRIBUTE;

/**
 * The pairing state and the edge totals. `add` takes decoded spans (through `tap`, after the WAL took them),
 * `expire` runs on a timer; both are synchronous and bounded by `max_items` waiting halves.
 */
export class ServiceGraph {
  private readonly config: ServiceGraphConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  /** In insertion order, which is deadline order (one `wait` for all): expiry walks from the front. */
  private readonly pending = new Map<string, Pending>();
  private readonly series = new Map<string, EdgeSeries>();
  private readonly minutes = new Map<number, Map<string, MinuteEdge>>();
  private readonly expiry: ClockInterval;
  /** prom-client children bound once: a labelled `inc` hashes its label object on every call. */
  private readonly outcome: Record<
    'paired' | 'root' | 'database' | 'virtual_node' | 'outside_sample' | 'dropped',
    Counter
  >;
  private readonly expiredSide: Record<'client' | 'server', Counter>;
  private warnedFull = false;
  private warnedEdges = false;

  constructor(options: ServiceGraphOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    const { metrics } = options;
    const outcomes = metrics.counter(
      'store_service_graph_spans_total',
      'CLIENT, SERVER, PRODUCER and CONSUMER spans seen by the service graph, by what became of them.',
      ['outcome'],
    );
    const bind = <K extends string>(names: readonly K[], c: { labels(v: string): Counter }) =>
      Object.fromEntries(names.map((n) => [n, c.labels(n)])) as Record<K, Counter>;
    this.outcome = bind(
      ['paired', 'root', 'database', 'virtual_node', 'outside_sample', 'dropped'],
      outcomes,
    );
    const expired = metrics.counter(
      'store_service_graph_expired_total',
      'Halves of a pair that waited service_graph.wait without their other half, by the side that came (unpaired).',
      ['side'],
    );
    this.expiredSide = bind(['client', 'server'], expired);
    const pending = this.pending;
    metrics.gauge(
      'store_service_graph_pending_items',
      'Halves of pairs waiting for their other half (bounded by service_graph.max_items).',
      [],
      function () {
        this.set(pending.size);
      },
    );
    this.registerTempoMetrics(metrics);
    const tick = Math.max(50, Math.min(1000, Math.floor(this.config.wait / 4)));
    this.expiry = every(this.clock, tick, () => this.expire());
  }

  /** A consumer that hands each batch to `next` and, once `next` took it, adds its spans to the graph. */
  tap(next: TraceConsumer): TraceConsumer {
    return {
      consume: async (batch: TraceBatch) => {
        await next.consume(batch);
        this.add(batch.data);
      },
      bufferedBytes: () => next.bufferedBytes(),
      forceFlush: () => next.forceFlush(),
      shutdown: () => next.shutdown(),
    };
  }

  /** Halves waiting now. */
  get pendingItems(): number {
    return this.pending.size;
  }

  close(): void {
    this.expiry.stop();
  }

  /** Adds the pair-forming spans of `data`. */
  add(data: TraceData): void {
    const now = this.clock.now();
    this.expire(now);
    for (const rs of data.resourceSpans) {
      const service = stringAttribute(rs.resource.attributes, 'service.name');
      if (!service) continue;
      const variant = stringAttribute(rs.resource.attributes, DEPLOYMENT_VARIANT_ATTRIBUTE) ?? '';
      for (const ss of rs.scopeSpans) for (const span of ss.spans) this.addSpan(span, service, variant, now);
    }
  }

  private addSpan(span: Span, service: string, variant: string, now: number): void {
    const kind = span.kind;
    const isClient = kind === SpanKind.CLIENT || kind === SpanKind.PRODUCER;
    const isServer = kind === SpanKind.SERVER || kind === SpanKind.CONSUMER;
    if (!isClient && !isServer) return;
    const { half, db } = halfOf(span, service, variant, this.config.peer_attributes);
    const messaging = kind === SpanKind.PRODUCER || kind === SpanKind.CONSUMER;
    if (isClient) {
      // A database answers in no span of its own: the edge is complete at once (Tempo does the same with db.name).
      if (db !== undefined && !messaging) {
        this.complete(half, { ...half, service: db, variant: '' }, 'database', true);
        this.outcome.database.inc();
        return;
      }
    } else if (span.parentSpanId === '') {
      // A root server span has no client to wait for: its caller is outside, Tempo's "user" node.
      this.complete(undefined, half, 'virtual_node', false, 'user');
      this.outcome.root.inc();
      return;
    }
    const key = span.traceId + (isClient ? span.spanId : span.parentSpanId);
    // Decoded ids are rope strings (built a byte at a time); a waiting key kept as a rope held 686 B per half
    // against 316 flat (bench/service-graph.ts). charCodeAt makes V8 flatten it in place.
    key.charCodeAt(0);
    let entry = this.pending.get(key);
    if (!entry) {
      if (this.pending.size >= this.config.max_items) {
        this.outcome.dropped.inc();
        if (!this.warnedFull) {
          this.warnedFull = true;
          this.logger.warn(
            { max_items: this.config.max_items },
            'service graph: service_graph.max_items halves are waiting; further spans are dropped from the graph (counted)',
          );
        }
        return;
      }
      entry = {
        client: undefined,
        server: undefined,
        expiresAt: now + this.config.wait,
        connectionType: messaging ? 'messaging_system' : '',
      };
      this.pending.set(key, entry);
    }
    if (isClient) entry.client = half;
    else entry.server = half;
    if (entry.client && entry.server) {
      this.pending.delete(key);
      this.complete(entry.client, entry.server, entry.connectionType, false);
      this.outcome.paired.inc();
    }
  }

  /** Ends every half whose wait is over: a client with a peer attribute becomes an edge to a virtual node. */
  expire(now = this.clock.now()): void {
    for (const [key, entry] of this.pending) {
      if (entry.expiresAt > now) break;
      this.pending.delete(key);
      if (entry.client) {
        this.expiredSide.client.inc();
        if (entry.client.peer !== '') {
          this.complete(entry.client, undefined, 'virtual_node', false, undefined, entry.client.peer);
          this.outcome.virtual_node.inc();
        }
      } else if (entry.server) {
        this.expiredSide.server.inc();
      }
    }
    this.pruneMinutes(wallClockNow(this.clock));
  }

  /** Counts one edge, weighted by the probability that the sample holds what was seen of it. */
  private complete(
    client: Half | undefined,
    server: Half | undefined,
    connectionType: ConnectionType,
    sameSpan: boolean,
    clientName?: string,
    serverName?: string,
  ): void {
    const weight = sameSpan ? singleWeight(client!) : pairWeight(client, server, this.config.whole_traces);
    const clientService = clientName ?? client?.service ?? '';
    const serverService = serverName ?? server?.service ?? '';
    const failed = (client?.failed ?? false) || (server?.failed ?? false);
    if (weight === 0) this.outcome.outside_sample.inc();
    const s = this.seriesFor(clientService, serverService, connectionType);
    s.pairs++;
    s.requests += weight;
    s.variance += weight * (weight - 1);
    if (failed) s.failed += weight;
    const buckets = this.config.histogram_buckets;
    const serverSeconds = server?.seconds;
    if (serverSeconds !== undefined && weight > 0) observe(s.server, buckets, serverSeconds, weight);
    if (client && weight > 0) observe(s.client, buckets, client.seconds, weight);

    // Wall-clock on purpose: an edge counts in the minute of its span's start, and that is kept near now.
    const now = wallClockNow(this.clock);
    let at = client?.startMs ?? server?.startMs ?? now;
    if (!(at > now - this.config.history && at <= now + MINUTE_MS)) at = now;
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    let edges = this.minutes.get(minute);
    if (!edges) this.minutes.set(minute, (edges = new Map()));
    const clientVariant = client?.variant ?? '';
    const serverVariant = server && !sameSpan ? server.variant : '';
    const key = `${clientService}\u0000${serverService}\u0000${connectionType}\u0000${clientVariant}\u0000${serverVariant}`;
    let m = edges.get(key);
    if (!m) {
      if (edges.size >= this.config.max_edges) return;
      m = {
        client: clientService,
        server: serverService,
        connectionType,
        clientVariant,
        serverVariant,
        requests: 0,
        failed: 0,
        pairs: 0,
        variance: 0,
        serverSeconds: 0,
        serverWeight: 0,
      };
      edges.set(key, m);
    }
    m.pairs++;
    m.requests += weight;
    m.variance += weight * (weight - 1);
    if (failed) m.failed += weight;
    if (serverSeconds !== undefined) {
      m.serverSeconds += serverSeconds * weight;
      m.serverWeight += weight;
    }
  }

  private seriesFor(client: string, server: string, connectionType: ConnectionType): EdgeSeries {
    const key = `${client}\u0000${server}\u0000${connectionType}`;
    const known = this.series.get(key);
    if (known) return known;
    const full = this.series.size >= this.config.max_edges;
    if (full) {
      const overflow = this.series.get(OVERFLOW);
      if (overflow) return overflow;
      if (!this.warnedEdges) {
        this.warnedEdges = true;
        this.logger.warn(
          { max_edges: this.config.max_edges },
          `service graph: service_graph.max_edges series exist; further edges count under "${OVERFLOW}"`,
        );
      }
    }
    const labels = full
      ? { client: OVERFLOW, server: OVERFLOW, connection_type: OVERFLOW }
      : { client, server, connection_type: connectionType };
    const n = this.config.histogram_buckets.length;
    const s: EdgeSeries = {
      labels: { ...labels, ...this.config.labels },
      requests: 0,
      failed: 0,
      pairs: 0,
      variance: 0,
      server: { buckets: new Float64Array(n), sum: 0, count: 0 },
      client: { buckets: new Float64Array(n), sum: 0, count: 0 },
    };
    this.series.set(full ? OVERFLOW : key, s);
    return s;
  }

  private pruneMinutes(now: number): void {
    const oldest = now - this.config.history;
    for (const minute of this.minutes.keys()) if (minute + MINUTE_MS <= oldest) this.minutes.delete(minute);
  }

  /**
   * Nodes and edges with rates for `[startMs, endMs]`, from the per-minute totals (whole minutes overlapping the
   * window). `service` keeps the edges touching it; `byVariant` splits edges by the two sides' variants.
   */
  view(options: { startMs: number; endMs: number; service?: string; byVariant?: boolean }): ServiceGraphView {
    this.expire();
    // Wall-clock on purpose: the window is in span time (`start`/`end` of the request, the minutes of the totals).
    const now = wallClockNow(this.clock);
    const coveredFrom = now - this.config.history;
    const start = Math.max(options.startMs, Math.floor(coveredFrom / MINUTE_MS) * MINUTE_MS);
    const end = Math.min(options.endMs, now);
    const seconds = Math.max(1, (end - start) / 1000);
    const sum = new Map<string, MinuteEdge>();
    for (const [minute, edges] of this.minutes) {
      if (minute + MINUTE_MS <= start || minute > end) continue;
      for (const m of edges.values()) {
        if (options.service !== undefined && m.client !== options.service && m.server !== options.service)
          continue;
        const cv = options.byVariant ? m.clientVariant : '';
        const sv = options.byVariant ? m.serverVariant : '';
        const key = `${m.client}\u0000${m.server}\u0000${m.connectionType}\u0000${cv}\u0000${sv}`;
        let t = sum.get(key);
        if (!t) {
          t = { ...m, clientVariant: cv, serverVariant: sv };
          t.requests = t.failed = t.pairs = t.variance = t.serverSeconds = t.serverWeight = 0;
          sum.set(key, t);
        }
        t.requests += m.requests;
        t.failed += m.failed;
        t.pairs += m.pairs;
        t.variance += m.variance;
        t.serverSeconds += m.serverSeconds;
        t.serverWeight += m.serverWeight;
      }
    }
    const edges: ServiceGraphEdge[] = [];
    const nodes = new Map<string, { requests: number; failed: number; virtual: boolean }>();
    const node = (id: string, isVirtual: boolean) => {
      let n = nodes.get(id);
      if (!n) nodes.set(id, (n = { requests: 0, failed: 0, virtual: isVirtual }));
      else if (!isVirtual) n.virtual = false;
      return n;
    };
    for (const t of sum.values()) {
      const half = 1.96 * Math.sqrt(t.variance);
      edges.push({
        client: t.client,
        server: t.server,
        connectionType: t.connectionType,
        ...(options.byVariant ? { clientVariant: t.clientVariant, serverVariant: t.serverVariant } : {}),
        requests: t.requests,
        failed: t.failed,
        sampledPairs: t.pairs,
        requestsInterval95: [Math.max(t.pairs, t.requests - half), t.requests + half],
        requestRate: t.requests / seconds,
        errorRate: t.requests > 0 ? t.failed / t.requests : 0,
        meanServerSeconds: t.serverWeight > 0 ? t.serverSeconds / t.serverWeight : null,
      });
      const virtualServer = t.connectionType === 'virtual_node' && t.client !== 'user';
      const server = node(t.server, virtualServer || t.connectionType === 'database');
      server.requests += t.requests;
      server.failed += t.failed;
      node(t.client, t.client === 'user' && t.connectionType === 'virtual_node');
    }
    edges.sort((a, b) => a.client.localeCompare(b.client) || a.server.localeCompare(b.server));
    return {
      source: 'live',
      start,
      end,
      coveredFrom,
      nodes: [...nodes]
        .map(([id, n]) => ({
          id,
          requests: n.requests,
          failed: n.failed,
          requestRate: n.requests / seconds,
          errorRate: n.requests > 0 ? n.failed / n.requests : 0,
          virtual: n.virtual,
        }))
        .sort((a, b) => a.id.localeCompare(b.id)),
      edges,
    };
  }

  private registerTempoMetrics(metrics: Metrics): void {
    const registry = metrics.registry;
    const p = this.config.prefix;
    const all = () => [...this.series.values()];
    const counter = (name: string, help: string, value: (s: EdgeSeries) => number) =>
      registerCollectedMetric(registry, name, help, 'counter', () =>
        all().map((s) => ({ labels: s.labels, value: value(s) })),
      );
    counter(
      `${p}traces_service_graph_request_total`,
      'Requests between two services (Tempo name), estimated from the sample: each pair counts its inverse inclusion probability.',
      (s) => s.requests,
    );
    counter(
      `${p}traces_service_graph_request_failed_total`,
      'Requests between two services where either side had error status (Tempo name), estimated like request_total.',
      (s) => s.failed,
    );
    const bounds = this.config.histogram_buckets;
    const histogram = (name: string, help: string, side: (s: EdgeSeries) => LatencyTotals) =>
      registerCollectedMetric(registry, name, help, 'histogram', () => {
        const out: CollectedValue[] = [];
        for (const s of all()) {
          const t = side(s);
          pushHistogramSamples(out, name, s.labels, bounds, t.buckets, t.sum, t.count);
        }
        return out;
      });
    histogram(
      `${p}traces_service_graph_request_server_seconds`,
      'Server-side latency of requests between two services (Tempo name), weighted like request_total.',
      (s) => s.server,
    );
    histogram(
      `${p}traces_service_graph_request_client_seconds`,
      'Client-side latency of requests between two services (Tempo name), weighted like request_total.',
      (s) => s.client,
    );
    registerCollectedMetric(
      registry,
      'sentinel_store_service_graph_sampled_pairs_total',
      'Pairs seen in the sample per edge, unweighted (beside traces_service_graph_request_total, the estimate).',
      'counter',
      () => all().map((s) => ({ labels: s.labels, value: s.pairs })),
    );
    registerCollectedMetric(
      registry,
      'sentinel_store_service_graph_request_variance_total',
      'Sum of w(w-1) over the pairs of an edge: the variance estimate of request_total (its increase over a window is the variance of that window).',
      'counter',
      () => all().map((s) => ({ labels: s.labels, value: s.variance })),
    );
  }
}

/**
 * The Horvitz-Thompson weight of a pair: 1 / P(the sample holds both halves), from why each half was kept.
 * - Both halves probabilistic: every agent decides on the same trace-id hash, so both are kept iff the hash passes
 *   the stricter threshold: P = min(p), weight = max(w).
 * - A half kept by a rule (weight 1), with `whole_traces`: its agent published the trace on the decision feed,
 *   so every agent keeps it (its own probabilistic keep, or completion): P = 1, weight 1. Without the feed the
 *   other half is kept with its own p: weight = max(w).
 * - A completed half and no rule-kept half: the rule keep was elsewhere in the trace. The pair's P is 1, but the
 *   same pair is also seen as two probabilistic halves (weight max(w)) when the hash passes; counting it here too
 *   would count it twice (1 + p·w). Outside the sample: weight 0, as `sentinel compare` skips completed spans.
 */
export function pairWeight(client: Half | undefined, server: Half | undefined, wholeTraces: boolean): number {
  if (!client || !server) return singleWeight((client ?? server)!);
  if (client.inclusion === Inclusion.Completed || server.inclusion === Inclusion.Completed) {
    if (!wholeTraces) return 0;
    return client.inclusion === Inclusion.Certain || server.inclusion === Inclusion.Certain ? 1 : 0;
  }
  if (wholeTraces && (client.inclusion === Inclusion.Certain || server.inclusion === Inclusion.Certain))
    return 1;
  return Math.max(client.weight, server.weight);
}

/** A one-span edge (virtual node, database, root): the span's own weight; a completed span is outside the sample. */
function singleWeight(half: Half): number {
  return half.inclusion === Inclusion.Completed ? 0 : half.weight;
}

/**
 * One half from its span, reading the attributes in one pass: `sampling.weight`, `sampling.completed`, the first
 * present `peer_attributes` value, and whether it calls a database (`db.name`, else `db.system`).
 */
function halfOf(
  span: Span,
  service: string,
  variant: string,
  peerAttributes: readonly string[],
): { half: Half; db: string | undefined } {
  let weight = 1;
  let completed = false;
  let peer = '';
  let peerRank = peerAttributes.length;
  let dbName: string | undefined;
  let dbSystem: string | undefined;
  for (const { key, value } of span.attributes) {
    if (key === WEIGHT) {
      if (value.kind === 'double') weight = value.value;
      else if (value.kind === 'int') weight = Number(value.value);
    } else if (key === COMPLETED) {
      completed = value.kind === 'bool' && value.value;
    } else if (value.kind === 'string' && value.value !== '') {
      if (key === 'db.name') dbName ??= value.value;
      else if (key === 'db.system') dbSystem ??= value.value;
      const rank = peerAttributes.indexOf(key);
      if (rank >= 0 && rank < peerRank) {
        peerRank = rank;
        peer = value.value;
      }
    }
  }
  if (!(weight >= 1) || !Number.isFinite(weight)) weight = 1;
  const inclusion = completed
    ? Inclusion.Completed
    : weight > 1
      ? Inclusion.Probabilistic
      : Inclusion.Certain;
  const ns = span.endTimeUnixNano - span.startTimeUnixNano;
  const half: Half = {
    service,
    variant,
    inclusion,
    weight: inclusion === Inclusion.Completed ? 1 : weight,
    failed: span.status.code === StatusCode.ERROR,
    seconds: ns > 0n ? Number(ns) / 1e9 : 0,
    startMs: Number(span.startTimeUnixNano / 1_000_000n),
    peer,
  };
  return { half, db: dbName ?? dbSystem };
}

function observe(t: LatencyTotals, bounds: readonly number[], seconds: number, weight: number): void {
  const b = bucketIndex(bounds, seconds);
  if (b >= 0) t.buckets[b]! += weight;
  t.sum += seconds * weight;
  t.count += weight;
}
