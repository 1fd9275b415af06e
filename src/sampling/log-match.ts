/**
 * What the log policies share (issue 16): the policies' view of one log record, the severity syntax and the
 * match properties of the Collector's filter processor (its OTTL-less `logs: include:` form: `match_type`,
 * `bodies`, `severity_texts`, `record_attributes`, `resource_attributes`; a list matches when any entry
 * matches, a record when every property given matches).
 */
import type { z } from 'zod';
import {
  readLogAttributes,
  readLogText,
  SEVERITY_NUMBERS,
  severityFromText,
  type KeyValue,
  type WireLogs,
} from '../otlp/index.js';
import { nonEmptyString, type Zod } from './policies/policy-type.js';
import { stringOf } from './policies/string-attribute.js';

/** A log record as the policies judge it; read from its bytes when first asked. */
export interface PolicyLog {
  /** severity_number, or the number its severity_text names when that is 0 (unspecified). */
  readonly severityNumber: number;
  readonly severityText: string;
  /** The body as text (a string body as it is). */
  readonly body: string;
  /** The record's attributes. */
  readonly attributes: readonly KeyValue[];
  readonly resourceAttributes: readonly KeyValue[];
}

/** Record `i` of a scanned logs request, read lazily from its bytes. */
export class WireLogView implements PolicyLog {
  private text: { severityText: string; body: string } | undefined;
  private attrs: KeyValue[] | undefined;
  constructor(
    private readonly logs: WireLogs,
    private readonly i: number,
  ) {}
  get severityNumber(): number {
    return this.logs.severities[this.i] as number;
  }
  private get fields(): { severityText: string; body: string } {
    if (this.text === undefined) {
      const off = this.logs.offsets[this.i] as number;
      this.text = readLogText(this.logs.buf, off, off + (this.logs.lengths[this.i] as number));
    }
    return this.text;
  }
  get severityText(): string {
    return this.fields.severityText;
  }
  get body(): string {
    return this.fields.body;
  }
  get attributes(): readonly KeyValue[] {
    if (this.attrs === undefined) {
      const off = this.logs.offsets[this.i] as number;
      this.attrs = readLogAttributes(
        this.logs.buf,
        off,
        off + (this.logs.lengths[this.i] as number),
        undefined,
      );
    }
    return this.attrs;
  }
  get resourceAttributes(): readonly KeyValue[] {
    return this.logs.scope(this.i).resource.attributes;
  }
}

const SEVERITY_HELP = `a severity: ${Object.keys(SEVERITY_NUMBERS).join(', ')} (or with 2-4: WARN2), or a number 1-24`;

/** A severity written as the logs data model names it (`WARN`, `error`, `INFO3`) or as its number. */
export const severitySchema = (z: Zod) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : severityFromText(v.trim());
    if (!Number.isInteger(n) || n < 1 || n > 24) {
      ctx.addIssue({ code: 'custom', message: `expected ${SEVERITY_HELP}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });

const attributeMatch = (z: Zod) =>
  z.strictObject({
    key: nonEmptyString(z, 'attribute key'),
    value: z.union([z.string(), z.number(), z.boolean()]),
  });

/** The filter processor's match properties, each optional. */
export const logMatchFields = (z: Zod) => ({
  match_type: z.enum(['strict', 'regexp']).default('strict'),
  bodies: z.array(z.string()).min(1, { message: 'expected at least one body' }).optional(),
  severity_texts: z.array(z.string()).min(1, { message: 'expected at least one severity text' }).optional(),
  record_attributes: z
    .array(attributeMatch(z))
    .min(1, { message: 'expected at least one attribute' })
    .optional(),
  resource_attributes: z
    .array(attributeMatch(z))
    .min(1, { message: 'expected at least one attribute' })
    .optional(),
});

export type LogMatchConfig = {
  match_type: 'strict' | 'regexp';
  bodies?: string[] | undefined;
  severity_texts?: string[] | undefined;
  record_attributes?: Array<{ key: string; value: string | number | boolean }> | undefined;
  resource_attributes?: Array<{ key: string; value: string | number | boolean }> | undefined;
};

/** With `match_type: regexp`, every pattern must compile: a refinement for a block holding the match fields. */
export function checkPatterns(v: LogMatchConfig, ctx: z.RefinementCtx): void {
  if (v.match_type !== 'regexp') return;
  const check = (pattern: string, path: PropertyKey[]) => {
    try {
      new RegExp(pattern);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `expected a regular expression, got ${JSON.stringify(pattern)} (${(err as Error).message})`,
      });
    }
  };
  v.bodies?.forEach((p, i) => check(p, ['bodies', i]));
  v.severity_texts?.forEach((p, i) => check(p, ['severity_texts', i]));
  for (const list of ['record_attributes', 'resource_attributes'] as const)
    v[list]?.forEach((a, i) => {
      if (typeof a.value === 'string') check(a.value, [list, i, 'value']);
    });
}

/** A matcher for the properties given (true when none is given). Regular expressions are unanchored, as Go's. */
export function compileLogMatch(c: LogMatchConfig): (log: PolicyLog) => boolean {
  const regexp = c.match_type === 'regexp';
  const one = (want: string): ((s: string) => boolean) => {
    if (!regexp) return (s) => s === want;
    const re = new RegExp(want);
    return (s) => re.test(s);
  };
  const anyOf = (list: readonly string[] | undefined) => {
    if (list === undefined) return undefined;
    const tests = list.map(one);
    return (s: string) => tests.some((t) => t(s));
  };
  const attrs = (list: LogMatchConfig['record_attributes']) => {
    if (list === undefined) return undefined;
    const tests = list.map((a) => ({ key: a.key, test: one(String(a.value)) }));
    return (kvs: readonly KeyValue[]) =>
      tests.every(({ key, test }) => kvs.some((kv) => kv.key === key && test(stringOf(kv.value))));
  };
  const body = anyOf(c.bodies);
  const sev = anyOf(c.severity_texts);
  const rec = attrs(c.record_attributes);
  const res = attrs(c.resource_attributes);
  return (log) =>
    (sev === undefined || sev(log.severityText)) &&
    (body === undefined || body(log.body)) &&
    (res === undefined || res(log.resourceAttributes)) &&
    (rec === undefined || rec(log.attributes));
}
