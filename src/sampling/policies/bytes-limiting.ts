/** `bytes_limiting`: traces while the bytes kept stay under `bytes_per_second` (a token bucket). */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import { policyType, type Zod } from './policy-type.js';
import { TokenBucket } from './token-bucket.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const bytesLimitingSchema = (z: Zod) =>
  z
    .strictObject({
      bytes_per_second: z.number().positive(),
      burst_capacity: z.number().nonnegative().default(0),
    })
    .transform((v) => ({ ...v, burst_capacity: v.burst_capacity || v.bytes_per_second * 2 }));
export type BytesLimitingConfig = z.output<ReturnType<typeof bytesLimitingSchema>>;

class BytesLimiting implements PolicyEvaluator {
  private readonly bucket: TokenBucket;
  constructor(
    readonly name: string,
    bytesPerSecond: number,
    burst: number,
  ) {
    this.bucket = new TokenBucket(bytesPerSecond, burst);
  }
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    return this.bucket.allow(trace.bytes, nowMs) ? SAMPLED : NOT_SAMPLED;
  }
}

export const bytesLimiting = policyType(
  'bytes_limiting',
  bytesLimitingSchema,
  (name, c) => new BytesLimiting(name, c.bytes_per_second, c.burst_capacity),
);
