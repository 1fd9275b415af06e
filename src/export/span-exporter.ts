import type { TraceData } from '../otlp/index.js';

/** What an export attempt came to (STYLE.md: a tagged union, retries are a wrapper's job). */
export type ExportResult =
  | { readonly kind: 'success' }
  | { readonly kind: 'retryable'; readonly after?: number | undefined; readonly error: Error }
  | { readonly kind: 'failure'; readonly error: Error };

/** The contract every exporter meets, after opentelemetry-js `SpanExporter`. */
export interface SpanExporter {
  /** A short name for metrics and logs (`exporter` label). */
  readonly name: string;
  export(data: TraceData, spanCount: number): Promise<ExportResult>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export const SUCCESS: ExportResult = Object.freeze({ kind: 'success' });
