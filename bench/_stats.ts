/**
 * Small statistics the benches share. Each bench used to carry its own one-line `median`; they agreed on the
 * convention below, which keeps figures comparable with the ones already in BENCHMARKS.md.
 */

/**
 * The median of `xs`: the middle value, and for an even count the upper of the two middle ones (so that it is
 * always a value that was measured). NaN for an empty list.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
