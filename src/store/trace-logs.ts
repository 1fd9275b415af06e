/**
 * The `logs=true` parameter of `GET /api/traces/<id>` and `/api/v2/traces/<id>` (issue 16, docs/store-logs.md):
 * query-server.ts asks `traceLogsParam` and adds the trace's logs as `"logs"` beside Tempo's answer.
 */
import { logsDataToJson } from '../otlp/index.js';
import { toLogsData } from '../storage/index.js';
import type { LogsQuery } from './logs-query.js';
import { BadRequest, type RouteServer } from './query-routes.js';

/** The store's logs, or a 400 saying they are off. */
export function logsOf(server: RouteServer): LogsQuery {
  if (!server.logs) throw new BadRequest('logs: this store does not keep logs (logs.enabled: false)');
  return server.logs;
}

/**
 * The `logs` parameter of the trace-by-id routes: absent or `false` leaves Tempo's answer as it is; `true` asks
 * for the trace's logs beside it. Anything else is a 400.
 */
export function traceLogsParam(url: URL): boolean {
  const v = url.searchParams.get('logs');
  if (v === null || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw new BadRequest(`logs: expected true or false, got ${JSON.stringify(v.slice(0, 64))}`);
}

/**
 * The trace's logs as OTLP/JSON `LogsData`, to add as `"logs"` beside Tempo's `batches` (v1) or `trace` (v2).
 * Only JSON can carry them: an `Accept: application/protobuf` request with `logs=true` is a 400.
 */
export async function traceLogsJson(
  server: RouteServer,
  traceId: string,
  range: { startNs?: bigint; endNs?: bigint },
  accept: string | undefined,
): Promise<{ json: { resourceLogs: object[] }; count: number }> {
  if (accept?.includes('application/protobuf'))
    throw new BadRequest(
      'logs: expected Accept: application/json with logs=true (protobuf answers carry no logs)',
    );
  const rows = await logsOf(server).traceLogs(traceId, range);
  return { json: logsDataToJson(toLogsData(rows)), count: rows.length };
}

/** Tempo's JSON trace body (an object) with `"logs"` added as its last member. */
export function withTraceLogs(body: string, logs: { resourceLogs: object[] }): string {
  return `${body.slice(0, body.lastIndexOf('}'))},"logs":${JSON.stringify(logs)}}`;
}
