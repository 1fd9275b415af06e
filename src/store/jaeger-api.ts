/**
 * Jaeger's query APIs over the store, so Jaeger UI and Grafana's Jaeger data source read it unchanged:
 * - api_v3's HTTP gateway (jaegertracing/jaeger `cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/
 *   http_gateway.go`, `query_parser.go`), at `/api/v3/...` and, for a data source whose URL ends in `/jaeger`,
 *   at `/jaeger/api/v3/...`;
 * - the classic JSON API of Jaeger UI and Grafana's Jaeger data source (Jaeger's `http_handler.go` before #9260,
 *   grafana `pkg/tsdb/jaeger/client.go`), at `/jaeger/api/...`, so it does not collide with Tempo's `/api/traces/{id}`.
 * Handlers return an answer (status and JSON body); the module registers them with the query server's routes.
 */
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
import {
  JaegerError,
  type TraceSearch,
  jaegerTraceQuery,
  param,
  parseJaegerTraceId,
  parseRfc3339,
  classicSearch,
  parseMicros,
  v3Search,
} from './jaeger-params.js';
import type { QueryEngine, SearchQuery } from './query-engine.js';
import { registerQueryRoutes } from './query-routes.js';

export { jaegerTagCondition, parseJaegerTraceId } from './jaeger-params.js';

/** What the handlers need of the query server. */
export interface JaegerApiContext {
  readonly engine: QueryEngine;
  /** The calendar's now in epoch ms (the query server's `RouteServer.now`), compared with span timestamps. */
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
  const traces = await findTraces(ctx, classicSearch(url, ctx.now()));
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
