import { SentinelError } from '../errors.js';
import type { TraceBatch, TraceConsumer } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { SpanExporter } from './span-exporter.js';

/**
 * The end of the pipeline: hands each batch to one exporter and reports its outcome upstream.
 * A retryable outcome is refused back to the receivers (the client retries); a permanent failure drops
 * the batch, counted and logged. Batching, retries and the persistent queue wrap this (issue 6).
 */
export class ExporterConsumer implements TraceConsumer {
  private inflightBytes = 0;
  private readonly sent;
  private readonly failed;
  private stopped = false;

  constructor(
    private readonly exporter: SpanExporter,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.sent = metrics.counter('exporter_sent_spans_total', 'Spans exporters delivered.', ['exporter']);
    this.failed = metrics.counter(
      'exporter_failed_spans_total',
      'Spans exporters could not deliver, by reason.',
      ['exporter', 'reason'],
    );
  }

  async consume(batch: TraceBatch): Promise<void> {
    if (this.stopped) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'exporter is shut down');
    this.inflightBytes += batch.bytes;
    try {
      const result = await this.exporter.export(batch.data, batch.spanCount);
      const exporter = this.exporter.name;
      if (result.kind === 'success') {
        this.sent.inc({ exporter }, batch.spanCount);
      } else if (result.kind === 'retryable') {
        this.failed.inc({ exporter, reason: 'retryable' }, batch.spanCount);
        throw new SentinelError(
          'SENTINEL_ERR_EXPORT_FAILED',
          `exporter ${exporter}: ${result.error.message}`,
        );
      } else {
        this.failed.inc({ exporter, reason: 'permanent' }, batch.spanCount);
        this.logger.warn(
          { exporter, err: result.error.message, spans: batch.spanCount },
          'dropped a batch the exporter rejected',
        );
      }
    } finally {
      this.inflightBytes -= batch.bytes;
    }
  }

  bufferedBytes(): number {
    return this.inflightBytes;
  }

  async forceFlush(): Promise<void> {
    await this.exporter.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.exporter.shutdown();
  }
}
