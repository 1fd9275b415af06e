import type { TraceData } from './model.js';
import type { WireSpans } from './wire-scan.js';

/**
 * A unit of work moving down the pipeline: decoded spans plus what the receiver knew about their cost.
 * `bytes` is the decoded request size, the basis of the memory budget; stages that split a batch
 * share it out by span count.
 */
export interface TraceBatch {
  readonly data: TraceData;
  readonly spanCount: number;
  readonly bytes: number;
  /**
   * The agent's byte path (issue 13), before the sampler: the request's bytes and their index. `data` then
   * decodes on demand only (src/otlp/wire-batch.ts).
   */
  readonly wire?: WireSpans | undefined;
  /** After the sampler: the batch as an encoded ExportTraceServiceRequest, sent and queued as it is. */
  readonly encoded?: Uint8Array | undefined;
}

/**
 * The contract between rooms of the data path (the Collector's `consumer.Traces`).
 * `consume` resolves once the stage has taken responsibility for the batch (held in a bounded buffer,
 * written to a WAL, ...) and rejects with a `SentinelError` whose code says why it refused.
 */
export interface TraceConsumer {
  consume(batch: TraceBatch): Promise<void>;
  /** Bytes this stage and those after it currently hold in memory, for the receivers' memory budget. */
  bufferedBytes(): number;
  /** Pushes everything held out to the next stage and waits for it to be taken. */
  forceFlush(): Promise<void>;
  /** Flushes, then releases resources. Idempotent. */
  shutdown(): Promise<void>;
}
