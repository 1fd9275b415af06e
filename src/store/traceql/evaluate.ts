import { findAttribute, type AnyValue } from '../../otlp/index.js';
import type { StoredSpan } from '../../storage/index.js';
import {
  KIND_VALUES,
  spansetsOf,
  type STATUS_VALUES,
  type Literal,
  type SpanCondition,
  type TraceQuery,
} from './ast.js';

/** What trace-level intrinsics read: computed once per trace from all its spans. */
export interface TraceFacts {
  readonly root: StoredSpan;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly rootName: string;
  readonly rootServiceName: string;
}

export function serviceName(r: StoredSpan): string {
  const v = findAttribute(r.resource.attributes, 'service.name');
  return v?.kind === 'string' ? v.value : '';
}

/** The root (no parent; else the earliest span), start, end and root names of a trace's spans. */
export function traceFacts(spans: readonly StoredSpan[]): TraceFacts {
  let root: StoredSpan | undefined;
  let start = spans[0]!.span.startTimeUnixNano;
  let end = spans[0]!.span.endTimeUnixNano;
  let earliest = spans[0]!;
  for (const r of spans) {
    const s = r.span;
    if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
    if (s.startTimeUnixNano < earliest.span.startTimeUnixNano) earliest = r;
    if (s.parentSpanId === '' && (!root || s.startTimeUnixNano < root.span.startTimeUnixNano)) root = r;
  }
  const r = root ?? earliest;
  return { root: r, startNs: start, endNs: end, rootName: r.span.name, rootServiceName: serviceName(r) };
}

type Value =
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'duration'; v: bigint }
  | undefined;

function fromAny(v: AnyValue | undefined): Value {
  switch (v?.kind) {
    case 'string':
      return { t: 'string', v: v.value };
    case 'bool':
      return { t: 'bool', v: v.value };
    case 'int':
      return { t: 'number', v: Number(v.value) };
    case 'double':
      return { t: 'number', v: v.value };
    default:
      return undefined;
  }
}

function fromLiteral(l: Literal): Value {
  switch (l.type) {
    case 'string':
    case 'status':
    case 'kind':
      return { t: 'string', v: l.value };
    case 'int':
    case 'float':
      return { t: 'number', v: l.value };
    case 'bool':
      return { t: 'bool', v: l.value };
    case 'duration':
      return { t: 'duration', v: l.value };
  }
}

function order<T extends string | number | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One comparison; a missing value or a value of another type is false for every operator (Tempo's rule). */
function test(actual: Value, c: Extract<SpanCondition, { kind: 'compare' }>): boolean {
  if (actual === undefined) return false;
  if (c.regex) {
    if (actual.t !== 'string') return false;
    return c.regex.test(actual.v) === (c.op === '=~');
  }
  const want = fromLiteral(c.value)!;
  if (actual.t !== want.t) return false;
  const cmp = order(actual.v as never, want.v as never);
  switch (c.op) {
    case '=':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '>':
      return cmp > 0;
    case '>=':
      return cmp >= 0;
    case '<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    default:
      return false;
  }
}

/** OTLP status codes 0, 1, 2 as TraceQL's unset, ok, error. */
export function statusName(code: number): (typeof STATUS_VALUES)[number] {
  return code === 2 ? 'error' : code === 1 ? 'ok' : 'unset';
}

/** The value a field has on a span (unscoped attributes: the span's, else the resource's). */
export function fieldValue(
  r: StoredSpan,
  facts: TraceFacts,
  field: Extract<SpanCondition, { kind: 'compare' }>['field'],
): Value {
  if (field.kind === 'attribute') {
    if (field.scope === 'resource') return fromAny(findAttribute(r.resource.attributes, field.name));
    const own = findAttribute(r.span.attributes, field.name);
    if (field.scope === 'span' || own !== undefined) return fromAny(own);
    return fromAny(findAttribute(r.resource.attributes, field.name));
  }
  switch (field.name) {
    case 'name':
      return { t: 'string', v: r.span.name };
    case 'status':
      return { t: 'string', v: statusName(r.span.status.code) };
    case 'kind':
      return { t: 'string', v: KIND_VALUES[r.span.kind] ?? 'unspecified' };
    case 'duration':
      return { t: 'duration', v: r.span.endTimeUnixNano - r.span.startTimeUnixNano };
    case 'traceDuration':
      return { t: 'duration', v: facts.endNs - facts.startNs };
    case 'rootName':
      return { t: 'string', v: facts.rootName };
    case 'rootServiceName':
      return { t: 'string', v: facts.rootServiceName };
  }
}

export function spanMatches(c: SpanCondition, r: StoredSpan, facts: TraceFacts): boolean {
  switch (c.kind) {
    case 'all':
      return true;
    case 'compare':
      return test(fieldValue(r, facts, c.field), c);
    case 'and':
      return spanMatches(c.left, r, facts) && spanMatches(c.right, r, facts);
    case 'or':
      return spanMatches(c.left, r, facts) || spanMatches(c.right, r, facts);
  }
}

/** The spans each spanset matched, when the trace matches the query; undefined when it does not. */
export function evaluateTrace(
  q: TraceQuery,
  spans: readonly StoredSpan[],
  facts: TraceFacts = traceFacts(spans),
): StoredSpan[][] | undefined {
  const sets = spansetsOf(q).map((c) => spans.filter((r) => spanMatches(c, r, facts)));
  const holds = (t: TraceQuery): boolean =>
    t.kind === 'spanset'
      ? sets[t.index]!.length > 0
      : t.kind === 'and'
        ? holds(t.left) && holds(t.right)
        : holds(t.left) || holds(t.right);
  return holds(q) ? sets.filter((s) => s.length > 0) : undefined;
}
