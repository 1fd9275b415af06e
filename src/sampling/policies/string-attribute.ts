/** `string_attribute`: traces with a resource or span whose string attribute `key` is one of `values`. */
import { LRUCache } from 'lru-cache';
import type { z } from 'zod';
import type { AnyValue } from '../../otlp/index.js';
import type { BufferedTrace } from '../buffered-trace.js';
import { anyResourceOrSpan, matchVerdict } from './attribute-match.js';
import { nonEmptyString, policyType, type Zod } from './policy-type.js';
import type { PolicyEvaluator, Verdict } from './verdict.js';

export const stringAttributeSchema = (z: Zod) =>
  z
    .strictObject({
      key: nonEmptyString(z, 'attribute key'),
      values: z.array(z.string()).min(1, { message: 'expected at least one value' }),
      enabled_regex_matching: z.boolean().default(false),
      cache_max_size: z.number().int().nonnegative().default(0),
      invert_match: z.boolean().default(false),
    })
    .superRefine((v, ctx) => {
      if (!v.enabled_regex_matching) return;
      v.values.forEach((pattern, i) => {
        try {
          new RegExp(pattern);
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            path: ['values', i],
            message: `expected a regular expression, got ${JSON.stringify(pattern)} (${(err as Error).message})`,
          });
        }
      });
    });
export type StringAttributeConfig = z.output<ReturnType<typeof stringAttributeSchema>>;

/** An attribute value as the text the string policies compare (log matches too, ../log-match.ts). */
export function stringOf(v: AnyValue): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'bool':
    case 'double':
      return String(v.value);
    case 'int':
      return v.value.toString();
    default:
      return '';
  }
}

class StringAttributeFilter implements PolicyEvaluator {
  private readonly matches: (s: string) => boolean;
  constructor(
    readonly name: string,
    private readonly key: string,
    values: readonly string[],
    regex: boolean,
    cacheMaxSize: number,
    private readonly invert: boolean,
  ) {
    if (regex) {
      // Unanchored, like Go's regexp.MatchString in the Collector; results cached per value (cache_max_size).
      const patterns = values.map((v) => new RegExp(v));
      const cache = new LRUCache<string, boolean>({ max: cacheMaxSize > 0 ? cacheMaxSize : 128 });
      this.matches = (s) => {
        const hit = cache.get(s);
        if (hit !== undefined) return hit;
        const m = patterns.some((re) => re.test(s));
        cache.set(s, m);
        return m;
      };
    } else {
      const set = new Set(values.filter((v) => v !== ''));
      this.matches = (s) => set.has(s);
    }
  }
  evaluate(trace: BufferedTrace): Verdict {
    const matched = anyResourceOrSpan(
      trace,
      (v) => v.kind === 'string' && this.matches(stringOf(v)),
      this.key,
      true,
    );
    return matchVerdict(matched, this.invert);
  }
}

export const stringAttribute = policyType(
  'string_attribute',
  stringAttributeSchema,
  (name, c) =>
    new StringAttributeFilter(
      name,
      c.key,
      c.values,
      c.enabled_regex_matching,
      c.cache_max_size,
      c.invert_match,
    ),
);
