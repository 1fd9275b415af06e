/**
 * `GET /api/compare`: canary versus baseline (src/compare), the same JSON as `sentinel compare --format json`,
 * computed by compare's `compareRequest` over the query engine's scan. A row of the query server's route table
 * registered at import (store.ts imports this file), so the query server itself does not import compare.
 */
import type { ServerResponse } from 'node:http';
import { compareRequest } from '../compare/index.js';
import { isSentinelError } from '../errors.js';
import { BadRequest, registerQueryRoutes, type QueryRoute, type RouteServer } from './query-routes.js';

async function compare(server: RouteServer, res: ServerResponse, url: URL): Promise<void> {
  const engine = server.engine;
  const report = await compareRequest(url.searchParams, server.now(), (q, filter, matches, onRows) =>
    engine.scanSpans(q, filter, matches, onRows),
  ).catch((err: unknown) => {
    throw isSentinelError(err, 'SENTINEL_ERR_QUERY_INVALID') ? new BadRequest(err.message) : err;
  });
  const graph = server.serviceGraph;
  const q = report.query;
  if (graph && q?.['service'] && q['start'] && q['end']) {
    // Issue 19: the compared service's neighbours per variant, from the live pairing state.
    const view = graph.view({
      startMs: Date.parse(q['start']),
      endMs: Date.parse(q['end']),
      service: q['service'],
      byVariant: true,
    });
    server.json(res, 'compare', 200, { ...report, neighbours: { source: view.source, edges: view.edges } });
    return;
  }
  server.json(res, 'compare', 200, report);
}

export function compareRoutes(server: RouteServer): readonly QueryRoute[] {
  return [
    { method: 'GET', path: '/api/compare', name: 'compare', handle: (r) => compare(server, r.res, r.url) },
  ];
}

registerQueryRoutes(compareRoutes);
