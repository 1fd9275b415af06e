import {
  encodedBatch,
  RequestAssembler,
  type SignalBatch,
  type TraceBatch,
  type TraceConsumer,
} from '../otlp/index.js';
import type { Logger } from '../telemetry/index.js';
import { type Clock } from '../clock.js';

/**
 * Kept spans and log records of one pass (a consume, a timer tick, a release), each assembled into one encoded
 * request: an ExportTraceServiceRequest and (issue 16) an ExportLogsServiceRequest.
 */
export class KeptBatch {
  readonly out = new RequestAssembler();
  bytes = 0;
  readonly logs = new RequestAssembler();
  logBytes = 0;

  /** Empty again, its assemblers' arrays kept (RequestAssembler.reset). */
  reset(): void {
    this.out.reset();
    this.bytes = 0;
    this.logs.reset();
    this.logBytes = 0;
  }
}

/** Emptied KeptBatches kept for reuse at most: a consume uses two at once (kept, late), other passes one. */
const MAX_SPARE_BATCHES = 2;

/** One batch on its way: spans (to `consume`) or logs (to `consumeLogs`). */
interface OutboxEntry {
  readonly spans?: TraceBatch;
  readonly logs?: SignalBatch;
  readonly bytes: number;
  readonly count: number;
}

/**
 * Kept batches on their way to the next stage, one at a time, spans and logs in the order they were kept. A
 * refused batch is offered again after `retryDelayMs` (the sampler never rejects data it took: a client retry
 * would duplicate it); during shutdown a refusal drops it, logged. Its bytes count in the sampler's
 * `bufferedBytes()`.
 */
export class KeptOutbox {
  private readonly batches: OutboxEntry[] = [];
  private byteCount = 0;
  private pumping: Promise<void> | undefined;
  /** KeptBatches handed in and emptied, for the next passes (`batch`; a consume takes two). */
  private readonly spares: KeptBatch[] = [];
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
    this.add({ spans: batch, bytes: batch.bytes, count: batch.spanCount });
  }

  pushLogs(batch: SignalBatch): void {
    this.add({ logs: batch, bytes: batch.bytes, count: batch.itemCount });
  }

  /** An empty KeptBatch for a pass: one a pass handed in, or a new one (passes inside passes). */
  batch(): KeptBatch {
    return this.spares.pop() ?? new KeptBatch();
  }

  /** Hands on what a pass kept, if anything; `kept` is emptied and may be handed out again by `batch`. */
  pushKept(kept: KeptBatch): void {
    const spanCount = kept.out.spanCount;
    if (spanCount > 0) this.push(encodedBatch(kept.out.finish(), spanCount, Math.ceil(kept.bytes)));
    const logCount = kept.logs.spanCount;
    if (logCount > 0) {
      const encoded = kept.logs.finish();
      this.pushLogs({ encoded, itemCount: logCount, bytes: Math.ceil(kept.logBytes) || encoded.byteLength });
    }
    kept.reset();
    if (this.spares.length < MAX_SPARE_BATCHES) this.spares.push(kept);
  }

  private add(entry: OutboxEntry): void {
    this.batches.push(entry);
    this.byteCount += entry.bytes;
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

  private send(entry: OutboxEntry): Promise<unknown> {
    if (entry.spans) return this.next.consume(entry.spans);
    if (this.next.consumeLogs) return this.next.consumeLogs(entry.logs as SignalBatch);
    this.logger.error({ logs: entry.count }, 'the next stage takes no logs; kept log records dropped');
    return Promise.resolve();
  }

  private async run(): Promise<void> {
    for (;;) {
      const entry = this.batches[0];
      if (entry === undefined) return;
      const what = entry.spans ? 'spans' : 'logs';
      try {
        await this.send(entry);
      } catch (err) {
        this.onRefused();
        if (!this.closing) {
          this.logger.warn(
            { err, [what]: entry.count },
            `next stage refused kept ${what}; offering them again`,
          );
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.retryDelayMs));
          continue;
        }
        this.logger.error(
          { err, [what]: entry.count },
          `next stage refused kept ${what} during shutdown; dropped`,
        );
      }
      this.batches.shift();
      this.byteCount -= entry.bytes;
    }
  }
}
