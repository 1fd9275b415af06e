/**
 * Who may call what on the store (issue 14). One decision for every listener: the query server asks it once per
 * request at the top of its handler, the OTLP receivers ask it for their own paths. Routes not named here are
 * reader routes, so a query route added later (Tempo's /api/v2/..., Jaeger's /api/v3/...) is guarded by default.
 */
import { DECISIONS_PATH } from '../decision-feed/index.js';
import { EXPORT_METHODS, HTTP_PATHS } from '../otlp/index.js';
import { POLICY_PATH } from '../sampling/index.js';

/** `open`: no credential; `agent`: an agent identity; `reader`: the reader credential. */
export type AccessRole = 'open' | 'agent' | 'reader';

/** OTLP/HTTP ingest on the receivers' port. */
export const OTLP_TRACES_PATH = '/v1/traces';

/** OTLP/gRPC ingest: the method path grpc-js carries in `call.getPath()`. */
export const OTLP_GRPC_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/**
 * Health, readiness, Tempo's build info and the metrics: load balancers and scrapers. Tempo's `/api/echo` is not
 * here: it is what Grafana's "Save & test" calls, and a test that passes with a wrong token would pass a data source
 * whose every search then fails with 401.
 */
const OPEN_PATHS: ReadonlySet<string> = new Set(['/health', '/ready', '/api/status/buildinfo', '/metrics']);

/** What agents call: ingest, the decision feed, the policy. Nothing here reads another workload's spans. */
const AGENT_PATHS: ReadonlySet<string> = new Set([
  OTLP_TRACES_PATH,
  OTLP_GRPC_EXPORT_PATH,
  // Logs (issue 16): agents send them with their traces (metrics never reach the store: 404 / UNIMPLEMENTED).
  HTTP_PATHS.logs,
  EXPORT_METHODS.logs,
  DECISIONS_PATH,
  POLICY_PATH,
]);

/** The role a request path needs; anything not open or agent-only is a reader route. */
export function roleForPath(path: string): AccessRole {
  if (OPEN_PATHS.has(path)) return 'open';
  if (AGENT_PATHS.has(path)) return 'agent';
  return 'reader';
}
