import type { Signal } from './consumer.js';

/** The OTLP/gRPC trace method (opentelemetry-proto collector/trace/v1/trace_service.proto). */
export const TRACE_EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** The OTLP/gRPC Export method of each signal (opentelemetry-proto collector/<signal>/v1/<signal>_service.proto). */
export const EXPORT_METHODS: Readonly<Record<Signal, string>> = {
  traces: TRACE_EXPORT_METHOD,
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

/** The OTLP/HTTP path of each signal (OTLP specification, "OTLP/HTTP Request"). */
export const HTTP_PATHS: Readonly<Record<Signal, string>> = {
  traces: '/v1/traces',
  logs: '/v1/logs',
  metrics: '/v1/metrics',
};

/** What a signal's items are called in OTLP's partial_success and in Sentinel's metrics and messages. */
export const SIGNAL_ITEMS: Readonly<
  Record<Signal, { readonly json: string; readonly metric: string; readonly noun: string }>
> = {
  traces: { json: 'rejectedSpans', metric: 'spans', noun: 'spans' },
  logs: { json: 'rejectedLogRecords', metric: 'log_records', noun: 'log records' },
  metrics: { json: 'rejectedDataPoints', metric: 'metric_points', noun: 'data points' },
};

/**
 * The OTLP/JSON Export response of a signal: `{}`, or its partial_success (`ExportLogsPartialSuccess
 * { rejected_log_records, error_message }`, `ExportMetricsPartialSuccess { rejected_data_points, ... }`). The
 * protobuf response has the same field numbers for all three signals (`encodeTraceResponse`).
 */
export function encodeSignalResponseJson(
  signal: Signal,
  partial?: { rejectedSpans: number; errorMessage: string },
): string {
  if (!partial || (partial.rejectedSpans === 0 && !partial.errorMessage)) return '{}';
  return JSON.stringify({
    partialSuccess: {
      [SIGNAL_ITEMS[signal].json]: String(partial.rejectedSpans),
      errorMessage: partial.errorMessage,
    },
  });
}
