/** `status_code`: traces with a span whose status is one of `status_codes`. */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import { policyType, type Zod } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const statusCodeSchema = (z: Zod) =>
  z.strictObject({
    status_codes: z
      .array(z.enum(['OK', 'ERROR', 'UNSET']))
      .min(1, { message: 'expected at least one status code' }),
  });
export type StatusCodeConfig = z.output<ReturnType<typeof statusCodeSchema>>;

class StatusCodeFilter implements PolicyEvaluator {
  private readonly codes: Set<number>;
  constructor(
    readonly name: string,
    codes: ReadonlyArray<'OK' | 'ERROR' | 'UNSET'>,
  ) {
    this.codes = new Set(codes.map((c) => ({ UNSET: 0, OK: 1, ERROR: 2 })[c]));
  }
  evaluate(trace: BufferedTrace): Verdict {
    if (trace.hasStatusCode !== undefined) return trace.hasStatusCode(this.codes) ? SAMPLED : NOT_SAMPLED;
    for (const span of trace.spans) if (this.codes.has(span.status.code)) return SAMPLED;
    return NOT_SAMPLED;
  }
}

export const statusCode = policyType(
  'status_code',
  statusCodeSchema,
  (name, c) => new StatusCodeFilter(name, c.status_codes),
);
