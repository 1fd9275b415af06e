/**
 * Weighted statistics for spans that stand for `weight` spans each (the sampler's inverse keep probability).
 * Every function takes values sorted ascending with their weights, so one sort serves all of them.
 */

/** Values sorted ascending with their weights and the running weight (`cum[i]` = weights of 0..i). */
export interface WeightedSample {
  readonly values: Float64Array;
  readonly weights: Float64Array;
  readonly cum: Float64Array;
  /** Sum of weights: the estimated number of spans. */
  readonly total: number;
  /** Kish's effective sample size, (sum w)^2 / sum w^2: what the variance of a weighted mean is worth. */
  readonly nEff: number;
  /** Spans actually stored. */
  readonly n: number;
}

export function weightedSample(values: readonly number[], weights: readonly number[]): WeightedSample {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const v = new Float64Array(order.length);
  const w = new Float64Array(order.length);
  const cum = new Float64Array(order.length);
  let total = 0;
  let sq = 0;
  order.forEach((idx, i) => {
    v[i] = values[idx]!;
    const wi = weights[idx]!;
    w[i] = wi;
    total += wi;
    sq += wi * wi;
    cum[i] = total;
  });
  return { values: v, weights: w, cum, total, nEff: sq > 0 ? (total * total) / sq : 0, n: order.length };
}

/**
 * The weighted q-quantile: the smallest value whose cumulative weight reaches q of the total (the inverse of
 * the weighted empirical CDF; with all weights 1 it is the type-1 sample quantile). NaN for an empty sample.
 */
export function weightedQuantile(s: WeightedSample, q: number): number {
  if (s.n === 0) return NaN;
  const target = Math.min(Math.max(q, 0), 1) * s.total;
  let lo = 0;
  let hi = s.n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.cum[mid]! >= target) hi = mid;
    else lo = mid + 1;
  }
  return s.values[lo]!;
}

/**
 * A distribution-free confidence interval for the q-quantile (the order-statistic / Woodruff interval): the
 * quantiles at q -/+ z * sqrt(q (1 - q) / nEff), with Kish's effective size standing in for n.
 */
export function quantileInterval(s: WeightedSample, q: number, z: number): [number, number] {
  const half = z * Math.sqrt((q * (1 - q)) / Math.max(s.nEff, 1));
  return [weightedQuantile(s, q - half), weightedQuantile(s, q + half)];
}

/**
 * P(X > Y) + P(X = Y) / 2 with every pair weighted by w_x * w_y: the Mann-Whitney U statistic divided by
 * n_x * n_y, in its weighted form (the "probability of superiority", 0.5 when neither is larger).
 */
export function superiority(x: WeightedSample, y: WeightedSample): number {
  if (x.n === 0 || y.n === 0) return NaN;
  let sum = 0;
  let j = 0; // y[0..j) < x[i]
  for (let i = 0; i < x.n; i++) {
    const xi = x.values[i]!;
    while (j < y.n && y.values[j]! < xi) j++;
    let k = j; // y[j..k) == x[i]
    while (k < y.n && y.values[k]! === xi) k++;
    const below = j > 0 ? y.cum[j - 1]! : 0;
    const equal = (k > 0 ? y.cum[k - 1]! : 0) - below;
    sum += x.weights[i]! * (below + equal / 2);
  }
  return sum / (x.total * y.total);
}

/** Weighted share of pairs with x - y <= d (x from `x`, y from `y`): the CDF of pairwise differences at d. */
function pairDifferenceCdf(x: WeightedSample, y: WeightedSample, d: number): number {
  // For each x_i, the pairs with y_j >= x_i - d; x_i - d rises with i, so one pointer into y walks forward.
  let sum = 0;
  let j = 0; // y[0..j) < x_i - d
  for (let i = 0; i < x.n; i++) {
    const bound = x.values[i]! - d;
    while (j < y.n && y.values[j]! < bound) j++;
    const below = j > 0 ? y.cum[j - 1]! : 0;
    sum += x.weights[i]! * (y.total - below);
  }
  return sum / (x.total * y.total);
}

/** The smallest d (to bisection precision) at which the pairwise-difference CDF reaches p. */
export function pairDifferenceQuantile(x: WeightedSample, y: WeightedSample, p: number): number {
  if (x.n === 0 || y.n === 0) return NaN;
  let lo = x.values[0]! - y.values[y.n - 1]!;
  let hi = x.values[x.n - 1]! - y.values[0]!;
  if (p <= 0) return lo;
  if (p >= 1) return hi;
  // Durations are whole ns, and a shift is reported in ms: 1e-5 of the whole range (or 0.5 ns) is precise enough.
  const precision = Math.max(0.5, (hi - lo) * 1e-5);
  for (let it = 0; it < 64 && hi - lo > precision; it++) {
    const mid = lo + (hi - lo) / 2;
    if (pairDifferenceCdf(x, y, mid) >= p) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The standard normal CDF (Abramowitz-Stegun 7.1.26 through erf; absolute error below 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}
