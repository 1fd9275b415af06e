import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseDurationMs, parseEndpoint } from '../config/index.js';
import { compareRequest } from '../compare/index.js';
import { isSentinelError, SentinelError } from '../errors.js';
import { traceDataToJson } from '../otlp/index.js';
import type { ReceiverTls } from '../receiver/index.js';
import { toTraceData } from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { DECISIONS_PATH } from '../sampling/completion/feed-protocol.js';
import { DecisionFeedHttp } from './decision-feed-http.js';
import type { DecisionLog } from './decision-log.js';
import type { QueryEngine, SearchQuery } from './query-engine.js';
import type { ServiceGraph } from './service-graph.js';

export interface QueryServerOptions {
  readonly endpoint: string;
  readonly engine: QueryEngine;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tls?: ReceiverTls | undefined;
  readonly authorize?: (authorization: string | undefined) => boolean;
  /** Largest `limit` a search or /spans may ask for. */
  readonly maxLimit: number;
  /** Widest `end - start` a search may scan, in ms. */
  readonly maxSearchWindowMs: number;
  /** Block bytes one search may read. */
  readonly maxSearchBytes?: number;
  readonly now?: () => number;
  readonly isReady?: () => boolean;
  /** The decision feed (issue 9) behind `/api/decisions`; without it the route answers 404. */
  readonly decisions?: DecisionLog | undefined;
  /** The service graph (issue 19) behind `/api/servicegraph`; without it the route answers 404. */
  readonly serviceGraph?: ServiceGraph | undefined;
}

const TRACE_ID_RE = /^[0-9a-fA-F]{32}$/;
const DEFAULT_SEARCH_LIMIT = 20;
const DEFAULT_SPANS_LIMIT = 100;
const DEFAULT_SEARCH_WINDOW_MS = 3_600_000;

class BadRequest extends SentinelError {
  constructor(message: string) {
    super('SENTINEL_ERR_QUERY_INVALID', message);
  }
}

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

  constructor(options: QueryServerOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.feed = options.decisions
      ? new DecisionFeedHttp({ log: options.decisions, logger: options.logger, metrics: options.metrics })
      : undefined;
    this.requests = options.metrics.counter(
      'store_query_requests_total',
      'Query API requests, by route and status.',
      ['route', 'status'],
    );
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        options.logger.error({ err }, 'query API request failed');
        if (!res.headersSent) this.json(res, 'error', 500, { error: 'internal error' });
        else res.destroy();
      });
    };
    if (options.tls) {
      const https = createHttpsServer(options.tls.serverOptions(), handler);
      options.tls.onChange((o) => https.setSecureContext(o));
      this.server = https;
    } else {
      this.server = createHttpServer(handler);
    }
  }

  async start(): Promise<number> {
    const ep = parseEndpoint(this.options.endpoint);
    if (!ep)
      throw new TypeError(
        `query.endpoint: expected "host:port", got ${JSON.stringify(this.options.endpoint)}`,
      );
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(ep.port, ep.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
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
    this.requests.inc({ route, status: String(status) });
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://query');
    const path = url.pathname;
    const feed = path === DECISIONS_PATH ? this.feed : undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD' && !(feed && req.method === 'POST')) {
      const allow = feed ? 'GET, HEAD, POST' : 'GET, HEAD';
      this.json(res, 'other', 405, { error: `only ${allow} is supported` }, { allow });
      return;
    }
    if (path === '/health' || path === '/ready') {
      const ready = this.options.isReady?.() ?? true;
      this.json(res, 'health', ready ? 200 : 503, { status: ready ? 'ok' : 'not ready' });
      return;
    }
    if (this.options.authorize && !this.options.authorize(req.headers.authorization)) {
      this.json(
        res,
        'unauthenticated',
        401,
        { error: 'a valid bearer token is required' },
        {
          'www-authenticate': 'Bearer',
        },
      );
      return;
    }
    try {
      if (feed) {
        if (req.method === 'POST') await feed.publish(req, res);
        else feed.read(req, res, url);
      } else if (path.startsWith('/api/traces/'))
        await this.trace(res, decodePathSegment(path.slice('/api/traces/'.length)), url);
      else if (path === '/api/search') await this.search(res, url);
      else if (path === '/spans') await this.spans(res, url);
      else if (path === '/api/compare') await this.compare(res, url);
      else if (path === '/api/servicegraph') this.serviceGraph(res, url);
      else if (path === '/metrics') {
        const text = await this.options.metrics.registry.metrics();
        this.requests.inc({ route: 'metrics', status: '200' });
        res.writeHead(200, { 'content-type': this.options.metrics.registry.contentType }).end(text);
      } else this.json(res, 'other', 404, { error: `no route ${path}` });
    } catch (err) {
      if (err instanceof BadRequest) {
        this.json(res, 'bad_request', 400, { error: err.message, code: err.code });
        return;
      }
      throw err;
    }
  }

  private async trace(res: ServerResponse, id: string, url: URL): Promise<void> {
    if (!TRACE_ID_RE.test(id))
      throw new BadRequest(`trace id: expected 32 hex digits, got ${JSON.stringify(id.slice(0, 64))}`);
    const start = optionalSeconds(url, 'start');
    const end = optionalSeconds(url, 'end');
    const rows = await this.options.engine.findTrace(id.toLowerCase(), {
      ...(start !== undefined ? { startNs: start } : {}),
      ...(end !== undefined ? { endNs: end } : {}),
    });
    if (rows.length === 0) {
      this.json(res, 'trace', 404, { error: `trace ${id.toLowerCase()} not found` });
      return;
    }
    // Tempo's /api/traces/{id} JSON: the OTLP ResourceSpans under "batches".
    this.json(res, 'trace', 200, { batches: traceDataToJson(toTraceData(rows)).resourceSpans });
  }

  private async search(res: ServerResponse, url: URL): Promise<void> {
    const p = url.searchParams;
    const limit = boundedLimit(p.get('limit'), DEFAULT_SEARCH_LIMIT, this.options.maxLimit);
    const nowNs = BigInt(this.now()) * 1_000_000n;
    const endNs = optionalSeconds(url, 'end') ?? nowNs;
    const startNs =
      optionalSeconds(url, 'start') ??
      endNs - BigInt(Math.min(DEFAULT_SEARCH_WINDOW_MS, this.options.maxSearchWindowMs)) * 1_000_000n;
    if (endNs < startNs) throw new BadRequest('end: expected a time after start');
    if (endNs - startNs > BigInt(this.options.maxSearchWindowMs) * 1_000_000n) {
      throw new BadRequest(
        `start..end spans more than query.max_search_window (${this.options.maxSearchWindowMs / 1000} s); narrow the range`,
      );
    }
    const status = p.get('status');
    if (status !== null && status !== 'error')
      throw new BadRequest(`status: expected "error", got ${JSON.stringify(status)}`);
    const q: SearchQuery = {
      ...(p.get('service') ? { service: p.get('service')! } : {}),
      ...(p.get('variant') ? { variant: p.get('variant')! } : {}),
      ...(p.get('name') ? { name: p.get('name')! } : {}),
      ...(status === 'error' ? { errorsOnly: true } : {}),
      ...optionalDuration(p.get('minDuration'), 'minDurationNs', 'minDuration'),
      ...optionalDuration(p.get('maxDuration'), 'maxDurationNs', 'maxDuration'),
      startNs,
      endNs,
      limit,
      ...(this.options.maxSearchBytes !== undefined ? { maxBytes: this.options.maxSearchBytes } : {}),
    };
    this.json(res, 'search', 200, await this.options.engine.search(q));
  }

  /** Canary versus baseline (src/compare), the same JSON as `sentinel compare --format json`. */
  private async compare(res: ServerResponse, url: URL): Promise<void> {
    const engine = this.options.engine;
    const report = await compareRequest(url.searchParams, this.now(), (q, filter, matches, onRows) =>
      engine.scanSpans(q, filter, matches, onRows),
    ).catch((err: unknown) => {
      throw isSentinelError(err, 'SENTINEL_ERR_QUERY_INVALID') ? new BadRequest(err.message) : err;
    });
    const graph = this.options.serviceGraph;
    const q = report.query;
    if (graph && q?.['service'] && q['start'] && q['end']) {
      // Issue 19: the compared service's neighbours per variant, from the live pairing state.
      const view = graph.view({
        startMs: Date.parse(q['start']),
        endMs: Date.parse(q['end']),
        service: q['service'],
        byVariant: true,
      });
      this.json(res, 'compare', 200, { ...report, neighbours: { source: view.source, edges: view.edges } });
      return;
    }
    this.json(res, 'compare', 200, report);
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
    const startNs = optionalSeconds(url, 'start') ?? endNs - BigInt(DEFAULT_SEARCH_WINDOW_MS) * 1_000_000n;
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

function decodePathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest(
      `trace id: expected 32 hex digits, got a malformed path ${JSON.stringify(raw.slice(0, 64))}`,
    );
  }
}

function boundedLimit(raw: string | null, fallback: number, max: number): number {
  if (raw === null || raw === '') return Math.min(fallback, max);
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new BadRequest(`limit: expected a positive integer, got ${JSON.stringify(raw)}`);
  return Math.min(Number(raw), max);
}

/** `start`/`end` in unix seconds (Tempo's unit), as nanoseconds. */
function optionalSeconds(url: URL, name: string): bigint | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,12}$/.test(raw))
    throw new BadRequest(`${name}: expected unix seconds, got ${JSON.stringify(raw)}`);
  return BigInt(raw) * 1_000_000_000n;
}

function optionalDuration<K extends string>(
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
