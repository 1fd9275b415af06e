import type { AgentConfig } from '../config/index.js';
import {
  DEPLOYMENT_VARIANT_ATTRIBUTE,
  stringAttribute,
  type TraceBatch,
  type TraceConsumer,
  type WireResource,
  type WireSpans,
  forwardSignals,
  type SignalBatch,
} from '../otlp/index.js';
import type { Registry } from 'prom-client';
import { encodeSpanMetrics } from './span-metrics-otlp.js';
import {
  METRIC_PREFIX,
  pushHistogramSamples,
  registerCollectedMetric,
  type CollectedValue,
  type Logger,
  type Metrics,
} from '../telemetry/index.js';

export type MeasureConfig = AgentConfig['measure'];

/**
 * The Collector spanmetrics connector's default explicit buckets (`defaultHistogramBucketsMs`: 2 ms ... 15 s),
 * in seconds, so dashboards built for the connector read Sentinel's histogram unchanged.
 */
export const SPANMETRICS_BUCKETS_SECONDS: readonly number[] = [
  2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10_000, 15_000,
].map((ms) => ms / 1000);

/** The value of every label of the series that takes spans once `max_series` label sets exist. */
export const OVERFLOW_LABEL_VALUE = 'otel_metric_overflow';

const SPAN_KIND_LABELS = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
];
const STATUS_CODE_LABELS = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
const KIND_NUMBERS: Record<string, number> = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
};

type Label = 'service' | 'span_name' | 'span_kind' | 'status_code' | 'variant';
type Labels = Record<Label, string>;

/** One label set's running totals; buckets are per bucket (not cumulative) until exposition. */
interface Series {
  readonly labels: Labels;
  count: number;
  sum: number;
  readonly buckets: Float64Array;
  /** The spans' (enriched) Resource message, for the OTLP export of span metrics (issue 16). */
  resource?: Uint8Array | undefined;
}

const OVERFLOW_LABELS: Labels = {
  service: OVERFLOW_LABEL_VALUE,
  span_name: OVERFLOW_LABEL_VALUE,
  span_kind: OVERFLOW_LABEL_VALUE,
  status_code: OVERFLOW_LABEL_VALUE,
  variant: OVERFLOW_LABEL_VALUE,
};

const CALLS = `${METRIC_PREFIX}spanmetrics_calls_total`;
const DURATION = `${METRIC_PREFIX}spanmetrics_duration_seconds`;

/** Tempo's metrics-generator names (issue 19), which Grafana's APM table queries. */
const TEMPO_CALLS = 'traces_spanmetrics_calls_total';
const TEMPO_LATENCY = 'traces_spanmetrics_latency';

/**
 * The series of one registry. prom-client hashes and validates the label object on every `inc`/`observe`
 * (2.5 + 3.6 us per span with these five labels, measured), more than decoding the span costs; so the stage
 * keeps its own totals and renders them only when /metrics is scraped, as collectors in the registry: under
 * Sentinel's names, Tempo's (`measure.naming`), or both. Stages sharing a registry share the series.
 */
class SpanMetricsState {
  readonly series = new Map<string, Series>();
  overflow: Series | undefined;

  constructor(registry: Registry, config: MeasureConfig) {
    const all = () => (this.overflow ? [...this.series.values(), this.overflow] : [...this.series.values()]);
    const register = (calls: string, duration: string, extra: Readonly<Record<string, string>>) => {
      const labelsOf = (s: Series) => ({ ...s.labels, ...extra });
      registerCollectedMetric(
        registry,
        calls,
        'Spans received, before sampling, by service, span name, kind, status and deployment variant.',
        'counter',
        () => all().map((s) => ({ labels: labelsOf(s), value: s.count })),
      );
      registerCollectedMetric(
        registry,
        duration,
        'Span durations, before sampling (the Collector spanmetrics default buckets).',
        'histogram',
        () => {
          const out: CollectedValue[] = [];
          for (const s of all())
            pushHistogramSamples(
              out,
              duration,
              labelsOf(s),
              SPANMETRICS_BUCKETS_SECONDS,
              s.buckets,
              s.sum,
              s.count,
            );
          return out;
        },
      );
    };
    if (config.naming !== 'tempo') register(CALLS, DURATION, {});
    if (config.naming !== 'sentinel') register(TEMPO_CALLS, TEMPO_LATENCY, config.tempo_labels);
  }
}

const states = new WeakMap<Registry, SpanMetricsState>();

/** A resource's series by span name, then `kind * 3 + status code`. */
interface ResourceSeries {
  readonly service: string;
  readonly variant: string;
  readonly byName: Map<string, Series[]>;
}

function newSeries(labels: Labels): Series {
  return { labels, count: 0, sum: 0, buckets: new Float64Array(SPANMETRICS_BUCKETS_SECONDS.length) };
}

export interface SpanMetricsOptions {
  readonly next: TraceConsumer;
  readonly config: MeasureConfig;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** The spans of one request, measured before the next stage takes it: `series[i]` and `seconds[i]`, i < n. */
interface Measured {
  readonly series: Series[];
  readonly seconds: number[];
  n: number;
}
/** Measured lists kept for reuse at most, and the longest kept (a huge request's are let go). */
const MAX_SPARE_MEASURED = 8;
const MAX_KEPT_MEASURED = 4096;

/**
 * The measure stage: RED metrics per (service, span name, kind, status, variant) for every span the agent
 * receives, counted before tail sampling so that they are exact whatever the sampler later drops. The batch is
 * passed on untouched. Label values use the Collector spanmetrics connector's spelling (`SPAN_KIND_SERVER`,
 * `STATUS_CODE_ERROR`) so that its dashboards and the PromQL in docs/canary.md apply as they are.
 */
export class SpanMetricsStage implements TraceConsumer {
  private readonly next: TraceConsumer;
  private readonly kinds: ReadonlySet<number>;
  private readonly maxSeries: number;
  private readonly logger: Logger;
  private readonly state: SpanMetricsState;
  /** Logs and metrics pass through untouched (issue 16). */
  readonly consumeLogs?: (batch: SignalBatch) => Promise<void>;
  readonly consumeMetrics?: (batch: SignalBatch) => Promise<void>;
  private readonly otlpTimer: NodeJS.Timeout | undefined;
  private readonly startNs = BigInt(Date.now()) * 1_000_000n;
  private otlpFailing = false;
  /** Series by resource, span name, kind and status on the byte path (interned resources are stable keys). */
  private readonly byResource = new WeakMap<WireResource, ResourceSeries>();
  /** Emptied `Measured` lists for the next requests (requests overlap: each has its own while it is in flight). */
  private readonly spareMeasured: Measured[] = [];

  constructor(options: SpanMetricsOptions) {
    this.next = options.next;
    Object.assign(this, forwardSignals(options.next));
    this.logger = options.logger;
    this.kinds = new Set(options.config.span_kinds.map((k) => KIND_NUMBERS[k] ?? -1));
    this.maxSeries = options.config.max_series;
    const registry = options.metrics.registry;
    let state = states.get(registry);
    if (!state) states.set(registry, (state = new SpanMetricsState(registry, options.config)));
    this.state = state;
    const interval = options.config.otlp_interval;
    if (interval > 0 && options.next.consumeMetrics) {
      this.otlpTimer = setInterval(() => void this.exportOtlp(), interval);
      this.otlpTimer.unref();
    }
  }

  /**
   * Sends the span metrics down the pipeline as OTLP metrics (issue 16, `measure.otlp_interval`): cumulative, so
   * a send that fails loses nothing the next one does not carry.
   */
  async exportOtlp(): Promise<void> {
    const next = this.next.consumeMetrics;
    if (!next) return;
    const all = [...this.state.series.values()];
    if (this.state.overflow) all.push(this.state.overflow);
    if (all.length === 0) return;
    const { request, points } = encodeSpanMetrics(
      all,
      SPANMETRICS_BUCKETS_SECONDS,
      this.startNs,
      BigInt(Date.now()) * 1_000_000n,
    );
    try {
      await next.call(this.next, { encoded: request, itemCount: points, bytes: request.length * 2 });
      this.otlpFailing = false;
    } catch (err) {
      if (!this.otlpFailing)
        this.logger.warn({ err }, 'span metrics: the OTLP send was refused; the next one carries the totals');
      this.otlpFailing = true;
    }
  }

  /**
   * Reads the spans before the sampler sees them (it may regroup and drop them), but adds them to the totals only
   * once the next stage has taken the batch: a refused batch is retried by the client and must not count twice.
   */
  async consume(batch: TraceBatch): Promise<void> {
    const measured = this.measure(batch);
    try {
      await this.next.consume(batch);
      for (let i = 0; i < measured.n; i++) {
        const series = measured.series[i]!;
        const seconds = measured.seconds[i]!;
        series.count++;
        series.sum += seconds;
        const b = bucketIndex(seconds);
        if (b >= 0) series.buckets[b]!++;
      }
    } finally {
      // Kept for the next request (two arrays grown per request were most of this stage's allocations), unless large.
      measured.n = 0;
      if (this.spareMeasured.length < MAX_SPARE_MEASURED && measured.series.length <= MAX_KEPT_MEASURED)
        this.spareMeasured.push(measured);
    }
  }

  bufferedBytes(): number {
    return this.next.bufferedBytes();
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.otlpTimer) {
      clearInterval(this.otlpTimer);
      await this.exportOtlp();
    }
    await this.next.shutdown();
  }

  private measure(batch: TraceBatch): Measured {
    const out = this.spareMeasured.pop() ?? { series: [], seconds: [], n: 0 };
    if (batch.wire) {
      this.measureWire(batch.wire, out);
      return out;
    }
    for (const rs of batch.data.resourceSpans) {
      const service = stringAttribute(rs.resource.attributes, 'service.name') ?? '';
      const variant = stringAttribute(rs.resource.attributes, DEPLOYMENT_VARIANT_ATTRIBUTE) ?? '';
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          if (!this.kinds.has(span.kind)) continue;
          const series = this.seriesFor(
            service,
            span.name,
            SPAN_KIND_LABELS[span.kind] ?? String(span.kind),
            STATUS_CODE_LABELS[span.status.code] ?? String(span.status.code),
            variant,
          );
          // A span whose end precedes its start (clock skew across hosts) counts as 0 s, not a negative bucket.
          const ns = span.endTimeUnixNano - span.startTimeUnixNano;
          out.series[out.n] = series;
          out.seconds[out.n++] = ns > 0n ? Number(ns) / 1e9 : 0;
        }
      }
    }
    return out;
  }

  /** The byte path (issue 13): the same labels and durations, from the scanner's columns. */
  private measureWire(spans: WireSpans, out: Measured): void {
    const names = spans.names ?? [];
    let lastResource: WireResource | undefined;
    let byName: ResourceSeries | undefined;
    for (let i = 0; i < spans.count; i++) {
      const kind = spans.kinds[i] as number;
      if (!this.kinds.has(kind)) continue;
      const resource = spans.scope(i).resource;
      if (resource !== lastResource) {
        lastResource = resource;
        byName = this.resourceSeries(resource);
      }
      const rs = byName as ResourceSeries;
      const code = spans.statusCodes[i] as number;
      const name = names[i] ?? '';
      // The series of (name, kind, status) under this resource, found without building the label key: the key
      // string per span was a fifth of this stage's allocations at 10k spans/s.
      const slot = kind <= 5 && code <= 2 ? kind * 3 + code : -1;
      let slots = rs.byName.get(name);
      let series = slot >= 0 && slots !== undefined ? slots[slot] : undefined;
      if (series === undefined) {
        series = this.seriesFor(
          rs.service,
          name,
          SPAN_KIND_LABELS[kind] ?? String(kind),
          STATUS_CODE_LABELS[code] ?? String(code),
          rs.variant,
        );
        if (slot >= 0) {
          if (slots === undefined) {
            // Span names may be unbounded (ids in names): past max_series names the shortcut starts over.
            if (rs.byName.size >= this.maxSeries) rs.byName.clear();
            slots = [];
            rs.byName.set(name, slots);
          }
          slots[slot] = series;
        }
      }
      if (series !== this.state.overflow) series.resource ??= resource.resource;
      out.series[out.n] = series;
      out.seconds[out.n++] = (spans.durationsNs[i] as number) / 1e9;
    }
  }

  /** The per-resource shortcut to series: service and variant read once per resource. */
  private resourceSeries(resource: WireResource): ResourceSeries {
    let rs = this.byResource.get(resource);
    if (rs === undefined) {
      rs = {
        service: resource.serviceName,
        variant: stringAttribute(resource.attributes, DEPLOYMENT_VARIANT_ATTRIBUTE) ?? '',
        byName: new Map(),
      };
      this.byResource.set(resource, rs);
    }
    return rs;
  }

  private seriesFor(
    service: string,
    spanName: string,
    kind: string,
    status: string,
    variant: string,
  ): Series {
    const key = `${service}\u0000${spanName}\u0000${kind}\u0000${status}\u0000${variant}`;
    const state = this.state;
    const known = state.series.get(key);
    if (known) return known;
    if (state.series.size >= this.maxSeries) {
      if (!state.overflow) {
        this.logger.warn(
          { max_series: this.maxSeries },
          `span metrics reached measure.max_series; further label sets are counted under "${OVERFLOW_LABEL_VALUE}"`,
        );
        state.overflow = newSeries(OVERFLOW_LABELS);
      }
      return state.overflow;
    }
    const series = newSeries({ service, span_name: spanName, span_kind: kind, status_code: status, variant });
    state.series.set(key, series);
    return series;
  }
}

/** The first bucket whose upper bound (inclusive, as Prometheus' `le`) holds `seconds`; -1 beyond the last. */
function bucketIndex(seconds: number): number {
  const bounds = SPANMETRICS_BUCKETS_SECONDS;
  for (let i = 0; i < bounds.length; i++) if (seconds <= bounds[i]!) return i;
  return -1;
}
