/** `boolean_attribute`: traces with a resource or span whose boolean attribute `key` equals `value`. */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import { anyResourceOrSpan, matchVerdict } from './attribute-match.js';
import { nonEmptyString, policyType, type Zod } from './policy-type.js';
import type { PolicyEvaluator, Verdict } from './verdict.js';

export const booleanAttributeSchema = (z: Zod) =>
  z.strictObject({
    key: nonEmptyString(z, 'attribute key'),
    value: z.boolean(),
    invert_match: z.boolean().default(false),
  });
export type BooleanAttributeConfig = z.output<ReturnType<typeof booleanAttributeSchema>>;

class BooleanAttributeFilter implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly key: string,
    private readonly value: boolean,
    private readonly invert: boolean,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    const matched = anyResourceOrSpan(trace, (v) => v.kind === 'bool' && v.value === this.value, this.key);
    return matchVerdict(matched, this.invert);
  }
}

export const booleanAttribute = policyType(
  'boolean_attribute',
  booleanAttributeSchema,
  (name, c) => new BooleanAttributeFilter(name, c.key, c.value, c.invert_match),
);
