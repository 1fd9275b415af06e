import type { TraceData } from '../otlp/index.js';

/** What an export attempt came to (STYLE.md: a tagged union, retries are a wrapper's job). */
export type ExportResult =
  /** `rejectedSpans`: spans the backend refused inside an accepted request (OTLP partial success); not retried. */
  | { readonly kind: 'success'; readonly rejectedSpans?: number; readonly message?: string }
  /** `after`: the delay in ms the server asked for (Retry-After, gRPC RetryInfo), a floor under the backoff. */
  | { readonly kind: 'retryable'; readonly after?: number | undefined; readonly error: Error }
  /** `retriesExhausted`: a retryable outcome that outlived retry.max_elapsed_time. */
  | { readonly kind: 'failure'; readonly error: Error; readonly retriesExhausted?: boolean };

/** The contract every exporter meets, after opentelemetry-js `SpanExporter`. */
export interface SpanExporter {
  /** A short name for metrics and logs (`exporter` label). */
  readonly name: string;
  export(data: TraceData, spanCount: number): Promise<ExportResult>;
  /**
   * Sends an already encoded OTLP ExportTraceServiceRequest (protobuf). Optional: exporters that speak OTLP
   * take a persistent queue's records as they are, without a decode and a second encode.
   */
  exportEncoded?: ((request: Uint8Array, spanCount: number) => Promise<ExportResult>) | undefined;
  /**
   * Sends an encoded `ExportLogsServiceRequest` (issue 16). Present on exporters that can carry logs: an
   * exporter's default `signals` are those it has a method for. `itemCount` is the request's log records; a
   * partial success's `rejectedSpans` counts rejected log records.
   */
  exportLogs?(request: Uint8Array, itemCount: number): Promise<ExportResult>;
  /** Sends an encoded `ExportMetricsServiceRequest`, as `exportLogs` (items are data points). */
  exportMetrics?(request: Uint8Array, itemCount: number): Promise<ExportResult>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export const SUCCESS: ExportResult = Object.freeze({ kind: 'success' });

/** A retryable outcome, with the server's requested delay when it gave one. */
export function retryable(error: Error, afterMs?: number): ExportResult {
  return afterMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', error, after: afterMs };
}

/** A permanent failure: the batch is dropped, counted and logged. */
export function failure(error: Error): ExportResult {
  return { kind: 'failure', error };
}

/** Success, carrying an OTLP partial success when the backend rejected some of the spans. */
export function successWith(
  partial: { rejectedSpans: number; errorMessage: string } | undefined,
): ExportResult {
  return partial
    ? { kind: 'success', rejectedSpans: partial.rejectedSpans, message: partial.errorMessage }
    : SUCCESS;
}
