import type { AgentConfig } from '../config/index.js';
import { stringAttribute, type TraceBatch, type TraceConsumer } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';

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

const OVERFLOW_LABELS: Labels = {
  service: OVERFLOW_LABEL_VALUE,
  span_name: OVERFLOW_LABEL_VALUE,
  span_kind: OVERFLOW_LABEL_VALUE,
  status_code: OVERFLOW_LABEL_VALUE,
  variant: OVERFLOW_LABEL_VALUE,
};

export interface SpanMetricsOptions {
  readonly next: TraceConsumer;
  readonly config: MeasureConfig;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * The measure stage: RED metrics per (service, span name, kind, status, variant) for every span the agent
 * receives, counted before tail sampling so that they are exact whatever the sampler later drops. The batch is
 * passed on untouched. Label values use the Collector spanmetrics connector's spelling (`SPAN_KIND_SERVER`,
 * `STATUS_CODE_ERROR`) so that its dashboards and the PromQL in the README apply as they are.
 */
export class SpanMetricsStage implements TraceConsumer {
  private readonly next: TraceConsumer;
  private readonly kinds: ReadonlySet<number>;
  private readonly maxSeries: number;
  private readonly logger: Logger;
  private readonly calls;
  private readonly duration;
  /** Label sets already counted, keyed by their joined values, so the limit is checked without prom-client. */
  private readonly series = new Map<string, Labels>();
  private overflowWarned = false;

  constructor(options: SpanMetricsOptions) {
    this.next = options.next;
    this.logger = options.logger;
    this.kinds = new Set(options.config.span_kinds.map((k) => KIND_NUMBERS[k] ?? -1));
    this.maxSeries = options.config.max_series;
    const labels: Label[] = ['service', 'span_name', 'span_kind', 'status_code', 'variant'];
    this.calls = options.metrics.counter(
      'spanmetrics_calls_total',
      'Spans received, before sampling, by service, span name, kind, status and deployment variant.',
      labels,
    );
    this.duration = options.metrics.histogram(
      'spanmetrics_duration_seconds',
      'Span durations, before sampling (the Collector spanmetrics default buckets).',
      labels,
      [...SPANMETRICS_BUCKETS_SECONDS],
    );
  }

  consume(batch: TraceBatch): Promise<void> {
    this.measure(batch);
    return this.next.consume(batch);
  }

  bufferedBytes(): number {
    return this.next.bufferedBytes();
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }

  private measure(batch: TraceBatch): void {
    for (const rs of batch.data.resourceSpans) {
      const service = stringAttribute(rs.resource.attributes, 'service.name') ?? '';
      const variant = stringAttribute(rs.resource.attributes, 'deployment.variant') ?? '';
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          if (!this.kinds.has(span.kind)) continue;
          const labels = this.labelsFor(
            service,
            span.name,
            SPAN_KIND_LABELS[span.kind] ?? String(span.kind),
            STATUS_CODE_LABELS[span.status.code] ?? String(span.status.code),
            variant,
          );
          this.calls.inc(labels);
          // A span whose end precedes its start (clock skew across hosts) counts as 0 s, not a negative bucket.
          const ns = span.endTimeUnixNano - span.startTimeUnixNano;
          this.duration.observe(labels, ns > 0n ? Number(ns) / 1e9 : 0);
        }
      }
    }
  }

  private labelsFor(
    service: string,
    spanName: string,
    kind: string,
    status: string,
    variant: string,
  ): Labels {
    const key = `${service}\u0000${spanName}\u0000${kind}\u0000${status}\u0000${variant}`;
    const known = this.series.get(key);
    if (known) return known;
    if (this.series.size >= this.maxSeries) {
      if (!this.overflowWarned) {
        this.overflowWarned = true;
        this.logger.warn(
          { max_series: this.maxSeries },
          `span metrics reached measure.max_series; further label sets are counted under "${OVERFLOW_LABEL_VALUE}"`,
        );
      }
      return OVERFLOW_LABELS;
    }
    const labels: Labels = { service, span_name: spanName, span_kind: kind, status_code: status, variant };
    this.series.set(key, labels);
    return labels;
  }
}
