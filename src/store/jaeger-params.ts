/**
 * Jaeger's query parameters (api_v3's `query_parser.go`, the classic `http_handler.go`), parsed with Jaeger's own
 * error messages, and a Jaeger search translated into the store's TraceQL tree (jaeger-api.ts serves them).
 */
import { parseDurationMs } from '../config/runtime.js';
import type {
  Field,
  Intrinsic,
  KIND_VALUES,
  Literal,
  Operator,
  Scope,
  SpanCondition,
  TraceQuery,
} from './traceql/ast.js';

/** A request the API refuses, answered in the API's own error shape with `status`. */
export class JaegerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const DEFAULT_SEARCH_DEPTH = 100;
export const DEFAULT_LOOKBACK_MS = 3_600_000;

// ---- parameters ----

/**
 * A trace id as Jaeger takes it (`apiv3.TraceIDFromString`): up to 32 hex digits (shorter ids are the low bits),
 * or the 16 bytes in base64 (standard or URL-safe, padded or not). Lower-case 32-digit hex out.
 */
export function parseJaegerTraceId(raw: string): string | undefined {
  if (/^[0-9a-fA-F]{1,32}$/.test(raw)) return raw.toLowerCase().padStart(32, '0');
  if (raw.length <= 24 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) {
    const bytes = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 16) return bytes.toString('hex');
  }
  return undefined;
}

/** The canonical (camelCase) parameter, else its deprecated snake_case alias (Jaeger's `getQueryParam`). */
export function param(url: URL, canonical: string, deprecated?: string): { value: string; name: string } {
  const v = url.searchParams.get(canonical);
  if (v) return { value: v, name: canonical };
  if (deprecated) return { value: url.searchParams.get(deprecated) ?? '', name: deprecated };
  return { value: '', name: canonical };
}

/**
 * An RFC 3339 time as unix nanoseconds. A `+` offset that reached us as a space (an unencoded `+` in a query
 * string, as Grafana sends it) is read as `+`.
 */
export function parseRfc3339(raw: string, name: string, status = 400): bigint {
  const text = raw.replace(/ (\d\d:\d\d)$/, '+$1');
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  const ms = m ? Date.parse(`${m[1]}${m[3]!.toUpperCase()}`) : NaN;
  if (!m || Number.isNaN(ms))
    throw new JaegerError(
      status,
      `malformed parameter ${name}: expected an RFC 3339 time like 2026-01-15T10:00:00Z, got ${JSON.stringify(raw.slice(0, 64))}`,
    );
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** A Go duration (`10ms`, `1.5s`, `1h30m`) as nanoseconds. */
export function parseGoDuration(
  raw: string,
  name: string,
  malformed: (name: string, why: string) => string,
): bigint {
  const ms = parseDurationMs(raw);
  if (ms === undefined)
    throw new JaegerError(
      400,
      malformed(name, `expected a duration like "100ms", got ${JSON.stringify(raw)}`),
    );
  return BigInt(Math.round(ms * 1_000_000));
}

export function parsePositiveInt(
  raw: string,
  name: string,
  malformed: (name: string, why: string) => string,
): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw new JaegerError(400, malformed(name, `expected a positive integer, got ${JSON.stringify(raw)}`));
  return Number(raw);
}

export const v3Malformed = (name: string, why: string) => `malformed parameter ${name}: ${why}`;
export const classicMalformed = (name: string, why: string) => `unable to parse param '${name}': ${why}`;

// ---- Jaeger's search as a TraceQL spanset (run by the store's TraceQL search, with its block skipping) ----

export const KINDS: Record<string, (typeof KIND_VALUES)[number]> = {
  INTERNAL: 'internal',
  SERVER: 'server',
  CLIENT: 'client',
  PRODUCER: 'producer',
  CONSUMER: 'consumer',
};

export const cmp = (field: Field, op: Operator, value: Literal): SpanCondition => ({
  kind: 'compare',
  field,
  op,
  value,
});
export const both = (left: SpanCondition, right: SpanCondition): SpanCondition => ({
  kind: 'and',
  left,
  right,
});
export const either = (left: SpanCondition, right: SpanCondition): SpanCondition => ({
  kind: 'or',
  left,
  right,
});
export const attr = (scope: Scope, name: string): Field => ({ kind: 'attribute', scope, name });
export const intrinsic = (name: Intrinsic): Field => ({ kind: 'intrinsic', name });

/**
 * Jaeger compares a tag's value with an attribute's string form (`AsString()`): "200" matches the string "200",
 * the integer 200 and the double 200. As TraceQL: the string, or the number, or the boolean it spells.
 */
export function valueIs(field: Field, value: string): SpanCondition {
  let c = cmp(field, '=', { type: 'string', value });
  const n = Number(value);
  if (value.trim() !== '' && Number.isFinite(n) && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value))
    c = either(c, cmp(field, '=', { type: Number.isInteger(n) ? 'int' : 'float', value: n }));
  if (value === 'true' || value === 'false')
    c = either(c, cmp(field, '=', { type: 'bool', value: value === 'true' }));
  return c;
}

/**
 * One Jaeger tag as a span condition, after Jaeger's own matching (internal/storage/v2/memory/tenant.go,
 * validSpan): `error`, `span.status`, `span.kind` test the span's status and kind; `resource.<key>` the
 * resource's attributes; any other key the span's or the resource's. (Jaeger also looks in scope, event and
 * link attributes; TraceQL here does not, and `scope.name` / `scope.version` are refused rather than ignored.)
 */
export function jaegerTagCondition(key: string, value: string): SpanCondition {
  switch (key) {
    case 'error': {
      const v = value.toLowerCase();
      if (!['true', 'false', '1', '0', 't', 'f'].includes(v))
        throw new JaegerError(400, `tag error: expected true or false, got ${JSON.stringify(value)}`);
      const isError = v === 'true' || v === '1' || v === 't';
      return cmp(intrinsic('status'), isError ? '=' : '!=', { type: 'status', value: 'error' });
    }
    case 'span.status': {
      const v = value.toUpperCase();
      return cmp(intrinsic('status'), '=', {
        type: 'status',
        value: v === 'OK' ? 'ok' : v === 'ERROR' ? 'error' : 'unset',
      });
    }
    case 'span.kind':
      return cmp(intrinsic('kind'), '=', {
        type: 'kind',
        value: KINDS[value.toUpperCase()] ?? 'unspecified',
      });
    case 'scope.name':
    case 'scope.version':
      throw new JaegerError(
        400,
        `tag ${key}: searching by instrumentation scope is not supported by this store`,
      );
  }
  if (key.startsWith('resource.')) return valueIs(attr('resource', key.slice('resource.'.length)), value);
  return either(valueIs(attr('span', key), value), valueIs(attr('resource', key), value));
}

/** Jaeger's search conditions, all on one span: a TraceQL spanset. */
export function jaegerTraceQuery(s: TraceSearch): TraceQuery {
  const parts: SpanCondition[] = [];
  if (s.service) parts.push(cmp(attr('resource', 'service.name'), '=', { type: 'string', value: s.service }));
  if (s.operation) parts.push(cmp(intrinsic('name'), '=', { type: 'string', value: s.operation }));
  if (s.minDurationNs !== undefined)
    parts.push(cmp(intrinsic('duration'), '>=', { type: 'duration', value: s.minDurationNs }));
  if (s.maxDurationNs !== undefined)
    parts.push(cmp(intrinsic('duration'), '<=', { type: 'duration', value: s.maxDurationNs }));
  for (const [key, value] of Object.entries(s.tags)) parts.push(jaegerTagCondition(key, value));
  const condition = parts.reduce<SpanCondition | undefined>((acc, c) => (acc ? both(acc, c) : c), undefined);
  return { kind: 'spanset', condition: condition ?? { kind: 'all' }, index: 0 };
}

export function parseTagsJson(raw: string, name: string, malformed: (name: string, why: string) => string) {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    doc = undefined;
  }
  if (
    !doc ||
    typeof doc !== 'object' ||
    Array.isArray(doc) ||
    Object.values(doc).some((v) => typeof v !== 'string')
  )
    throw new JaegerError(
      400,
      malformed(name, `expected a JSON object of strings like {"http.status_code":"200"}`),
    );
  return doc as Record<string, string>;
}

// ---- reading ----

export interface TraceSearch {
  service: string;
  operation: string;
  tags: Record<string, string>;
  startNs: bigint;
  endNs: bigint;
  minDurationNs?: bigint;
  maxDurationNs?: bigint;
  limit: number;
}

/** api_v3's FindTraces query parameters (`query_parser.go`). */
export function v3Search(url: URL): TraceSearch {
  const min = param(url, 'query.startTimeMin', 'query.start_time_min');
  const max = param(url, 'query.startTimeMax', 'query.start_time_max');
  if (!min.value || !max.value)
    throw new JaegerError(400, 'query.startTimeMin and query.startTimeMax are required');
  const startNs = parseRfc3339(min.value, min.name);
  const endNs = parseRfc3339(max.value, max.name);
  if (startNs >= endNs) throw new JaegerError(400, 'query.startTimeMin must be before query.startTimeMax');
  let depth = param(url, 'query.searchDepth', 'query.search_depth');
  if (!depth.value) depth = param(url, 'query.num_traces');
  const attrs = url.searchParams.get('query.attributes');
  const dMin = param(url, 'query.durationMin', 'query.duration_min');
  const dMax = param(url, 'query.durationMax', 'query.duration_max');
  if (url.searchParams.get('query.filter'))
    throw new JaegerError(400, 'query.filter (structured filters) is not supported by this store');
  return {
    service: param(url, 'query.serviceName', 'query.service_name').value,
    operation: param(url, 'query.operationName', 'query.operation_name').value,
    tags: attrs ? parseTagsJson(attrs, 'query.attributes', v3Malformed) : {},
    startNs,
    endNs,
    ...(dMin.value ? { minDurationNs: parseGoDuration(dMin.value, dMin.name, v3Malformed) } : {}),
    ...(dMax.value ? { maxDurationNs: parseGoDuration(dMax.value, dMax.name, v3Malformed) } : {}),
    limit: depth.value ? parsePositiveInt(depth.value, depth.name, v3Malformed) : DEFAULT_SEARCH_DEPTH,
  };
}

/** Unix microseconds (the classic API's `start`/`end`) as nanoseconds. */
export function parseMicros(url: URL, name: string): bigint | undefined {
  const raw = url.searchParams.get(name);
  if (!raw) return undefined;
  if (!/^\d{1,17}$/.test(raw))
    throw new JaegerError(
      400,
      classicMalformed(name, `expected unix microseconds, got ${JSON.stringify(raw)}`),
    );
  return BigInt(raw) * 1000n;
}

/** The classic API's search parameters; `nowMs` ends a search that gives no `end`. */
export function classicSearch(url: URL, nowMs: number): TraceSearch {
  const p = url.searchParams;
  const endNs = parseMicros(url, 'end') ?? BigInt(nowMs) * 1_000_000n;
  const lookback = p.get('lookback');
  // Jaeger UI sends `lookback` (`1h`, `2d`) beside `start`; `custom` means start and end say it all.
  const lookbackNs =
    lookback && lookback !== 'custom'
      ? parseGoDuration(lookback, 'lookback', classicMalformed)
      : BigInt(DEFAULT_LOOKBACK_MS) * 1_000_000n;
  const startNs = parseMicros(url, 'start') ?? endNs - lookbackNs;
  const tags: Record<string, string> = {};
  for (const t of p.getAll('tag')) {
    const i = t.indexOf(':');
    if (i <= 0) throw new JaegerError(400, `malformed 'tag' parameter, expecting key:value, received: ${t}`);
    tags[t.slice(0, i)] = t.slice(i + 1);
  }
  for (const t of p.getAll('tags')) Object.assign(tags, parseTagsJson(t, 'tags', classicMalformed));
  const minD = p.get('minDuration');
  const maxD = p.get('maxDuration');
  const s: TraceSearch = {
    service: p.get('service') ?? '',
    operation: p.get('operation') ?? '',
    tags,
    startNs,
    endNs,
    ...(minD ? { minDurationNs: parseGoDuration(minD, 'minDuration', classicMalformed) } : {}),
    ...(maxD ? { maxDurationNs: parseGoDuration(maxD, 'maxDuration', classicMalformed) } : {}),
    limit: p.get('limit')
      ? parsePositiveInt(p.get('limit')!, 'limit', classicMalformed)
      : DEFAULT_SEARCH_DEPTH,
  };
  if (s.minDurationNs !== undefined && s.maxDurationNs !== undefined && s.maxDurationNs < s.minDurationNs)
    throw new JaegerError(400, "'maxDuration' should be greater than 'minDuration'");
  return s;
}
