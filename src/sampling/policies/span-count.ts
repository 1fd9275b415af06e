/** `span_count`: traces with at least `min_spans` and, when `max_spans` is not 0, at most `max_spans`. */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import { policyType, type Zod } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const spanCountSchema = (z: Zod) =>
  z
    .strictObject({
      min_spans: z.number().int().nonnegative().default(0),
      max_spans: z.number().int().nonnegative().default(0),
    })
    .superRefine((v, ctx) => {
      if (v.max_spans !== 0 && v.max_spans < v.min_spans) {
        ctx.addIssue({
          code: 'custom',
          path: ['max_spans'],
          message: `expected max_spans (${v.max_spans}) >= min_spans (${v.min_spans}), or 0 for no maximum`,
        });
      }
    });
export type SpanCountConfig = z.output<ReturnType<typeof spanCountSchema>>;

class SpanCount implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly min: number,
    private readonly max: number,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    const n = trace.spans.length;
    const hit = this.max === 0 ? n >= this.min : n >= this.min && n <= this.max;
    return hit ? SAMPLED : NOT_SAMPLED;
  }
}

export const spanCount = policyType(
  'span_count',
  spanCountSchema,
  (name, c) => new SpanCount(name, c.min_spans, c.max_spans),
);
