/**
 * A search as one replica sends it to another (query.peers, docs/query-api.md "Several replicas"): the
 * `SearchQuery` the API already validated, parsed TraceQL included, as JSON. JSON has no bigint (times,
 * durations) and no RegExp (`=~`, `!~`): they travel as `{"$bigint": "123"}` and `{"$regexp": [source, flags]}`.
 * Sending the parsed query rather than the request's text keeps Tempo's, Jaeger's and the legacy searches one
 * path, and the other replica evaluates exactly what this one does.
 */
import type { SearchQuery } from './query-engine.js';
import { BadRequest } from './query-routes.js';

const BIGINT = '$bigint';
const REGEXP = '$regexp';

export function encodeSearchQuery(q: SearchQuery): string {
  return JSON.stringify(q, function (this: unknown, _key: string, value: unknown) {
    if (typeof value === 'bigint') return { [BIGINT]: value.toString() };
    if (value instanceof RegExp) return { [REGEXP]: [value.source, value.flags] };
    return value;
  });
}

/** The query `encodeSearchQuery` wrote; anything else is a BadRequest naming what was expected. */
export function decodeSearchQuery(text: string): SearchQuery {
  let q: unknown;
  try {
    q = JSON.parse(text, (_key, value: unknown) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const o = value as Record<string, unknown>;
        if (typeof o[BIGINT] === 'string' && /^-?\d{1,30}$/.test(o[BIGINT])) return BigInt(o[BIGINT]);
        const re = o[REGEXP];
        if (Array.isArray(re) && typeof re[0] === 'string' && typeof re[1] === 'string')
          return new RegExp(re[0], re[1]);
      }
      return value;
    });
  } catch (err) {
    throw new BadRequest(`search: expected a query as JSON, ${(err as Error).message}`);
  }
  const o = q as Partial<Record<keyof SearchQuery, unknown>> | null;
  if (
    o === null ||
    typeof o !== 'object' ||
    typeof o.startNs !== 'bigint' ||
    typeof o.endNs !== 'bigint' ||
    typeof o.limit !== 'number' ||
    (o.query !== undefined && !isTraceQuery(o.query))
  )
    throw new BadRequest(
      'search: expected a query with startNs, endNs (as $bigint), limit and, if any, a parsed TraceQL query',
    );
  return o as SearchQuery;
}

type Shape = Record<string, unknown>;
const isObject = (v: unknown): v is Shape => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The parser's TraceQuery (traceql/ast.ts): spansets joined by `and` / `or`. */
function isTraceQuery(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (v['kind'] === 'spanset') return typeof v['index'] === 'number' && isCondition(v['condition']);
  return (v['kind'] === 'and' || v['kind'] === 'or') && isTraceQuery(v['left']) && isTraceQuery(v['right']);
}

function isCondition(v: unknown): boolean {
  if (!isObject(v)) return false;
  switch (v['kind']) {
    case 'all':
      return true;
    case 'compare':
      return (
        isObject(v['field']) &&
        typeof v['field']['name'] === 'string' &&
        typeof v['op'] === 'string' &&
        isObject(v['value']) &&
        typeof v['value']['type'] === 'string' &&
        (v['regex'] === undefined || v['regex'] instanceof RegExp)
      );
    case 'and':
    case 'or':
      return isCondition(v['left']) && isCondition(v['right']);
    default:
      return false;
  }
}
