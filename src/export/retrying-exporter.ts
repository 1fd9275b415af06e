import type { TraceData } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { ExportResult, SpanExporter } from './span-exporter.js';
import { systemClock, type Clock } from '../clock.js';

/** The retry keys of one exporter (CONTRACT.md `retry:`), in milliseconds. */
export interface RetryOptions {
  readonly enabled?: boolean;
  readonly initialIntervalMs?: number;
  readonly maxIntervalMs?: number;
  /** Total time spent on one batch before giving up; 0 retries for ever. */
  readonly maxElapsedTimeMs?: number;
  /** Each backoff is drawn from [interval x (1 - f), interval x (1 + f)] (the Collector's 0.5). */
  readonly randomizationFactor?: number;
  readonly multiplier?: number;
}

export interface RetryingExporterOptions extends RetryOptions {
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
}

/**
 * Wraps an exporter with exponential backoff and jitter (the Collector's `retry_on_failure`, after
 * opentelemetry-js `retrying-transport.ts`). Only `retryable` outcomes are retried; a server's
 * `Retry-After` / gRPC RetryInfo delay is a floor under the next wait, never shortened by jitter.
 * When `max_elapsed_time` would be passed, the last outcome is returned as a failure.
 */
export class RetryingExporter implements SpanExporter {
  readonly name: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly initialMs: number;
  private readonly maxIntervalMs: number;
  private readonly maxElapsedMs: number;
  private readonly factor: number;
  private readonly multiplier: number;
  private readonly enabled: boolean;
  private readonly retries;
  private readonly abort = new AbortController();

  constructor(
    private readonly inner: SpanExporter,
    private readonly options: RetryingExporterOptions = {},
  ) {
    this.name = inner.name;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.enabled = options.enabled ?? true;
    this.initialMs = options.initialIntervalMs ?? 1000;
    this.maxIntervalMs = Math.max(this.initialMs, options.maxIntervalMs ?? 30_000);
    this.maxElapsedMs = options.maxElapsedTimeMs ?? 300_000;
    this.factor = options.randomizationFactor ?? 0.5;
    this.multiplier = options.multiplier ?? 1.5;
    this.retries = options.metrics?.counter('exporter_retries_total', 'Export attempts retried.', [
      'exporter',
    ]);
  }

  /** The wait before retry number `attempt` (0-based), before any server-given floor. */
  backoffMs(attempt: number): number {
    const interval = Math.min(this.maxIntervalMs, this.initialMs * this.multiplier ** attempt);
    const delta = this.factor * interval;
    return interval - delta + this.random() * 2 * delta;
  }

  export(data: TraceData, spanCount: number): Promise<ExportResult> {
    return this.withRetries(() => this.inner.export(data, spanCount));
  }

  /** True when the wrapped exporter takes encoded requests. */
  get takesEncoded(): boolean {
    return typeof this.inner.exportEncoded === 'function';
  }

  exportEncoded(request: Uint8Array, spanCount: number): Promise<ExportResult> {
    const inner = this.inner;
    if (!inner.exportEncoded) throw new TypeError(`exporter ${this.name} takes no encoded requests`);
    return this.withRetries(() => inner.exportEncoded!(request, spanCount));
  }

  private async withRetries(attemptOnce: () => Promise<ExportResult>): Promise<ExportResult> {
    const started = this.clock.now();
    for (let attempt = 0; ; attempt++) {
      const result = await attemptOnce();
      if (result.kind !== 'retryable' || !this.enabled) return result;
      if (this.abort.signal.aborted) return result; // shutting down: the queue keeps the batch
      const wait = Math.max(this.backoffMs(attempt), result.after ?? 0);
      const elapsed = this.clock.now() - started;
      if (this.maxElapsedMs > 0 && elapsed + wait > this.maxElapsedMs) {
        return {
          kind: 'failure',
          error: new Error(
            `gave up after ${attempt + 1} attempts in ${Math.round(elapsed)} ms (retry.max_elapsed_time): ${result.error.message}`,
          ),
          retriesExhausted: true,
        };
      }
      this.retries?.inc({ exporter: this.name });
      this.options.logger?.debug(
        { exporter: this.name, attempt: attempt + 1, waitMs: Math.round(wait), err: result.error.message },
        'export failed; retrying',
      );
      await this.clock.sleep(wait, this.abort.signal);
      if (this.abort.signal.aborted) return result;
    }
  }

  /** Ends every wait at once; a batch being retried comes back as retryable (so a queue keeps it). */
  stopRetrying(): void {
    this.abort.abort();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  async shutdown(): Promise<void> {
    this.stopRetrying();
    await this.inner.shutdown();
  }
}
