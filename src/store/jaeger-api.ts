/**
 * Jaeger's query APIs over the store, so Jaeger UI and Grafana's Jaeger data source read it unchanged:
 * - api_v3's HTTP gateway (jaegertracing/jaeger `cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/
 *   http_gateway.go`, `query_parser.go`), at `/api/v3/...` and, for a data source whose URL ends in `/jaeger`,
 *   at `/jaeger/api/v3/...`;
 * - the classic JSON API of Jaeger UI and Grafana's Jaeger data source (Jaeger's `http_handler.go` before #9260,
 *   grafana `pkg/tsdb/jaeger/client.go`), at `/jaeger/api/...`, so it does not collide with Tempo's `/api/traces/{id}`.
 * Handlers return an answer (status and JSON body); the module registers them with the query server's routes.
 */
import { parseDurationMs } from '../config/index.js';
import { traceDataToJson } from '../otlp/index.js';
import { toTraceData, type StoredSpan } from '../storage/index.js';
import {
  attributeString,
  jaegerResponse,
  jaegerSpanKind,
  jaegerTraceId,
  toJaegerTrace,
  NO_SERVICE_NAME,
  type JaegerTrace,
} from './jaeger-model.js';
import type { QueryEngine, SearchQuery } from './query-engine.js';
import { registerQueryRoutes } from './query-routes.js';
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

/** What the handlers need of the query server. */
export interface JaegerApiContext {
  readonly engine: QueryEngine;
  readonly now: () => number;
  /** Largest number of traces one search returns (`query.max_limit`). */
  readonly maxLimit: number;
  /** Widest search window, in ms (`query.max_search_window`). */
  readonly maxSearchWindowMs: number;
  readonly maxSearchBytes?: number | undefined;
}

/** A handler's answer: the status and the JSON body. */
export interface JaegerAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface JaegerRoute {
  /** Segments; `:name` matches one segment, percent-decoded. */
  readonly path: string;
  /** The `route` label of `store_query_requests_total`. */
  readonly name: string;
  readonly handle: (
    ctx: JaegerApiContext,
    url: URL,
    params: Readonly<Record<string, string>>,
  ) => Promise<JaegerAnswer>;
}

/** A request the API refuses, answered in the API's own error shape with `status`. */
class JaegerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_SEARCH_DEPTH = 100;
const DEFAULT_LOOKBACK_MS = 3_600_000;

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
function param(url: URL, canonical: string, deprecated?: string): { value: string; name: string } {
  const v = url.searchParams.get(canonical);
  if (v) return { value: v, name: canonical };
  if (deprecated) return { value: url.searchParams.get(deprecated) ?? '', name: deprecated };
  return { value: '', name: canonical };
}

/**
 * An RFC 3339 time as unix nanoseconds. A `+` offset that reached us as a space (an unencoded `+` in a query
 * string, as Grafana sends it) is read as `+`.
 */
function parseRfc3339(raw: string, name: string, status = 400): bigint {
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
function parseGoDuration(
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

function parsePositiveInt(
  raw: string,
  name: string,
  malformed: (name: string, why: string) => string,
): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw new JaegerError(400, malformed(name, `expected a positive integer, got ${JSON.stringify(raw)}`));
  return Number(raw);
}

const v3Malformed = (name: string, why: string) => `malformed parameter ${name}: ${why}`;
const classicMalformed = (name: string, why: string) => `unable to parse param '${name}': ${why}`;

// ---- Jaeger's search as a TraceQL spanset (run by the store's TraceQL search, with its block skipping) ----

const KINDS: Record<string, (typeof KIND_VALUES)[number]> = {
  INTERNAL: 'internal',
  SERVER: 'server',
  CLIENT: 'client',
  PRODUCER: 'producer',
  CONSUMER: 'consumer',
};

const cmp = (field: Field, op: Operator, value: Literal): SpanCondition => ({
  kind: 'compare',
  field,
  op,
  value,
});
const both = (left: SpanCondition, right: SpanCondition): SpanCondition => ({ kind: 'and', left, right });
const either = (left: SpanCondition, right: SpanCondition): SpanCondition => ({ kind: 'or', left, right });
const attr = (scope: Scope, name: string): Field => ({ kind: 'attribute', scope, name });
const intrinsic = (name: Intrinsic): Field => ({ kind: 'intrinsic', name });

/**
 * Jaeger compares a tag's value with an attribute's string form (`AsString()`): "200" matches the string "200",
 * the integer 200 and the double 200. As TraceQL: the string, or the number, or the boolean it spells.
 */
function valueIs(field: Field, value: string): SpanCondition {
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
function jaegerTraceQuery(s: TraceSearch): TraceQuery {
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

function parseTagsJson(raw: string, name: string, malformed: (name: string, why: string) => string) {
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

interface TraceSearch {
  service: string;
  operation: string;
  tags: Record<string, string>;
  startNs: bigint;
  endNs: bigint;
  minDurationNs?: bigint;
  maxDurationNs?: bigint;
  limit: number;
}

/** Whole traces with at least one span matching every condition, newest first. */
async function findTraces(ctx: JaegerApiContext, s: TraceSearch): Promise<StoredSpan[][]> {
  if (s.endNs < s.startNs) throw new JaegerError(400, 'the end of the search window is before its start');
  if (s.endNs - s.startNs > BigInt(ctx.maxSearchWindowMs) * 1_000_000n)
    throw new JaegerError(
      400,
      `the search window spans more than query.max_search_window (${ctx.maxSearchWindowMs / 1000} s); narrow it`,
    );
  const q: SearchQuery = {
    query: jaegerTraceQuery(s),
    startNs: s.startNs,
    endNs: s.endNs,
    limit: Math.min(s.limit, ctx.maxLimit),
    ...(ctx.maxSearchBytes !== undefined ? { maxBytes: ctx.maxSearchBytes } : {}),
  };
  const result = await ctx.engine.search(q);
  const traces: StoredSpan[][] = [];
  for (const hit of result.traces) {
    const rows = await ctx.engine.findTrace(hit.traceID);
    if (rows.length > 0) traces.push(rows);
  }
  return traces;
}

/**
 * The operations of a service seen within the last `query.max_search_window`: Jaeger's lists have no time range,
 * and a block is read once for them (then kept), so the window bounds what a first listing reads.
 */
function recentOperations(ctx: JaegerApiContext, service: string) {
  const startNs = (BigInt(ctx.now()) - BigInt(ctx.maxSearchWindowMs)) * 1_000_000n;
  return ctx.engine.operations(service, { startNs });
}

function serviceOf(r: StoredSpan): string {
  for (const kv of r.resource.attributes) if (kv.key === 'service.name') return attributeString(kv.value);
  return NO_SERVICE_NAME;
}

// ---- api_v3 ----

/** api_v3's error body (`GRPCGatewayError`): `{"error": {"httpCode": ..., "message": ...}}`. */
function v3Error(status: number, message: string): JaegerAnswer {
  return { status, body: { error: { httpCode: status, message } } };
}

/** api_v3 wraps the OTLP `TracesData` of every trace, concatenated, as `{"result": {...}}` (GRPCGatewayWrapper). */
function v3Traces(traces: readonly StoredSpan[][]): JaegerAnswer {
  if (traces.length === 0) return v3Error(404, 'No traces found');
  const resourceSpans = traces.flatMap((rows) => traceDataToJson(toTraceData(rows)).resourceSpans);
  return { status: 200, body: { result: { resourceSpans } } };
}

function v3Search(url: URL): TraceSearch {
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

/** A trace summary as api_v3's `TraceSummary` (proto3 JSON: zero counts left out, 64-bit times as strings). */
function traceSummary(rows: readonly StoredSpan[]): Record<string, unknown> {
  let start = rows[0]!.span.startTimeUnixNano;
  let end = rows[0]!.span.endTimeUnixNano;
  const ids = new Set(rows.map((r) => r.span.spanId));
  const services = new Map<string, { spanCount: number; errorSpanCount: number }>();
  let errors = 0;
  let orphans = 0;
  for (const r of rows) {
    if (r.span.startTimeUnixNano < start) start = r.span.startTimeUnixNano;
    if (r.span.endTimeUnixNano > end) end = r.span.endTimeUnixNano;
    const isError = r.span.status.code === 2;
    if (isError) errors++;
    if (r.span.parentSpanId && !ids.has(r.span.parentSpanId)) orphans++;
    const name = serviceOf(r);
    const s = services.get(name) ?? { spanCount: 0, errorSpanCount: 0 };
    s.spanCount++;
    if (isError) s.errorSpanCount++;
    services.set(name, s);
  }
  const root = rows.find((r) => !r.span.parentSpanId) ?? rows[0]!;
  const nonZero = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== ''));
  return nonZero({
    traceId: root.span.traceId,
    rootServiceName: serviceOf(root),
    rootOperationName: root.span.name,
    minStartTimeUnixNano: start.toString(),
    maxEndTimeUnixNano: end.toString(),
    spanCount: rows.length,
    errorSpanCount: errors,
    orphanSpanCount: orphans,
    services: [...services.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, c]) => nonZero({ name, ...c })),
  });
}

async function v3GetTrace(ctx: JaegerApiContext, url: URL, params: Readonly<Record<string, string>>) {
  const raw = params['id'] ?? '';
  const id = parseJaegerTraceId(raw);
  if (!id)
    throw new JaegerError(
      400,
      `malformed parameter trace_id: expected up to 32 hex digits or 16 bytes in base64, got ${JSON.stringify(raw.slice(0, 64))}`,
    );
  const start = param(url, 'startTime', 'start_time');
  const end = param(url, 'endTime', 'end_time');
  const range = {
    ...(start.value ? { startNs: parseRfc3339(start.value, start.name) } : {}),
    ...(end.value ? { endNs: parseRfc3339(end.value, end.name) } : {}),
  };
  const rows = await ctx.engine.findTrace(id, range);
  return v3Traces(rows.length > 0 ? [rows] : []);
}

const v3Routes = (prefix: string): JaegerRoute[] => [
  {
    path: `${prefix}/api/v3/services`,
    name: 'jaeger_v3_services',
    handle: async (ctx) => ({ status: 200, body: { services: await ctx.engine.serviceNames() } }),
  },
  {
    path: `${prefix}/api/v3/operations`,
    name: 'jaeger_v3_operations',
    handle: async (ctx, url) => {
      const service = url.searchParams.get('service') ?? '';
      const kind = param(url, 'spanKind', 'span_kind').value.toLowerCase();
      const ops = service ? await recentOperations(ctx, service) : [];
      const operations = ops
        .map((op) => ({ name: op.name, spanKind: jaegerSpanKind(op.kind) || 'internal' }))
        .filter((op) => !kind || op.spanKind === kind);
      return { status: 200, body: { operations } };
    },
  },
  {
    path: `${prefix}/api/v3/traces`,
    name: 'jaeger_v3_search',
    handle: async (ctx, url) => v3Traces(await findTraces(ctx, v3Search(url))),
  },
  {
    path: `${prefix}/api/v3/trace-summaries`,
    name: 'jaeger_v3_summaries',
    handle: async (ctx, url) => {
      const traces = await findTraces(ctx, v3Search(url));
      return { status: 200, body: { summaries: traces.map(traceSummary) } };
    },
  },
  { path: `${prefix}/api/v3/traces/:id`, name: 'jaeger_v3_trace', handle: v3GetTrace },
];

// ---- the classic API (Jaeger UI's and Grafana's Jaeger data source's /api/...) ----

/** The classic API's error body: the envelope with `errors: [{code, msg}]`. */
function classicError(status: number, message: string): JaegerAnswer {
  return {
    status,
    body: { data: null, total: 0, limit: 0, offset: 0, errors: [{ code: status, msg: message }] },
  };
}

/** Unix microseconds (the classic API's `start`/`end`) as nanoseconds. */
function parseMicros(url: URL, name: string): bigint | undefined {
  const raw = url.searchParams.get(name);
  if (!raw) return undefined;
  if (!/^\d{1,17}$/.test(raw))
    throw new JaegerError(
      400,
      classicMalformed(name, `expected unix microseconds, got ${JSON.stringify(raw)}`),
    );
  return BigInt(raw) * 1000n;
}

function classicSearch(ctx: JaegerApiContext, url: URL): TraceSearch {
  const p = url.searchParams;
  const endNs = parseMicros(url, 'end') ?? BigInt(ctx.now()) * 1_000_000n;
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

async function classicTraces(ctx: JaegerApiContext, url: URL): Promise<JaegerAnswer> {
  const ids = url.searchParams.getAll('traceID');
  if (ids.length > 0) {
    // Lookup by ids: the found traces, and an error entry for each id not found.
    const data: JaegerTrace[] = [];
    const errors: { msg: string; traceID: string }[] = [];
    for (const raw of ids) {
      const id = parseJaegerTraceId(raw);
      if (!id) throw new JaegerError(400, `cannot parse traceID param: ${JSON.stringify(raw.slice(0, 64))}`);
      const rows = await ctx.engine.findTrace(id);
      if (rows.length > 0) data.push(toJaegerTrace(rows));
      else errors.push({ msg: 'trace not found', traceID: jaegerTraceId(id) });
    }
    return { status: 200, body: { ...jaegerResponse(data), errors: errors.length > 0 ? errors : null } };
  }
  const traces = await findTraces(ctx, classicSearch(ctx, url));
  return { status: 200, body: jaegerResponse(traces.map(toJaegerTrace)) };
}

async function classicTrace(ctx: JaegerApiContext, url: URL, params: Readonly<Record<string, string>>) {
  const raw = params['id'] ?? '';
  const id = parseJaegerTraceId(raw);
  if (!id)
    throw new JaegerError(
      400,
      `unable to parse param 'traceID': expected up to 32 hex digits, got ${JSON.stringify(raw.slice(0, 64))}`,
    );
  // Grafana's Jaeger data source sends milliseconds here (`Trace(ctx, id, From.UnixMilli(), To.UnixMilli())`, with
  // `traceIdTimeParams` on) where Jaeger reads microseconds; microseconds that small are before 1973, so read as ms.
  const hint = (ns: bigint | undefined) =>
    ns !== undefined && ns < 100_000_000_000_000_000n ? ns * 1000n : ns;
  const startNs = hint(parseMicros(url, 'start'));
  const endNs = hint(parseMicros(url, 'end'));
  const rows = await ctx.engine.findTrace(id, {
    ...(startNs !== undefined ? { startNs } : {}),
    ...(endNs !== undefined ? { endNs } : {}),
  });
  if (rows.length === 0) return classicError(404, 'trace not found');
  return { status: 200, body: jaegerResponse([toJaegerTrace(rows)]) };
}

const classicRoutes: JaegerRoute[] = [
  {
    path: '/jaeger/api/services',
    name: 'jaeger_services',
    handle: async (ctx) => {
      const services = await ctx.engine.serviceNames();
      return { status: 200, body: jaegerResponse(services, services.length) };
    },
  },
  {
    path: '/jaeger/api/services/:service/operations',
    name: 'jaeger_operations',
    handle: async (ctx, _url, params) => {
      const names = [...new Set((await recentOperations(ctx, params['service'] ?? '')).map((o) => o.name))];
      return { status: 200, body: jaegerResponse(names, names.length) };
    },
  },
  {
    path: '/jaeger/api/operations',
    name: 'jaeger_operations',
    handle: async (ctx, url) => {
      const service = url.searchParams.get('service');
      if (!service) throw new JaegerError(400, "parameter 'service' is required");
      const kind = (url.searchParams.get('spanKind') ?? '').toLowerCase();
      const data = (await recentOperations(ctx, service))
        .map((op) => ({ name: op.name, spanKind: jaegerSpanKind(op.kind) }))
        .filter((op) => !kind || op.spanKind === kind);
      return { status: 200, body: jaegerResponse(data, data.length) };
    },
  },
  { path: '/jaeger/api/traces', name: 'jaeger_search', handle: classicTraces },
  { path: '/jaeger/api/traces/:id', name: 'jaeger_trace', handle: classicTrace },
];

/** Every Jaeger route, each answering its own API's error shape. */
export const JAEGER_ROUTES: readonly JaegerRoute[] = [
  ...v3Routes(''),
  ...v3Routes('/jaeger'),
  ...classicRoutes,
].map((route) => ({
  ...route,
  handle: async (ctx, url, params) => {
    try {
      return await route.handle(ctx, url, params);
    } catch (err) {
      if (!(err instanceof JaegerError)) throw err;
      return route.path.includes('/api/v3/')
        ? v3Error(err.status, err.message)
        : classicError(err.status, err.message);
    }
  },
}));

// The query server serves every registered route (src/store/query-routes.ts); it imports this module for it.
registerQueryRoutes((server) =>
  JAEGER_ROUTES.map((route) => ({
    method: 'GET' as const,
    path: route.path,
    name: route.name,
    handle: async ({ url, params, res }) => {
      const answer = await route.handle(server, url, params);
      server.json(res, route.name, answer.status, answer.body);
    },
  })),
);
