import type { Metric, Registry } from 'prom-client';

/** One sample of a collected metric, in prom-client's `get()` shape. */
export interface CollectedValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  /** For histograms: the `_bucket` / `_sum` / `_count` series name. */
  readonly metricName?: string;
}

/**
 * Registers a metric whose samples are computed only when /metrics is scraped, from totals a component keeps
 * itself: prom-client's labelled `inc`/`observe` hash and validate the label object on every call (microseconds per
 * span), and its histograms cannot take a weighted observation.
 */
export function registerCollectedMetric(
  registry: Registry,
  name: string,
  help: string,
  type: 'counter' | 'gauge' | 'histogram',
  values: () => CollectedValue[],
): void {
  registry.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  } as unknown as Metric);
}

/**
 * Appends the samples of one histogram series: cumulative `_bucket` per bound and `+Inf`, `_sum`, `_count`.
 * `perBucket[i]` holds what fell in bucket i only (not cumulative); `count` includes what fell beyond the last.
 */
export function pushHistogramSamples(
  out: CollectedValue[],
  name: string,
  labels: Readonly<Record<string, string | number>>,
  bounds: readonly number[],
  perBucket: Float64Array,
  sum: number,
  count: number,
): void {
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += perBucket[i]!;
    out.push({ labels: { ...labels, le: bounds[i]! }, value: cumulative, metricName: `${name}_bucket` });
  }
  out.push(
    { labels: { ...labels, le: '+Inf' }, value: count, metricName: `${name}_bucket` },
    { labels, value: sum, metricName: `${name}_sum` },
    { labels, value: count, metricName: `${name}_count` },
  );
}

/** The first bucket whose upper bound (inclusive, as Prometheus' `le`) holds `value`; -1 beyond the last. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) return i;
  return -1;
}

/**
 * An unlabelled histogram kept in plain numbers and rendered when /metrics is scraped: prom-client's `observe`
 * hashes a label object on every call (3 % of the agent's main thread at full speed when the sampler observed
 * each trace's decision latency, issue 13).
 */
export class PlainHistogram {
  private readonly perBucket: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.perBucket = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const i = bucketIndex(this.bounds, value);
    if (i >= 0) this.perBucket[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The series' samples under `name`, as prom-client renders a histogram. */
  samples(name: string): CollectedValue[] {
    const out: CollectedValue[] = [];
    pushHistogramSamples(out, name, {}, this.bounds, this.perBucket, this.sum, this.count);
    return out;
  }
}
