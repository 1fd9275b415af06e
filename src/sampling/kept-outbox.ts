import type { TraceBatch, TraceConsumer } from '../otlp/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Clock } from './clock.js';

/**
 * Kept batches on their way to the next stage, one at a time. A refused batch is offered again after
 * `retryDelayMs` (the sampler never rejects spans it took: a client retry would duplicate them); during
 * shutdown a refusal drops it, logged. Its bytes count in the sampler's `bufferedBytes()`.
 */
export class KeptOutbox {
  private readonly batches: TraceBatch[] = [];
  private byteCount = 0;
  private pumping: Promise<void> | undefined;
  closing = false;

  constructor(
    private readonly next: TraceConsumer,
    private readonly clock: Clock,
    private readonly retryDelayMs: number,
    private readonly logger: Logger,
    private readonly onRefused: () => void,
    private readonly onSettled: () => void,
  ) {}

  get bytes(): number {
    return this.byteCount;
  }

  push(batch: TraceBatch): void {
    this.batches.push(batch);
    this.byteCount += batch.bytes;
    this.pump();
  }

  /** Resolves when every batch so far has been taken by the next stage. */
  async drain(): Promise<void> {
    while (this.pumping || this.batches.length > 0) {
      if (!this.pumping) this.pump();
      await this.pumping;
    }
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = this.run().finally(() => {
      this.pumping = undefined;
      this.onSettled();
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      const batch = this.batches[0];
      if (batch === undefined) return;
      try {
        await this.next.consume(batch);
      } catch (err) {
        this.onRefused();
        if (!this.closing) {
          this.logger.warn(
            { err, spans: batch.spanCount },
            'next stage refused kept spans; offering them again',
          );
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.retryDelayMs));
          continue;
        }
        this.logger.error(
          { err, spans: batch.spanCount },
          'next stage refused kept spans during shutdown; dropped',
        );
      }
      this.batches.shift();
      this.byteCount -= batch.bytes;
    }
  }
}
