import type { IncomingMessage, ServerResponse } from 'node:http';
import { SentinelError } from '../errors.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { LogsQuery } from './logs-query.js';
import type { QueryEngine } from './query-engine.js';
import type { ServiceGraph } from './service-graph.js';

/** A query the store refuses: answered 400 with SENTINEL_ERR_QUERY_INVALID and the message. */
export class BadRequest extends SentinelError {
  constructor(message: string) {
    super('SENTINEL_ERR_QUERY_INVALID', message);
  }
}

const TRACE_ID_RE = /^[0-9a-fA-F]{32}$/;

/** A trace id from a request (32 hex digits, any case), lower-cased; else a BadRequest naming `param`. */
export function traceIdParam(raw: string, param: string): string {
  if (!TRACE_ID_RE.test(raw))
    throw new BadRequest(`${param}: expected 32 hex digits, got ${JSON.stringify(raw.slice(0, 64))}`);
  return raw.toLowerCase();
}

/** What a route handler gets: the request, the parsed URL, the path's `:params`, and the server's parts. */
export interface RouteRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Path parameters, percent-decoded (`/api/traces/:id` gives `params.id`). */
  readonly params: Readonly<Record<string, string>>;
  readonly server: RouteServer;
}

/** The server's parts a route may use; the same object for every request. */
export interface RouteServer {
  readonly engine: QueryEngine;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /**
   * The calendar's now in epoch ms (`wallClockNow` of the server's clock): the end of a window a request leaves
   * open, compared with span and record timestamps.
   */
  readonly now: () => number;
  readonly maxLimit: number;
  readonly maxSearchWindowMs: number;
  readonly maxSearchBytes?: number | undefined;
  readonly isReady: () => boolean;
  /** The live service graph (issue 19), when the store pairs spans. */
  readonly serviceGraph?: ServiceGraph | undefined;
  /** The store's logs (issue 16), when it keeps them (logs-api.ts). */
  readonly logs?: LogsQuery | undefined;
  /** Answers JSON (or a pre-serialised string) and counts the request under `route`. */
  json(
    res: ServerResponse,
    route: string,
    status: number,
    body: unknown,
    headers?: Record<string, string>,
  ): void;
  /** Answers any body with the given content type and counts the request under `route`. */
  send(
    res: ServerResponse,
    route: string,
    status: number,
    contentType: string,
    body: string | Uint8Array,
    headers?: Record<string, string>,
  ): void;
}

/** One row of the routing table. */
export interface QueryRoute {
  /** `GET` routes also answer `HEAD`. */
  readonly method: 'GET' | 'POST';
  /** Segments; `:name` matches one non-empty segment (`/api/v2/traces/:id`). */
  readonly path: string;
  /** The `route` label of `store_query_requests_total`. */
  readonly name: string;
  /**
   * Informational: who may call a route is decided by its path alone, in `roleForPath`
   * (src/store/access-role.ts, issue 14): open, agent, or (anything else) reader. A public route must be in its
   * open list.
   */
  readonly public?: boolean;
  readonly handle: (r: RouteRequest) => Promise<void> | void;
}

/** Builds routes once per server, with the server's parts at hand. */
export type RouteProvider = (server: RouteServer) => readonly QueryRoute[];

const providers: RouteProvider[] = [];

/**
 * Adds routes to every QueryServer created after the call (Tempo's API, Jaeger's, ...). A module registers
 * its routes at import; the query server imports the modules whose routes it serves. Routes match in
 * registration order, the server's own first; the first (method, path) match wins.
 */
export function registerQueryRoutes(provider: RouteProvider): void {
  if (!providers.includes(provider)) providers.push(provider);
}

/** Every registered provider, in order (the query server reads them when it starts). */
export function registeredRouteProviders(): readonly RouteProvider[] {
  return providers;
}

interface CompiledRoute {
  readonly route: QueryRoute;
  readonly segments: readonly string[];
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly route: QueryRoute; readonly params: Record<string, string> }
  | { readonly kind: 'method'; readonly allow: string[] }
  | { readonly kind: 'none' };

/** The routing table: (method, path pattern) to handler. */
export class RouteTable {
  private readonly routes: CompiledRoute[] = [];

  add(routes: readonly QueryRoute[]): void {
    for (const route of routes) {
      if (!route.path.startsWith('/'))
        throw new TypeError(`route ${route.path}: expected a path starting with /`);
      this.routes.push({ route, segments: route.path.split('/').slice(1) });
    }
  }

  /** Finds the route for a request; percent-decoding of a parameter that fails throws BadRequest. */
  match(method: string, pathname: string): RouteMatch {
    const parts = pathname.split('/').slice(1);
    const allow = new Set<string>();
    for (const c of this.routes) {
      const params = matchSegments(c.segments, parts);
      if (!params) continue;
      const m = c.route.method;
      if (m === method || (m === 'GET' && method === 'HEAD')) {
        return { kind: 'found', route: c.route, params: decodeParams(params) };
      }
      allow.add(m);
      if (m === 'GET') allow.add('HEAD');
    }
    return allow.size > 0 ? { kind: 'method', allow: [...allow] } : { kind: 'none' };
  }
}

function matchSegments(
  pattern: readonly string[],
  parts: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const v = parts[i]!;
    if (p.startsWith(':')) {
      if (v === '') return undefined;
      params[p.slice(1)] = v;
    } else if (p !== v) return undefined;
  }
  return params;
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      throw new BadRequest(`${k}: malformed percent-encoding in the path ${JSON.stringify(v.slice(0, 64))}`);
    }
  }
  return out;
}
