/**
 * The other replicas' spans not yet in a block (docs/query-api.md "Several replicas"). With several store
 * replicas each agent writes to one of them, and a replica's spans reach the shared bucket only when its block is
 * cut (`block.max_age`, 1 minute in the chart) and the others re-read the block list (`query.refresh_interval`).
 * Until then a lookup or search on one replica would miss the spans another holds: Tempo's querier asks every
 * ingester for the same reason. Here the replica that takes the request asks the others, in parallel and within
 * `query.peers.timeout`: for the spans of a trace they have not written to a block
 * (`GET /api/internal/pending/traces/{id}`, OTLP protobuf), or to run a search over those spans
 * (`POST /api/internal/pending/search`, the parsed query as JSON); the query engine merges the answers.
 *
 * A replica that does not answer, or answers with an error, is left out of that answer: the request still gets
 * what the others hold, the failure is counted in `sentinel_store_query_peer_requests_total{operation, result}`
 * and logged at most once per WARN_INTERVAL_MS.
 */
import { networkInterfaces } from 'node:os';
import { systemClock, type Clock } from '../clock.js';
import {
  ReplicaSource,
  StoreHttpClient,
  StoreRequestError,
  type Replica,
  type ResolveHost,
} from '../http/index.js';
import { decodeTraceRequest } from '../otlp/index.js';
import { flattenTraceData, type StoredSpan } from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { SearchQuery } from './query-engine.js';
import { encodeSearchQuery } from './search-query-json.js';
import type { SearchResult } from './trace-search.js';

/** The route a replica answers its peers on: its spans of one trace not yet in a block. */
export const PEER_PENDING_TRACE_PATH = '/api/internal/pending/traces';
/** The route a replica answers its peers' searches on, over its spans not yet in a block (POST, JSON). */
export const PEER_PENDING_SEARCH_PATH = '/api/internal/pending/search';
/** The peer route's body: an ExportTraceServiceRequest. */
export const PEER_PENDING_CONTENT_TYPE = 'application/x-protobuf';

/** The store's spans not in a block, from the replicas other than this one. */
export interface PeerSpans {
  /** Their spans of one trace. */
  traceRows(traceId: string): Promise<StoredSpan[]>;
  /** Their results of a search over those spans (one per replica that answered). */
  search(q: SearchQuery): Promise<SearchResult[]>;
}

export interface PeerSpansOptions {
  /** `query.peers.urls`. */
  readonly urls: readonly string[];
  /** `query.peers.dns`. */
  readonly dns: string;
  readonly timeoutMs: number;
  readonly bearerTokenFile?: string | undefined;
  readonly tls?: { readonly caFile: string; readonly insecureSkipVerify: boolean } | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Tests replace DNS. */
  readonly resolve?: ResolveHost | undefined;
  /** This host's addresses (tests); by default its network interfaces'. */
  readonly ownAddresses?: () => readonly string[];
  /** A peer's answer larger than this is refused (counted as `bad_response`). */
  readonly maxResponseBytes?: number;
  readonly clock?: Clock;
}

/** Why a peer request failed, or `ok`: the `result` label of `store_query_peer_requests_total`. */
type PeerResult = 'ok' | 'network' | 'timeout' | 'status' | 'bad_response' | 'dns';
/** What was asked: the `operation` label. */
type PeerOperation = 'trace' | 'search';

/** A trace's pending spans on one replica are seldom more than a few thousand: 64 MiB is far past any. */
const MAX_PEER_RESPONSE_BYTES = 64 * 1024 * 1024;
/** The replicas are looked up again at most this often: Grafana sends lookups in bursts. */
const REPLICAS_TTL_MS = 5_000;
/** A failing replica is logged at most this often. */
const WARN_INTERVAL_MS = 30_000;
/** Replicas whose last warning time is kept (a StatefulSet's addresses change as pods come and go). */
const MAX_WARNED_REPLICAS = 256;

export class PeerReplicas implements PeerSpans {
  private readonly source: ReplicaSource;
  private readonly http: StoreHttpClient;
  private readonly requests;
  private readonly clock: Clock;
  /** This replica's query URL, once its server listens: left out of the peers (a headless Service lists it). */
  private self: { port: number; addresses: ReadonlySet<string> } | undefined;
  private cached: { at: number; replicas: Replica[] } | undefined;
  /** When each failing replica (or the DNS name) was last logged. */
  private readonly warnedAt = new Map<string, number>();

  constructor(private readonly options: PeerSpansOptions) {
    this.clock = options.clock ?? systemClock;
    this.source = new ReplicaSource({
      urls: options.urls,
      dns: options.dns,
      dnsKey: 'query.peers.dns',
      resolve: options.resolve,
    });
    this.http = new StoreHttpClient({
      bearerTokenFile: options.bearerTokenFile,
      tls: options.tls,
      caFileKey: 'query.peers.tls.ca_file',
      timeoutMs: options.timeoutMs,
      maxResponseBytes: options.maxResponseBytes ?? MAX_PEER_RESPONSE_BYTES,
    });
    this.requests = options.metrics.counter(
      'store_query_peer_requests_total',
      'Requests this replica made to the other replicas for their spans not in a block yet (query.peers), by operation (trace, search) and result: ok, or why it failed (network, timeout, status, bad_response, dns).',
      ['operation', 'result'],
    );
  }

  /** Called once the query server listens: a replica at this port on one of this host's addresses is this one. */
  listening(port: number): void {
    const own = this.options.ownAddresses?.() ?? interfaceAddresses();
    this.self = { port, addresses: new Set(own) };
    this.cached = undefined;
  }

  async traceRows(traceId: string): Promise<StoredSpan[]> {
    const answers = await this.askAll('trace', (replica) => this.traceOf(replica, traceId));
    return answers.flat();
  }

  search(q: SearchQuery): Promise<SearchResult[]> {
    const body = Buffer.from(encodeSearchQuery(q));
    return this.askAll('search', (replica) => this.searchOn(replica, body));
  }

  close(): void {
    this.http.close();
  }

  /** `ask` of every other replica in parallel; those that fail are left out (counted and logged). */
  private async askAll<T>(operation: PeerOperation, ask: (replica: Replica) => Promise<T>): Promise<T[]> {
    let replicas: Replica[];
    try {
      replicas = await this.replicas();
    } catch (err) {
      this.requests.inc({ operation, result: 'dns' });
      this.warnOnce(
        this.options.dns,
        { err: (err as Error).message, dns: this.options.dns, operation },
        'query.peers: resolving the other replicas failed; answering with this replica and the blocks',
      );
      return [];
    }
    const answers = await Promise.all(
      replicas.map(async (replica): Promise<T[]> => {
        let result: PeerResult = 'ok';
        try {
          // The whole exchange within the timeout (the client's own deadline is for a silent connection).
          return [await this.withTimeout(ask(replica), () => new StoreRequestError('timeout', 'no answer'))];
        } catch (err) {
          result = err instanceof StoreRequestError ? err.reason : 'network';
          this.warnOnce(
            replica.url,
            { err: (err as Error).message, replica: replica.url, operation },
            'query.peers: a replica did not answer for its spans not in a block yet; answers lack them meanwhile (sentinel_store_query_peer_requests_total counts each)',
          );
          return [];
        } finally {
          this.requests.inc({ operation, result });
        }
      }),
    );
    return answers.flat();
  }

  private async traceOf(replica: Replica, traceId: string): Promise<StoredSpan[]> {
    const res = await this.http.request(new URL(`${PEER_PENDING_TRACE_PATH}/${traceId}`, replica.url + '/'), {
      method: 'GET',
      headers: { accept: PEER_PENDING_CONTENT_TYPE },
      servername: replica.servername,
    });
    try {
      return flattenTraceData(decodeTraceRequest(res.body));
    } catch (err) {
      throw new StoreRequestError('bad_response', `${replica.url}: ${(err as Error).message}`);
    }
  }

  private async searchOn(replica: Replica, body: Buffer): Promise<SearchResult> {
    const res = await this.http.request(new URL(PEER_PENDING_SEARCH_PATH, replica.url + '/'), {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body,
      servername: replica.servername,
    });
    let result: Partial<SearchResult> | null;
    try {
      result = JSON.parse(res.body.toString('utf8')) as Partial<SearchResult> | null;
    } catch (err) {
      throw new StoreRequestError('bad_response', `${replica.url}: ${(err as Error).message}`);
    }
    if (
      !result ||
      !Array.isArray(result.traces) ||
      !result.traces.every(isHit) ||
      typeof result.metrics !== 'object' ||
      result.metrics === null
    )
      throw new StoreRequestError(
        'bad_response',
        `${replica.url}: expected a search result with traces (traceID, startTimeUnixNano, durationMs, spanSets) and metrics`,
      );
    return result as SearchResult;
  }

  /** The other replicas, looked up within the timeout and kept for REPLICAS_TTL_MS. */
  private async replicas(): Promise<Replica[]> {
    const now = this.clock.now();
    if (this.cached !== undefined && now - this.cached.at < REPLICAS_TTL_MS) return this.cached.replicas;
    const all = await this.withTimeout(this.source.replicas());
    const replicas = all.filter((r) => !this.isSelf(r));
    this.cached = { at: now, replicas };
    return replicas;
  }

  /** `p`, or a rejection after `timeoutMs` (a DNS server that does not answer must not hold the lookup). */
  private withTimeout<T>(p: Promise<T>, timeoutError?: () => Error): Promise<T> {
    const ms = this.options.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(timeoutError?.() ?? new Error(`no answer in ${ms} ms`)),
        ms,
      );
      p.then(
        (v) => {
          this.clock.clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          this.clock.clearTimeout(timer);
          reject(err as Error);
        },
      );
    });
  }

  /**
   * A failure logged at most once per WARN_INTERVAL_MS for each `key` (a replica's URL, or the DNS name): a replica
   * down through a rollout, or a name that does not resolve, would otherwise write a line for every lookup Grafana
   * makes. The counter has every failure.
   */
  private warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    const now = this.clock.now();
    const last = this.warnedAt.get(key);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) return;
    if (this.warnedAt.size >= MAX_WARNED_REPLICAS) this.warnedAt.clear();
    this.warnedAt.set(key, now);
    this.options.logger.warn(fields, message);
  }

  private isSelf(replica: Replica): boolean {
    const self = this.self;
    if (self === undefined) return false;
    const u = new URL(replica.url);
    const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
    return port === self.port && self.addresses.has(u.hostname.replace(/^\[|\]$/g, ''));
  }
}

/** A search hit as mergeSearchResults reads it. */
function isHit(h: unknown): boolean {
  const o = h as Record<string, unknown> | null;
  return (
    o !== null &&
    typeof o === 'object' &&
    typeof o['traceID'] === 'string' &&
    typeof o['startTimeUnixNano'] === 'string' &&
    /^\d{1,20}$/.test(o['startTimeUnixNano']) &&
    typeof o['durationMs'] === 'number' &&
    Array.isArray(o['spanSets']) &&
    o['spanSets'].every(
      (set: { spans?: unknown; matched?: unknown } | null) =>
        set !== null && Array.isArray(set.spans) && typeof set.matched === 'number',
    )
  );
}

/** Every address of this host's network interfaces (a pod's IP among them). */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}
