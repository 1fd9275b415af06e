import type { ServiceNeighbours } from './neighbours.js';
import { normalQuantile, weightedSample, type WeightedSample } from './weighted-stats.js';
import { errorRow, NS_PER_MS, quantileRow, round, shiftRow, sum, type Group } from './compare-rows.js';

/** One stored span as the comparison needs it: what the statistics engine takes, independent of any store. */
export interface CompareSpan {
  readonly durationNs: number;
  readonly isError: boolean;
  /** How many spans this one stands for (`SampleWeight`, the sampler's inverse keep probability); 1 unsampled. */
  readonly weight: number;
  /** `DeploymentVariant`. */
  readonly variant: string;
  /** The span name. */
  readonly operation: string;
}

export interface CompareOptions {
  readonly baseline: string;
  readonly canary: string;
  /** Largest acceptable relative latency increase (0.1 = 10 %). */
  readonly maxLatencyIncrease: number;
  /** Largest acceptable error-rate increase, absolute (0.005 = 0.5 percentage points). */
  readonly maxErrorRateIncrease: number;
  /** Two-sided confidence of every interval (0.95). */
  readonly confidence: number;
  /** Stored spans each variant needs before anything but "inconclusive" is said. */
  readonly minSpans: number;
  /** Operations reported separately, the busiest first. */
  readonly maxOperations: number;
}

export const DEFAULT_COMPARE_OPTIONS: CompareOptions = {
  baseline: 'baseline',
  canary: 'canary',
  maxLatencyIncrease: 0.1,
  maxErrorRateIncrease: 0.005,
  confidence: 0.95,
  minSpans: 100,
  maxOperations: 20,
};

export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** One line of the report: a metric for both variants, their difference and what it means. */
export interface CompareRow {
  readonly metric: 'count' | 'error_rate' | 'latency_shift' | 'p50' | 'p90' | 'p99';
  /** `spans` (estimated count), `ratio` (0..1) or `ms`. */
  readonly unit: 'spans' | 'ratio' | 'ms';
  readonly baseline: number | null;
  readonly canary: number | null;
  /** canary - baseline (for latency_shift: the Hodges-Lehmann shift). */
  readonly difference: number | null;
  /** difference / baseline, or null when the baseline is 0 or missing. */
  readonly relative: number | null;
  /** Confidence interval of `difference`. */
  readonly interval?: readonly [number, number];
  /** Two-sided p-value of "no difference". */
  readonly pValue?: number;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface VariantSamples {
  /** Spans stored (kept by the sampler). */
  readonly stored: number;
  /** Spans they stand for: the sum of weights. */
  readonly estimated: number;
  /** Kish's effective sample size of the weights. */
  readonly effective: number;
}

export interface CompareSection {
  /** `*` for all operations together. */
  readonly operation: string;
  readonly verdict: Verdict;
  readonly samples: { readonly baseline: VariantSamples; readonly canary: VariantSamples };
  readonly rows: readonly CompareRow[];
}

/** Both latency distributions on shared log-spaced bins, as weighted shares (each sums to 1). */
export interface LatencyDistribution {
  readonly edgesMs: readonly number[];
  readonly baseline: readonly number[];
  readonly canary: readonly number[];
}

export interface CompareReport {
  readonly verdict: Verdict;
  /** Why, in a sentence per failing or inconclusive row. */
  readonly reasons: readonly string[];
  readonly baseline: string;
  readonly canary: string;
  readonly thresholds: {
    readonly maxLatencyIncrease: number;
    readonly maxErrorRateIncrease: number;
    readonly confidence: number;
    readonly minSpans: number;
  };
  readonly overall: CompareSection;
  readonly operations: readonly CompareSection[];
  readonly distribution: LatencyDistribution;
  /** Spans of other variants (or none) that were left out. */
  readonly ignoredSpans: number;
  /** Filled in by the loaders: what was read. */
  readonly query?: Readonly<Record<string, string>>;
  /** Filled in by the store (issue 19): the service graph around the service, per variant. */
  readonly neighbours?: ServiceNeighbours;
}

const newGroup = (): Group => ({ durations: [], weights: [], errors: [] });
/** Rows with a verdict of their own: error_rate, latency_shift, p50, p90, p99. */
const JUDGED_METRICS = 5;

/**
 * Compares the canary's spans with the baseline's, overall and per operation. Pure: arrays in, a report out.
 *
 * Weights: every statistic counts a span `weight` times (quantiles on the weighted CDF, Mann-Whitney over
 * weight-products of pairs, error rates as weighted means), so a tail-sampled store gives the same estimates as
 * the unsampled traffic. Uncertainty is not taken from the weighted counts (that would pretend the dropped spans
 * had been seen) but from Kish's effective sample size, or for error rates from the linearised variance
 * sum(w^2 (y - p)^2) / (sum w)^2.
 */
export function compareSpans(
  spans: readonly CompareSpan[],
  options: Partial<CompareOptions> = {},
): CompareReport {
  const o: CompareOptions = { ...DEFAULT_COMPARE_OPTIONS, ...options };
  const all = { baseline: newGroup(), canary: newGroup() };
  const byOperation = new Map<string, { baseline: Group; canary: Group }>();
  let ignored = 0;
  for (const s of spans) {
    const side = s.variant === o.baseline ? 'baseline' : s.variant === o.canary ? 'canary' : undefined;
    const w = s.weight > 0 && Number.isFinite(s.weight) ? s.weight : 1;
    if (side === undefined || !Number.isFinite(s.durationNs)) {
      ignored++;
      continue;
    }
    let op = byOperation.get(s.operation);
    if (!op) byOperation.set(s.operation, (op = { baseline: newGroup(), canary: newGroup() }));
    for (const g of [all[side], op[side]]) {
      g.durations.push(Math.max(0, s.durationNs));
      g.weights.push(w);
      g.errors.push(s.isError);
    }
  }

  const ranked = [...byOperation.entries()]
    .map(([name, g]) => ({ name, g, weight: sum(g.baseline.weights) + sum(g.canary.weights) }))
    .sort((a, b) => b.weight - a.weight || (a.name < b.name ? -1 : 1))
    .slice(0, o.maxOperations);
  // Every judged row is one more chance of a false alarm. The intervals are made simultaneous (Bonferroni over
  // JUDGED_METRICS rows of the overall section and of each operation), so that two identical variants fail
  // with probability at most 1 - confidence, however many operations there are.
  const comparisons = JUDGED_METRICS * (1 + (ranked.length > 1 ? ranked.length : 0));
  const z = normalQuantile(1 - (1 - o.confidence) / (2 * comparisons));
  const overall = section('*', all.baseline, all.canary, o, z);
  const operations = ranked.map(({ name, g }) => section(name, g.baseline, g.canary, o, z));

  const reasons: string[] = [];
  for (const s of [overall, ...operations]) {
    for (const r of s.rows) {
      if (r.verdict === 'fail' || (s === overall && r.verdict === 'inconclusive'))
        reasons.push(`${s.operation === '*' ? 'overall' : s.operation}: ${r.metric} ${r.reason}`);
    }
  }
  // A failing operation fails the rollout; an operation with too few spans only says so in its own section.
  const verdict: Verdict =
    overall.verdict === 'fail' || operations.some((s) => s.verdict === 'fail')
      ? 'fail'
      : overall.verdict === 'inconclusive'
        ? 'inconclusive'
        : 'pass';
  return {
    verdict,
    reasons,
    baseline: o.baseline,
    canary: o.canary,
    thresholds: {
      maxLatencyIncrease: o.maxLatencyIncrease,
      maxErrorRateIncrease: o.maxErrorRateIncrease,
      confidence: o.confidence,
      minSpans: o.minSpans,
    },
    overall,
    operations,
    distribution: distribution(all.baseline, all.canary),
    ignoredSpans: ignored,
  };
}

function section(operation: string, b: Group, c: Group, o: CompareOptions, z: number): CompareSection {
  const bs = weightedSample(b.durations, b.weights);
  const cs = weightedSample(c.durations, c.weights);
  const samples = { baseline: samplesOf(bs), canary: samplesOf(cs) };
  const enough = bs.n >= o.minSpans && cs.n >= o.minSpans;
  const tooFew = `needs ${o.minSpans} stored spans per variant, has ${bs.n} baseline and ${cs.n} canary`;
  const rows: CompareRow[] = [
    {
      metric: 'count',
      unit: 'spans',
      baseline: bs.total,
      canary: cs.total,
      difference: cs.total - bs.total,
      relative: bs.total > 0 ? (cs.total - bs.total) / bs.total : null,
      verdict: enough ? 'pass' : 'inconclusive',
      reason: enough ? 'enough spans in both variants' : tooFew,
    },
    errorRow(b, c, o, z, enough, tooFew),
    shiftRow(bs, cs, o, z, enough, tooFew),
    quantileRow('p50', 0.5, bs, cs, o, z, enough, tooFew),
    quantileRow('p90', 0.9, bs, cs, o, z, enough, tooFew),
    quantileRow('p99', 0.99, bs, cs, o, z, enough, tooFew),
  ];
  const verdict: Verdict = rows.some((r) => r.verdict === 'fail')
    ? 'fail'
    : rows.some((r) => r.verdict === 'inconclusive')
      ? 'inconclusive'
      : 'pass';
  return { operation, verdict, samples, rows };
}

function samplesOf(s: WeightedSample): VariantSamples {
  return { stored: s.n, estimated: s.total, effective: round(s.nEff, 1) };
}

const BINS = 40;

/** Shared log-spaced bins from the smallest to the largest duration (1 µs floor), weighted shares per variant. */
function distribution(b: Group, c: Group): LatencyDistribution {
  let min = Infinity;
  let max = 0;
  for (const d of [...b.durations, ...c.durations]) {
    const v = Math.max(d, 1000);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { edgesMs: [], baseline: [], canary: [] };
  if (max <= min) max = min * 2;
  const lmin = Math.log(min);
  const step = (Math.log(max) - lmin) / BINS;
  const edges = Array.from({ length: BINS + 1 }, (_, i) => Math.exp(lmin + i * step) / NS_PER_MS);
  const shares = (g: Group) => {
    const bins = new Array<number>(BINS).fill(0);
    const total = sum(g.weights);
    g.durations.forEach((d, i) => {
      const k = Math.min(BINS - 1, Math.max(0, Math.floor((Math.log(Math.max(d, 1000)) - lmin) / step)));
      bins[k]! += g.weights[i]! / total;
    });
    return bins.map((x) => round(x, 6));
  };
  return { edgesMs: edges.map((e) => round(e, 6)), baseline: shares(b), canary: shares(c) };
}
