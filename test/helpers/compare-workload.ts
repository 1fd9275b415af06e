import type { CompareSpan } from '../../src/compare/compare-spans.js';
import { rng } from './store-spans.js';

/** A standard normal draw (Box-Muller) from a seeded uniform source. */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}

export interface WorkloadOptions {
  readonly seed: number;
  /** Spans per variant. */
  readonly spans: number;
  readonly baselineErrorRate?: number;
  readonly canaryErrorRate?: number;
  /** Applied to each canary duration (ns) drawn from the baseline's distribution. */
  readonly canaryLatency?: (durationNs: number) => number;
}

/** Median of the seeded latency distribution: 50 ms, log-normal with sigma 0.5 (p99 ~160 ms). */
export const MEDIAN_NS = 50e6;
export const SIGMA = 0.5;

/** A known-truth comparison: two variants drawn from one distribution, the canary then changed as asked. */
export function knownTruthWorkload(o: WorkloadOptions): CompareSpan[] {
  const random = rng(o.seed);
  const out: CompareSpan[] = [];
  for (const variant of ['baseline', 'canary'] as const) {
    const errorRate = (variant === 'canary' ? o.canaryErrorRate : o.baselineErrorRate) ?? 0.01;
    for (let i = 0; i < o.spans; i++) {
      let durationNs = Math.exp(Math.log(MEDIAN_NS) + SIGMA * gaussian(random));
      if (variant === 'canary' && o.canaryLatency) durationNs = o.canaryLatency(durationNs);
      out.push({
        durationNs,
        isError: random() < errorRate,
        weight: 1,
        variant,
        operation: random() < 0.7 ? 'GET /cart' : 'POST /checkout',
      });
    }
  }
  return out;
}
