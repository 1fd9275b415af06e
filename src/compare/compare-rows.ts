/**
 * The judged rows of a comparison section (error rate, latency shift, quantiles), each with its interval, test
 * and verdict. compare-spans.ts groups the spans and assembles the section from these rows.
 */
import type { CompareOptions, CompareRow } from './compare-spans.js';
import {
  normalCdf,
  pairDifferenceQuantile,
  quantileInterval,
  superiority,
  weightedQuantile,
  type WeightedSample,
} from './weighted-stats.js';

export interface Group {
  readonly durations: number[];
  readonly weights: number[];
  readonly errors: boolean[];
}
export const NS_PER_MS = 1e6;
/** A quantile is only judged with this many effective spans beyond it in each variant. */
export const MIN_TAIL_SPANS = 5;
export function sum(a: readonly number[]): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

/** Weighted error rate and the linearised variance of that ratio estimate. */
function errorRate(g: Group): { rate: number; variance: number } {
  const total = sum(g.weights);
  if (total === 0) return { rate: NaN, variance: NaN };
  let errors = 0;
  for (let i = 0; i < g.weights.length; i++) if (g.errors[i]) errors += g.weights[i]!;
  const rate = errors / total;
  let v = 0;
  for (let i = 0; i < g.weights.length; i++) {
    const d = (g.errors[i] ? 1 : 0) - rate;
    v += g.weights[i]! * g.weights[i]! * d * d;
  }
  return { rate, variance: v / (total * total) };
}

/** Errors: a two-proportion z-test on the weighted rates, with each rate's variance from its own weights. */
export function errorRow(
  b: Group,
  c: Group,
  o: CompareOptions,
  z: number,
  enough: boolean,
  tooFew: string,
): CompareRow {
  const eb = errorRate(b);
  const ec = errorRate(c);
  const diff = ec.rate - eb.rate;
  const defined = Number.isFinite(diff);
  // With no error at all in either variant the variance is 0; a floor of one error in each keeps z finite.
  const se = Math.sqrt(Math.max(eb.variance + ec.variance, 1e-12));
  const interval: [number, number] = [diff - z * se, diff + z * se];
  const pValue = 2 * (1 - normalCdf(Math.abs(diff / se)));
  const base: Omit<CompareRow, 'verdict' | 'reason'> = {
    metric: 'error_rate',
    unit: 'ratio',
    baseline: Number.isFinite(eb.rate) ? eb.rate : null,
    canary: Number.isFinite(ec.rate) ? ec.rate : null,
    difference: defined ? diff : null,
    relative: defined && eb.rate > 0 ? diff / eb.rate : null,
    ...(defined ? { interval, pValue } : {}),
  };
  if (!enough || !defined) return { ...base, verdict: 'inconclusive', reason: tooFew };
  const pp = (x: number) => `${(x * 100).toFixed(2)}pp`;
  if (interval[0] > 0 && diff > o.maxErrorRateIncrease)
    return {
      ...base,
      verdict: 'fail',
      reason: `rose by ${pp(diff)} (CI ${pp(interval[0])}..${pp(interval[1])}), over the ${pp(o.maxErrorRateIncrease)} allowed`,
    };
  return {
    ...base,
    verdict: 'pass',
    reason:
      interval[0] > 0
        ? `rose by ${pp(diff)}, within the ${pp(o.maxErrorRateIncrease)} allowed`
        : `no significant increase (${pp(diff)}, CI ${pp(interval[0])}..${pp(interval[1])})`,
  };
}

/**
 * Latency as a whole, as Kayenta's Mann-Whitney judge does: the Hodges-Lehmann shift (median of all pairwise
 * canary - baseline differences, here weighted by w_i w_j) with the interval that inverts the Mann-Whitney
 * test; the test's variance uses the effective sizes. It fails when the interval lies above 0 and the shift is
 * more than the allowed share of the baseline median.
 */
export function shiftRow(
  bs: WeightedSample,
  cs: WeightedSample,
  o: CompareOptions,
  z: number,
  enough: boolean,
  tooFew: string,
): CompareRow {
  if (bs.n === 0 || cs.n === 0)
    return {
      metric: 'latency_shift',
      unit: 'ms',
      baseline: bs.n > 0 ? weightedQuantile(bs, 0.5) / NS_PER_MS : null,
      canary: cs.n > 0 ? weightedQuantile(cs, 0.5) / NS_PER_MS : null,
      difference: null,
      relative: null,
      verdict: 'inconclusive',
      reason: tooFew,
    };
  const n1 = Math.max(cs.nEff, 1);
  const n2 = Math.max(bs.nEff, 1);
  const sd = Math.sqrt((n1 + n2 + 1) / (12 * n1 * n2));
  const auc = superiority(cs, bs);
  const pValue = 2 * (1 - normalCdf(Math.abs(auc - 0.5) / sd));
  const hl = pairDifferenceQuantile(cs, bs, 0.5);
  const lo = pairDifferenceQuantile(cs, bs, Math.max(0.5 - z * sd, 0));
  const hi = pairDifferenceQuantile(cs, bs, Math.min(0.5 + z * sd, 1));
  const medianB = weightedQuantile(bs, 0.5);
  const medianC = weightedQuantile(cs, 0.5);
  const relative = medianB > 0 ? hl / medianB : null;
  const row = {
    metric: 'latency_shift' as const,
    unit: 'ms' as const,
    baseline: medianB / NS_PER_MS,
    canary: medianC / NS_PER_MS,
    difference: hl / NS_PER_MS,
    relative,
    interval: [lo / NS_PER_MS, hi / NS_PER_MS] as const,
    pValue,
  };
  if (!enough) return { ...row, verdict: 'inconclusive', reason: tooFew };
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const shift = `shift ${fmtMs(hl)} (CI ${fmtMs(lo)}..${fmtMs(hi)}, P(canary > baseline) ${auc.toFixed(3)})`;
  if (lo > 0 && relative !== null && relative > o.maxLatencyIncrease)
    return {
      ...row,
      verdict: 'fail',
      reason: `${shift} is ${pct(relative)} of the baseline median, over ${pct(o.maxLatencyIncrease)}`,
    };
  return {
    ...row,
    verdict: 'pass',
    reason: lo > 0 ? `${shift}, within ${pct(o.maxLatencyIncrease)}` : `${shift}: no significant increase`,
  };
}

/**
 * One percentile: weighted quantiles, their difference, and an interval from the order-statistic intervals of
 * each (half-width / z as a standard error, combined in quadrature).
 */
export function quantileRow(
  metric: 'p50' | 'p90' | 'p99',
  q: number,
  bs: WeightedSample,
  cs: WeightedSample,
  o: CompareOptions,
  z: number,
  enough: boolean,
  tooFew: string,
): CompareRow {
  const qb = weightedQuantile(bs, q);
  const qc = weightedQuantile(cs, q);
  const defined = Number.isFinite(qb) && Number.isFinite(qc);
  if (!defined)
    return {
      metric,
      unit: 'ms',
      baseline: Number.isFinite(qb) ? qb / NS_PER_MS : null,
      canary: Number.isFinite(qc) ? qc / NS_PER_MS : null,
      difference: null,
      relative: null,
      verdict: 'inconclusive',
      reason: tooFew,
    };
  const [bl, bh] = quantileInterval(bs, q, z);
  const [cl, ch] = quantileInterval(cs, q, z);
  const se = Math.hypot((bh - bl) / (2 * z), (ch - cl) / (2 * z));
  const diff = qc - qb;
  const interval: [number, number] = [diff - z * se, diff + z * se];
  const relative = qb > 0 ? diff / qb : null;
  const row = {
    metric,
    unit: 'ms' as const,
    baseline: qb / NS_PER_MS,
    canary: qc / NS_PER_MS,
    difference: diff / NS_PER_MS,
    relative,
    interval: [interval[0] / NS_PER_MS, interval[1] / NS_PER_MS] as const,
    ...(se > 0 ? { pValue: 2 * (1 - normalCdf(Math.abs(diff) / se)) } : {}),
  };
  if (!enough) return { ...row, verdict: 'inconclusive', reason: tooFew };
  const tail = Math.min(bs.nEff, cs.nEff) * (1 - q);
  if (tail < MIN_TAIL_SPANS)
    return {
      ...row,
      verdict: 'inconclusive',
      reason: `needs ${Math.ceil(MIN_TAIL_SPANS / (1 - q))} effective spans per variant to judge ${metric}, has ${Math.floor(Math.min(bs.nEff, cs.nEff))}`,
    };
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const change = `${fmtMs(qb)} -> ${fmtMs(qc)} (${relative === null ? 'n/a' : pct(relative)}, CI ${fmtMs(interval[0])}..${fmtMs(interval[1])})`;
  if (interval[0] > 0 && relative !== null && relative > o.maxLatencyIncrease)
    return { ...row, verdict: 'fail', reason: `${change}, over ${pct(o.maxLatencyIncrease)}` };
  return {
    ...row,
    verdict: 'pass',
    reason:
      interval[0] > 0
        ? `${change}, within ${pct(o.maxLatencyIncrease)}`
        : `${change}: no significant increase`,
  };
}

function fmtMs(ns: number): string {
  const ms = ns / NS_PER_MS;
  return `${Math.abs(ms) >= 100 ? ms.toFixed(0) : Math.abs(ms) >= 1 ? ms.toFixed(1) : ms.toFixed(3)}ms`;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
