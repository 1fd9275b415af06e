/**
 * The store's log search (issue 16, docs/store-logs.md): `GET /api/logs`, answered as OTLP/JSON `LogsData`. A row
 * of the query server's route table, registered at import (store.ts imports this file); a reader route
 * (access-role.ts). The `logs=true` parameter of the trace routes is in trace-logs.ts.
 */
import { logsDataToJson, parseSeverity } from '../otlp/index.js';
import { toLogsData } from '../storage/index.js';
import type { LogSearch } from './logs-query.js';
import {
  BadRequest,
  registerQueryRoutes,
  traceIdParam,
  type QueryRoute,
  type RouteServer,
} from './query-routes.js';
import { boundedLimit, optionalSeconds } from './query-server.js';
import { logsOf } from './trace-logs.js';

/** `GET /api/logs` without `limit`. */
const DEFAULT_LOGS_LIMIT = 100;
/** `GET /api/logs` without `start`: the last hour. */
const DEFAULT_LOGS_WINDOW_MS = 3_600_000;

/** Parses the query string of `GET /api/logs`; every bad parameter is a 400 naming what was expected. */
export function parseLogSearch(url: URL, nowMs: number, maxLimit: number, maxWindowMs: number): LogSearch {
  const p = url.searchParams;
  const limit = boundedLimit(p.get('limit'), DEFAULT_LOGS_LIMIT, maxLimit);
  const endNs = optionalSeconds(url, 'end') ?? BigInt(nowMs) * 1_000_000n;
  const startNs =
    optionalSeconds(url, 'start') ??
    endNs - BigInt(Math.min(DEFAULT_LOGS_WINDOW_MS, maxWindowMs)) * 1_000_000n;
  if (endNs < startNs) throw new BadRequest('end: expected a time at or after start');
  if (endNs - startNs > BigInt(maxWindowMs) * 1_000_000n)
    throw new BadRequest(
      `start..end spans more than query.max_search_window (${maxWindowMs / 1000} s); narrow the range`,
    );
  const q: { -readonly [K in keyof LogSearch]: LogSearch[K] } = { startNs, endNs, limit };
  const service = p.get('service');
  if (service !== null && service !== '') q.service = service;
  const severity = p.get('severity');
  if (severity !== null && severity !== '') {
    const n = parseSeverity(severity);
    if (n === undefined)
      throw new BadRequest(
        `severity: expected a severity number 0-24 or a name like TRACE, DEBUG, INFO, WARN, ERROR, FATAL (or INFO2), got ${JSON.stringify(severity.slice(0, 64))}`,
      );
    q.minSeverity = n;
  }
  const traceId = p.get('traceId');
  if (traceId !== null && traceId !== '') q.traceId = traceIdParam(traceId, 'traceId');
  return q;
}

export function logsRoutes(server: RouteServer): readonly QueryRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/logs',
      name: 'logs',
      handle: async ({ res, url }) => {
        const q = parseLogSearch(url, server.now(), server.maxLimit, server.maxSearchWindowMs);
        const rows = await logsOf(server).search(q);
        server.json(res, 'logs', 200, logsDataToJson(toLogsData(rows)));
      },
    },
  ];
}

registerQueryRoutes(logsRoutes);
