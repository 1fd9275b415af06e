/** The TraceQL subset the store runs (docs/query-api.md "TraceQL"): the parser's output, the evaluator's input. */

export type Scope = 'span' | 'resource' | 'unscoped';

export const INTRINSICS = [
  'name',
  'status',
  'kind',
  'duration',
  'traceDuration',
  'rootName',
  'rootServiceName',
] as const;
export type Intrinsic = (typeof INTRINSICS)[number];

export type Field =
  | { readonly kind: 'attribute'; readonly scope: Scope; readonly name: string }
  | { readonly kind: 'intrinsic'; readonly name: Intrinsic };

export const STATUS_VALUES = ['error', 'ok', 'unset'] as const;
export const KIND_VALUES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;

export type Literal =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  /** Nanoseconds. */
  | { readonly type: 'duration'; readonly value: bigint }
  | { readonly type: 'status'; readonly value: (typeof STATUS_VALUES)[number] }
  | { readonly type: 'kind'; readonly value: (typeof KIND_VALUES)[number] };

export type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=' | '=~' | '!~';

/** A condition inside one spanset `{ ... }`: true of a span. */
export type SpanCondition =
  | { readonly kind: 'all' }
  | {
      readonly kind: 'compare';
      readonly field: Field;
      readonly op: Operator;
      readonly value: Literal;
      /** Anchored, for `=~` / `!~`. */
      readonly regex?: RegExp;
    }
  | { readonly kind: 'and' | 'or'; readonly left: SpanCondition; readonly right: SpanCondition };

/** Spansets joined at trace level: `{ a } && { b }` needs a span matching each, `||` either. */
export type TraceQuery =
  | { readonly kind: 'spanset'; readonly condition: SpanCondition; readonly index: number }
  | { readonly kind: 'and' | 'or'; readonly left: TraceQuery; readonly right: TraceQuery };

/** Every spanset of a query, in source order (`index` is its position). */
export function spansetsOf(q: TraceQuery, out: SpanCondition[] = []): SpanCondition[] {
  if (q.kind === 'spanset') out[q.index] = q.condition;
  else {
    spansetsOf(q.left, out);
    spansetsOf(q.right, out);
  }
  return out;
}

/** The attributes a condition names (for the attributes a search result shows on each matched span). */
export function attributesOf(c: SpanCondition, out = new Map<string, Field>()): Map<string, Field> {
  if (c.kind === 'compare' && c.field.kind === 'attribute')
    out.set(`${c.field.scope}:${c.field.name}`, c.field);
  else if (c.kind === 'and' || c.kind === 'or') {
    attributesOf(c.left, out);
    attributesOf(c.right, out);
  }
  return out;
}
