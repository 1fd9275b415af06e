/** `numeric_attribute`: traces with a resource or span whose numeric attribute `key` is within bounds. */
import type { z } from 'zod';
import type { AnyValue } from '../../otlp/index.js';
import type { BufferedTrace } from '../buffered-trace.js';
import { anyResourceOrSpan, matchVerdict } from './attribute-match.js';
import { nonEmptyString, policyType, type Zod } from './policy-type.js';
import type { PolicyEvaluator, Verdict } from './verdict.js';

export const numericAttributeSchema = (z: Zod) =>
  z
    .strictObject({
      key: nonEmptyString(z, 'attribute key'),
      min_value: z.number().optional(),
      max_value: z.number().optional(),
      invert_match: z.boolean().default(false),
    })
    .superRefine((v, ctx) => {
      if (v.min_value === undefined && v.max_value === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected min_value, max_value or both' });
      } else if (v.min_value !== undefined && v.max_value !== undefined && v.max_value < v.min_value) {
        ctx.addIssue({
          code: 'custom',
          path: ['max_value'],
          message: `expected max_value (${v.max_value}) >= min_value (${v.min_value})`,
        });
      }
    });
export type NumericAttributeConfig = z.output<ReturnType<typeof numericAttributeSchema>>;

function numberOf(v: AnyValue): number | undefined {
  if (v.kind === 'int') return Number(v.value);
  if (v.kind === 'double') return v.value;
  return undefined;
}

class NumericAttributeFilter implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly key: string,
    private readonly min: number,
    private readonly max: number,
    private readonly invert: boolean,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    const matched = anyResourceOrSpan(
      trace,
      (v) => {
        const n = numberOf(v);
        return n !== undefined && n >= this.min && n <= this.max;
      },
      this.key,
    );
    return matchVerdict(matched, this.invert);
  }
}

export const numericAttribute = policyType(
  'numeric_attribute',
  numericAttributeSchema,
  (name, c) =>
    new NumericAttributeFilter(
      name,
      c.key,
      c.min_value ?? Number.NEGATIVE_INFINITY,
      c.max_value ?? Number.POSITIVE_INFINITY,
      c.invert_match,
    ),
);
