/** `latency`: traces whose duration (earliest start to latest end) is at least, or within, a threshold. */
import type { z } from 'zod';
import type { BufferedTrace, PolicySpan } from '../buffered-trace.js';
import { nonNegative, policyType, type Zod } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const latencySchema = (z: Zod) =>
  z
    .strictObject({
      threshold_ms: nonNegative(z).default(0),
      upper_threshold_ms: nonNegative(z).default(0),
    })
    .superRefine((v, ctx) => {
      if (v.upper_threshold_ms !== 0 && v.upper_threshold_ms < v.threshold_ms) {
        ctx.addIssue({
          code: 'custom',
          path: ['upper_threshold_ms'],
          message: `expected upper_threshold_ms (${v.upper_threshold_ms}) >= threshold_ms (${v.threshold_ms}), or 0 for no upper bound`,
        });
      }
    });
export type LatencyConfig = z.output<ReturnType<typeof latencySchema>>;

/** Earliest start to latest end of `spans` in whole ms; 0 when the end is not after the start. */
function latencyMsOf(spans: readonly PolicySpan[]): number | undefined {
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (const span of spans) {
    if (min === undefined || span.startTimeUnixNano < min) min = span.startTimeUnixNano;
    if (max === undefined || span.endTimeUnixNano > max) max = span.endTimeUnixNano;
  }
  if (min === undefined || max === undefined) return undefined;
  return max > min ? Number((max - min) / 1_000_000n) : 0;
}

class Latency implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly thresholdMs: number,
    private readonly upperMs: number,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    // The duration of what this agent saw: earliest start to latest end (README "latency"). A trace on the
    // byte path answers from the scanner's columns (reading every span's bytes was most of a decision).
    const ms = trace.latencyMs !== undefined ? trace.latencyMs() : latencyMsOf(trace.spans);
    if (ms === undefined) return NOT_SAMPLED;
    const hit = this.upperMs === 0 ? ms >= this.thresholdMs : this.thresholdMs < ms && ms <= this.upperMs;
    return hit ? SAMPLED : NOT_SAMPLED;
  }
}

export const latency = policyType(
  'latency',
  latencySchema,
  (name, c) => new Latency(name, c.threshold_ms, c.upper_threshold_ms),
);
