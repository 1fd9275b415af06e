import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PlainHistogram, registerCollectedMetric } from './collected-metric.js';
import { PROM_CLIENT_IDLE_PRECISION_MS, registerEventLoopLag } from './event-loop-lag.js';

/** Every Sentinel metric carries this prefix (CONTRACT.md). */
export const METRIC_PREFIX = 'sentinel_';

/**
 * A registry for one Sentinel process (or one instance inside a test). Components get or create their
 * metrics here, so two components that share a metric name share the series instead of colliding.
 */
export class Metrics {
  readonly registry: Registry;
  private readonly plain = new Map<string, PlainHistogram>();

  constructor(options: { processMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (options.processMetrics) {
      // prom-client's event-loop monitor wakes the process every 10 ms: its series come from one sampled every
      // 100 ms instead (event-loop-lag.ts; issue 13, the idle agent's CPU).
      collectDefaultMetrics({
        register: this.registry,
        eventLoopMonitoringPrecision: PROM_CLIENT_IDLE_PRECISION_MS,
      });
      registerEventLoopLag(this.registry);
    }
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const full = METRIC_PREFIX + name;
    const existing = this.registry.getSingleMetric(full);
    if (existing) return existing as Counter<L>;
    return new Counter<L>({ name: full, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Gauge<L>) => void,
  ): Gauge<L> {
    const full = METRIC_PREFIX + name;
    const existing = this.registry.getSingleMetric(full);
    if (existing) return existing as Gauge<L>;
    return new Gauge<L>({
      name: full,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect ? { collect } : {}),
    });
  }

  /**
   * A gauge without labels whose value `read` gives when /metrics is scraped (nothing is set on the hot path: a
   * gauge set per pass made prom-client an entry and a label object each time).
   */
  readGauge(name: string, help: string, read: () => number): void {
    this.gauge(name, help, [], function collect() {
      this.set(read());
    });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    const full = METRIC_PREFIX + name;
    const existing = this.registry.getSingleMetric(full);
    if (existing) return existing as Histogram<L>;
    return new Histogram<L>({
      name: full,
      help,
      labelNames,
      registers: [this.registry],
      ...(buckets ? { buckets } : {}),
    });
  }

  /**
   * An unlabelled histogram for a hot path (`PlainHistogram`): plain numbers, rendered when scraped. Components
   * asking for the same name share it, as they share prom-client metrics.
   */
  plainHistogram(name: string, help: string, buckets: readonly number[]): PlainHistogram {
    const full = METRIC_PREFIX + name;
    let h = this.plain.get(full);
    if (h === undefined) {
      const created = new PlainHistogram(buckets);
      registerCollectedMetric(this.registry, full, help, 'histogram', () => created.samples(full));
      this.plain.set(full, (h = created));
    }
    return h;
  }

  /** The current value of a counter or gauge series, for tests and the debug exporter. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(METRIC_PREFIX + name);
    if (!metric) return 0;
    const data = await metric.get();
    let sum = 0;
    for (const v of data.values) {
      const l = v.labels as Record<string, string | number>;
      if ('metricName' in v && v.metricName !== undefined && v.metricName !== METRIC_PREFIX + name) continue;
      if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
    }
    return sum;
  }
}
