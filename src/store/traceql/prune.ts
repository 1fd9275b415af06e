import type { BlockMeta, RowGroupStatistics, SummaryValue } from '../../storage/index.js';
import type { Literal, SpanCondition, TraceQuery } from './ast.js';

/**
 * Conservative tests of whether a block, or a row group, can hold a span a query matches, from what is
 * known without reading rows: the block meta (services, the search summary) and the Parquet footer's
 * column statistics. "false" is a proof; "true" only means "read it".
 */

type Compare = Extract<SpanCondition, { kind: 'compare' }>;

function literalValue(l: Literal): string | number | bigint | boolean {
  return l.value;
}
// Summary numbers are JS numbers; int and float literals compare as numbers, like the evaluator.

/** Whether some value in `values` satisfies the comparison (the evaluator's rule: other types never do). */
function anySatisfies(values: readonly (string | number | boolean | bigint)[], c: Compare): boolean {
  const want = literalValue(c.value);
  for (const v of values) {
    if (c.regex) {
      if (typeof v === 'string' && c.regex.test(v) === (c.op === '=~')) return true;
      continue;
    }
    if (typeof v !== typeof want) continue;
    const cmp = v < want ? -1 : v > want ? 1 : 0;
    if (
      (c.op === '=' && cmp === 0) ||
      (c.op === '!=' && cmp !== 0) ||
      (c.op === '>' && cmp > 0) ||
      (c.op === '>=' && cmp >= 0) ||
      (c.op === '<' && cmp < 0) ||
      (c.op === '<=' && cmp <= 0)
    )
      return true;
  }
  return false;
}

/** Whether some value in [min, max] may satisfy the comparison. */
function rangeSatisfies<T extends string | bigint>(min: T, max: T, c: Compare, want: T): boolean {
  switch (c.op) {
    case '=':
      return min <= want && want <= max;
    case '!=':
      return !(min === want && max === want);
    case '>':
      return max > want;
    case '>=':
      return max >= want;
    case '<':
      return min < want;
    case '<=':
      return min <= want;
    default:
      return true;
  }
}

function summaryValues(values: readonly SummaryValue[]): (string | number | boolean)[] {
  return values.map((v) =>
    v.type === 'string' ? v.value : v.type === 'bool' ? v.value === 'true' : Number(v.value),
  );
}

function blockMayMatchCompare(meta: BlockMeta, c: Compare): boolean {
  const s = meta.search;
  const f = c.field;
  if (f.kind === 'intrinsic') {
    switch (f.name) {
      case 'rootServiceName':
        // The root's service is the service of a span in the block.
        return anySatisfies(meta.services, c);
      case 'name':
      case 'rootName':
        return s?.spanNames ? anySatisfies(s.spanNames, c) : true;
      case 'status':
        return s ? anySatisfies(s.statuses, c) : true;
      case 'kind':
        return s ? anySatisfies(s.kinds, c) : true;
      case 'duration':
        return s
          ? rangeSatisfies(BigInt(s.minDurationNanos), BigInt(s.maxDurationNanos), c, c.value.value as bigint)
          : true;
      case 'traceDuration': {
        // A trace read from this block lasts at most the block's span.
        const longest = BigInt(meta.maxEndUnixNano) - BigInt(meta.minStartUnixNano);
        return rangeSatisfies(0n, longest, c, c.value.value as bigint);
      }
    }
  }
  if (f.name === 'service.name' && f.scope !== 'span' && c.value.type === 'string') {
    const spansHaveIt = s?.attributes
      ? s.attributes.some((a) => a.scope === 'span' && a.key === 'service.name')
      : f.scope === 'unscoped';
    if (!spansHaveIt) return anySatisfies(meta.services, c);
  }
  if (!s?.attributes) return true;
  const scopes = f.scope === 'unscoped' ? ['span', 'resource'] : [f.scope];
  let known = true;
  const values: (string | number | boolean)[] = [];
  let present = false;
  for (const a of s.attributes) {
    if (a.key !== f.name || !scopes.includes(a.scope)) continue;
    present = true;
    if (!a.values) known = false;
    else values.push(...summaryValues(a.values));
  }
  if (!present) return false;
  return known ? anySatisfies(values, c) : true;
}

function blockMayMatchCondition(meta: BlockMeta, c: SpanCondition): boolean {
  switch (c.kind) {
    case 'all':
      return true;
    case 'compare':
      return blockMayMatchCompare(meta, c);
    case 'and':
      return blockMayMatchCondition(meta, c.left) && blockMayMatchCondition(meta, c.right);
    case 'or':
      return blockMayMatchCondition(meta, c.left) || blockMayMatchCondition(meta, c.right);
  }
}

/** False when the block cannot hold a trace the query matches (a trace is evaluated over the block's spans). */
export function blockMayMatch(meta: BlockMeta, q: TraceQuery): boolean {
  switch (q.kind) {
    case 'spanset':
      return blockMayMatchCondition(meta, q.condition);
    case 'and':
      return blockMayMatch(meta, q.left) && blockMayMatch(meta, q.right);
    case 'or':
      return blockMayMatch(meta, q.left) || blockMayMatch(meta, q.right);
  }
}

const STATUS_COLUMN: Record<string, string> = { error: 'Error', ok: 'Ok', unset: 'Unset' };

function rowGroupMayMatchCompare(
  stats: RowGroupStatistics,
  c: Compare,
  serviceIsResourceOnly: boolean,
): boolean {
  const f = c.field;
  const str = (column: string, want: string): boolean => {
    const st = stats[column];
    if (!st || typeof st.min !== 'string' || typeof st.max !== 'string') return true;
    if (c.regex) return true;
    return rangeSatisfies(st.min, st.max, c, want);
  };
  if (f.kind === 'intrinsic') {
    switch (f.name) {
      case 'name':
        return str('SpanName', c.value.value as string);
      case 'status':
        return str('StatusCode', STATUS_COLUMN[c.value.value as string]!);
      case 'duration': {
        const st = stats['Duration'];
        if (!st || typeof st.min !== 'bigint' || typeof st.max !== 'bigint') return true;
        return rangeSatisfies(st.min, st.max, c, c.value.value as bigint);
      }
      default:
        // Trace-level intrinsics: the span that satisfies them may be any span of the trace.
        return true;
    }
  }
  if (
    f.name === 'service.name' &&
    c.value.type === 'string' &&
    (f.scope === 'resource' || serviceIsResourceOnly)
  )
    return str('ServiceName', c.value.value);
  return true;
}

function rowGroupMayMatchCondition(stats: RowGroupStatistics, c: SpanCondition, svc: boolean): boolean {
  switch (c.kind) {
    case 'all':
      return true;
    case 'compare':
      return rowGroupMayMatchCompare(stats, c, svc);
    case 'and':
      return rowGroupMayMatchCondition(stats, c.left, svc) && rowGroupMayMatchCondition(stats, c.right, svc);
    case 'or':
      return rowGroupMayMatchCondition(stats, c.left, svc) || rowGroupMayMatchCondition(stats, c.right, svc);
  }
}

/**
 * Whether a row group can hold a span of some spanset. Spansets joined with `&&` at trace level are treated
 * as `||` here: their spans may sit in different row groups of one trace (the reader adds the neighbours
 * that share a boundary trace).
 */
export function rowGroupMayMatch(stats: RowGroupStatistics, q: TraceQuery, meta: BlockMeta): boolean {
  // `.service.name` is the resource's unless some span carries a service.name attribute of its own.
  const svc = meta.search?.attributes
    ? !meta.search.attributes.some((a) => a.scope === 'span' && a.key === 'service.name')
    : false;
  const any = (t: TraceQuery): boolean =>
    t.kind === 'spanset' ? rowGroupMayMatchCondition(stats, t.condition, svc) : any(t.left) || any(t.right);
  return any(q);
}
