/** `rate_limiting`: traces while the spans kept stay under `spans_per_second` (a token bucket). */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import { policyType, type Zod } from './policy-type.js';
import { TokenBucket } from './token-bucket.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const rateLimitingSchema = (z: Zod) => z.strictObject({ spans_per_second: z.number().positive() });
export type RateLimitingConfig = z.output<ReturnType<typeof rateLimitingSchema>>;

class RateLimiting implements PolicyEvaluator {
  private readonly bucket: TokenBucket;
  constructor(
    readonly name: string,
    spansPerSecond: number,
  ) {
    // The Collector's bucket holds two seconds' worth of spans.
    this.bucket = new TokenBucket(spansPerSecond, spansPerSecond * 2);
  }
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    return this.bucket.allow(trace.spans.length, nowMs) ? SAMPLED : NOT_SAMPLED;
  }
}

export const rateLimiting = policyType(
  'rate_limiting',
  rateLimitingSchema,
  (name, c) => new RateLimiting(name, c.spans_per_second),
);
