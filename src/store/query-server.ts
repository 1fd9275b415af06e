import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { systemClock, wallClockNow, type Clock } from '../clock.js';
import { parseDurationMs } from '../config/runtime.js';
import { answerUnreadableRequests, listen, readBoundedBody, timeoutChecking } from '../http/index.js';
import { encodeTraceRequest, traceDataToJson } from '../otlp/index.js';
import type { ReceiverAuthorize, ReceiverTls } from '../receiver/index.js';
import { toTraceData } from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { DECISIONS_PATH, DecisionFeedHttp, type DecisionLog } from '../decision-feed/index.js';
import { POLICY_PATH } from '../sampling/index.js';
import './jaeger-api.js';
import { traceLogsJson, traceLogsParam, withTraceLogs } from './trace-logs.js';
import type { LogsQuery } from './logs-query.js';
import type { PolicyHttp } from './policy-http.js';
import {
  PEER_PENDING_CONTENT_TYPE,
  PEER_PENDING_SEARCH_PATH,
  PEER_PENDING_TRACE_PATH,
} from './peer-spans.js';
import { decodeSearchQuery } from './search-query-json.js';
import type { QueryEngine } from './query-engine.js';
import type { ServiceGraph } from './service-graph.js';
import { encodeTrace, type TraceFormat } from './tempo-format.js';
import {
  BadRequest,
  traceIdParam,
  registeredRouteProviders,
  RouteTable,
  type QueryRoute,
  type RouteRequest,
  type RouteServer,
} from './query-routes.js';

/** `GET /api/servicegraph` without `start`: the last hour. */
const SERVICE_GRAPH_WINDOW_MS = 3_600_000;

export interface QueryServerOptions {
  readonly endpoint: string;
  readonly engine: QueryEngine;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tls?: ReceiverTls | undefined;
  /** Decides every request from its Authorization header and path (the store's roles, issue 14). */
  readonly authorize?: ReceiverAuthorize | undefined;
  /** Largest `limit` a search or /spans may ask for. */
  readonly maxLimit: number;
  /** Widest `end - start` a search may scan, in ms. */
  readonly maxSearchWindowMs: number;
  /** Block bytes one search may read. */
  readonly maxSearchBytes?: number;
  /** Ends the search windows that requests leave open (on the calendar: `wallClockNow`). */
  readonly clock?: Clock;
  readonly isReady?: () => boolean;
  /** The decision feed (issue 9) behind `/api/decisions`; without it the route answers 404. */
  readonly decisions?: DecisionLog | undefined;
  /** The cluster's sampling policy behind `/api/policy` (issue 14); without it the route answers 404. */
  readonly policy?: PolicyHttp | undefined;
  /** The service graph (issue 19) behind `/api/servicegraph`; without it the route answers 404. */
  readonly serviceGraph?: ServiceGraph | undefined;
  /** The store's logs (issue 16) behind `/api/logs` and `?logs=true`; without them those answer 400. */
  readonly logs?: LogsQuery | undefined;
}

/** A search another replica sends (its parsed query as JSON) is far below this. */
const MAX_PEER_SEARCH_BYTES = 1024 * 1024;
const DEFAULT_SPANS_LIMIT = 100;
/** Node's default request timeout, set explicitly so that the answer to a request that misses it can say it. */
const QUERY_REQUEST_TIMEOUT_MS = 300_000;

/**
 * The store's query API on `query.endpoint` (Tempo's port and paths): trace by id, search, recent spans,
 * health and metrics. Bearer-token auth and TLS as configured; inputs validated before any read.
 */
export class QueryServer {
  private readonly server: Server;
  private readonly options: QueryServerOptions;
  private readonly now: () => number;
  private readonly requests;
  private readonly feed: DecisionFeedHttp | undefined;
  private readonly routes = new RouteTable();
  private readonly context: RouteServer;

  constructor(options: QueryServerOptions) {
    this.options = options;
    const clock = options.clock ?? systemClock;
    // Wall-clock on purpose: every query window is compared with span and record timestamps.
    this.now = () => wallClockNow(clock);
    this.feed = options.decisions
      ? new DecisionFeedHttp({ log: options.decisions, logger: options.logger, metrics: options.metrics })
      : undefined;
    this.requests = options.metrics.counter(
      'store_query_requests_total',
      'Query API requests, by route and status.',
      ['route', 'status'],
    );
    this.context = {
      engine: options.engine,
      logger: options.logger,
      metrics: options.metrics,
      now: this.now,
      maxLimit: options.maxLimit,
      maxSearchWindowMs: options.maxSearchWindowMs,
      maxSearchBytes: options.maxSearchBytes,
      serviceGraph: options.serviceGraph,
      logs: options.logs,
      isReady: () => options.isReady?.() ?? true,
      json: (res, route, status, body, headers) => this.json(res, route, status, body, headers),
      send: (res, route, status, contentType, body, headers) =>
        this.send(res, route, status, contentType, body, headers),
    };
    this.routes.add(this.ownRoutes());
    for (const provider of registeredRouteProviders()) this.routes.add(provider(this.context));
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        options.logger.error({ err }, 'query API request failed');
        if (!res.headersSent) this.json(res, 'error', 500, { error: 'internal error' });
        else res.destroy();
      });
    };
    // Node's own timeouts (request 300 s, headers 60 s), kept to the second rather than to the next 30 s check.
    const checking = timeoutChecking(QUERY_REQUEST_TIMEOUT_MS);
    if (options.tls) {
      const https = createHttpsServer({ ...options.tls.serverOptions(), ...checking }, handler);
      options.tls.onChange((o) => https.setSecureContext(o));
      this.server = https;
    } else {
      this.server = createHttpServer(checking, handler);
    }
    this.server.requestTimeout = QUERY_REQUEST_TIMEOUT_MS;
    // A request Node could not read (timeout, not HTTP/1.1): answered as Node would, and counted, which Node's
    // own answer was not (route `unreadable`, status 408, 431 or 400).
    answerUnreadableRequests(this.server, 'query API', (_reason, status) =>
      this.requests.inc({ route: 'unreadable', status: String(status) }),
    );
  }

  start(): Promise<number> {
    return listen(this.server, this.options.endpoint, 'query.endpoint');
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await closed;
  }

  private json(
    res: ServerResponse,
    route: string,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    this.send(
      res,
      route,
      status,
      'application/json',
      typeof body === 'string' ? body : JSON.stringify(body),
      headers,
    );
  }

  private send(
    res: ServerResponse,
    route: string,
    status: number,
    contentType: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ) {
    this.requests.inc({ route, status: String(status) });
    res.writeHead(status, { 'content-type': contentType, ...headers }).end(body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://query');
    const path = url.pathname;
    // One decision for every request (src/store/access-role.ts), before any route is looked up: a route added
    // later is a reader route by default, and an unknown path reveals nothing without a credential.
    const verdict = this.options.authorize && (await this.options.authorize(req.headers.authorization, path));
    if (verdict && !verdict.ok) {
      const route =
        verdict.status === 401 ? 'unauthenticated' : verdict.status === 403 ? 'forbidden' : 'auth';
      const headers: Record<string, string> =
        verdict.status === 401
          ? { 'www-authenticate': 'Bearer' }
          : verdict.status === 503
            ? { 'retry-after': '1' }
            : {};
      this.json(res, route, verdict.status, { error: verdict.message, code: verdict.code }, headers);
      return;
    }
    try {
      const match = this.routes.match(req.method ?? 'GET', path);
      if (match.kind === 'none') {
        this.json(res, 'other', 404, { error: `no route ${path}` });
        return;
      }
      if (match.kind === 'method') {
        const allow = match.allow.join(', ');
        this.json(res, 'other', 405, { error: `only ${allow} is supported` }, { allow });
        return;
      }
      await match.route.handle({ req, res, url, params: match.params, server: this.context });
    } catch (err) {
      if (err instanceof BadRequest) {
        this.json(res, 'bad_request', 400, { error: err.message, code: err.code });
        return;
      }
      throw err;
    }
  }

  /** The store's own routes (Tempo's and others' come from registerQueryRoutes). */
  private ownRoutes(): QueryRoute[] {
    const feed = this.feed;
    const policy = this.options.policy;
    const health = ({ res }: RouteRequest) => {
      const ready = this.options.isReady?.() ?? true;
      this.json(res, 'health', ready ? 200 : 503, { status: ready ? 'ok' : 'not ready' });
    };
    return [
      { method: 'GET', path: '/health', name: 'health', public: true, handle: health },
      { method: 'GET', path: '/ready', name: 'health', public: true, handle: health },
      ...(feed
        ? ([
            {
              method: 'GET',
              path: DECISIONS_PATH,
              name: 'decisions',
              handle: (r) => feed.read(r.req, r.res, r.url),
            },
            {
              method: 'POST',
              path: DECISIONS_PATH,
              name: 'decisions',
              handle: (r) => feed.publish(r.req, r.res),
            },
          ] satisfies QueryRoute[])
        : []),
      ...(policy
        ? ([
            { method: 'GET', path: POLICY_PATH, name: 'policy', handle: (r) => policy.serve(r.req, r.res) },
          ] satisfies QueryRoute[])
        : []),
      {
        method: 'GET',
        path: '/api/traces/:id',
        name: 'trace',
        handle: (r) => this.trace(r.res, r.params.id!, r.url, { version: 1, accept: r.req.headers.accept }),
      },
      {
        method: 'GET',
        path: '/api/v2/traces/:id',
        name: 'trace_v2',
        handle: (r) => this.trace(r.res, r.params.id!, r.url, { version: 2, accept: r.req.headers.accept }),
      },
      {
        // What the other replicas ask this one for (query.peers, peer-spans.ts): a reader route.
        method: 'GET',
        path: `${PEER_PENDING_TRACE_PATH}/:id`,
        name: 'peer_pending_trace',
        handle: (r) => this.pendingTrace(r.res, r.params.id!),
      },
      {
        method: 'POST',
        path: PEER_PENDING_SEARCH_PATH,
        name: 'peer_pending_search',
        handle: (r) => this.pendingSearch(r.req, r.res),
      },
      { method: 'GET', path: '/spans', name: 'spans', handle: (r) => this.spans(r.res, r.url) },
      {
        method: 'GET',
        path: '/api/servicegraph',
        name: 'servicegraph',
        handle: (r) => this.serviceGraph(r.res, r.url),
      },
      {
        method: 'GET',
        path: '/metrics',
        name: 'metrics',
        handle: async ({ res }) => {
          const text = await this.options.metrics.registry.metrics();
          this.requests.inc({ route: 'metrics', status: '200' });
          res.writeHead(200, { 'content-type': this.options.metrics.registry.contentType }).end(text);
        },
      },
    ];
  }

  private async trace(res: ServerResponse, rawId: string, url: URL, as: TraceFormat): Promise<void> {
    const id = traceIdParam(rawId, 'trace id');
    const start = optionalSeconds(url, 'start');
    const end = optionalSeconds(url, 'end');
    // As Tempo's trace-by-id: an end before the start is a bad request, not an empty range (issue 18).
    if (start !== undefined && end !== undefined && end < start)
      throw new BadRequest(
        `end: expected a time at or after start (${start / 1_000_000_000n}), got ${end / 1_000_000_000n}`,
      );
    const range = {
      ...(start !== undefined ? { startNs: start } : {}),
      ...(end !== undefined ? { endNs: end } : {}),
    };
    const rows = await this.options.engine.findTrace(id, range);
    const route = as.version === 2 ? 'trace_v2' : 'trace';
    // Issue 16: `logs=true` adds the trace's logs as "logs" beside Tempo's answer (logs-api.ts).
    const logs = traceLogsParam(url) ? await traceLogsJson(this.context, id, range, as.accept) : undefined;
    if (rows.length === 0 && !logs?.count) {
      this.json(res, route, 404, { error: `trace ${id} not found` });
      return;
    }
    const body = encodeTrace(toTraceData(rows), as);
    const text = logs && typeof body.body === 'string' ? withTraceLogs(body.body, logs.json) : body.body;
    this.send(res, route, 200, body.contentType, text);
  }

  /** This replica's spans of one trace not in a block yet, as OTLP protobuf (empty when it holds none). */
  private pendingTrace(res: ServerResponse, rawId: string): void {
    const rows = this.options.engine.pendingTrace(traceIdParam(rawId, 'trace id'));
    this.send(
      res,
      'peer_pending_trace',
      200,
      PEER_PENDING_CONTENT_TYPE,
      encodeTraceRequest(toTraceData(rows)),
    );
  }

  /** Another replica's search, run over this replica's spans not in a block yet (query.peers). */
  private async pendingSearch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readBoundedBody(req, { limit: MAX_PEER_SEARCH_BYTES });
    if (read.kind === 'too_large')
      throw new BadRequest(`search: expected a query of at most ${MAX_PEER_SEARCH_BYTES} bytes`);
    const q = decodeSearchQuery(read.body.toString('utf8'));
    let result;
    try {
      result = await this.options.engine.searchPending(q);
    } catch (err) {
      // The query came decoded from another replica; one that does not evaluate is a bad request, not a crash.
      throw new BadRequest(`search: the query could not be run: ${(err as Error).message}`);
    }
    this.json(res, 'peer_pending_search', 200, result);
  }

  /** Nodes and edges with rates from the live pairing state (docs/service-graph.md). */
  private serviceGraph(res: ServerResponse, url: URL): void {
    const graph = this.options.serviceGraph;
    if (!graph) {
      this.json(res, 'servicegraph', 404, {
        error: 'the service graph is off (service_graph.enabled: false)',
      });
      return;
    }
    const nowNs = BigInt(this.now()) * 1_000_000n;
    const endNs = optionalSeconds(url, 'end') ?? nowNs;
    const startNs = optionalSeconds(url, 'start') ?? endNs - BigInt(SERVICE_GRAPH_WINDOW_MS) * 1_000_000n;
    if (endNs < startNs) throw new BadRequest('end: expected a time after start');
    const variants = url.searchParams.get('variants');
    if (variants !== null && variants !== 'true' && variants !== 'false')
      throw new BadRequest(`variants: expected true or false, got ${JSON.stringify(variants)}`);
    const service = url.searchParams.get('service');
    const view = graph.view({
      startMs: Number(startNs / 1_000_000n),
      endMs: Number(endNs / 1_000_000n),
      byVariant: variants === 'true',
      ...(service ? { service } : {}),
    });
    this.json(res, 'servicegraph', 200, view);
  }

  private async spans(res: ServerResponse, url: URL): Promise<void> {
    const limit = boundedLimit(url.searchParams.get('limit'), DEFAULT_SPANS_LIMIT, this.options.maxLimit);
    const rows = await this.options.engine.recentSpans(limit);
    this.json(res, 'spans', 200, traceDataToJson(toTraceData(rows)));
  }
}

export function boundedLimit(raw: string | null, fallback: number, max: number): number {
  if (raw === null || raw === '') return Math.min(fallback, max);
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new BadRequest(`limit: expected a positive integer, got ${JSON.stringify(raw)}`);
  return Math.min(Number(raw), max);
}

/** `start`/`end` in unix seconds (Tempo's unit), as nanoseconds. */
export function optionalSeconds(url: URL, name: string): bigint | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,12}$/.test(raw))
    throw new BadRequest(`${name}: expected unix seconds, got ${JSON.stringify(raw)}`);
  return BigInt(raw) * 1_000_000_000n;
}

export function optionalDuration<K extends string>(
  raw: string | null,
  key: K,
  name: string,
): Partial<Record<K, bigint>> {
  if (raw === null || raw === '') return {};
  const ms = parseDurationMs(raw);
  if (ms === undefined)
    throw new BadRequest(`${name}: expected a duration like "100ms", got ${JSON.stringify(raw)}`);
  return { [key]: BigInt(Math.round(ms * 1_000_000)) } as Partial<Record<K, bigint>>;
}
