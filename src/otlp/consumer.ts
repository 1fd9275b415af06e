import type { TraceData } from './model.js';
import type { Rejection } from './validate.js';
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

/** The three OTLP signals (issue 16). `exporters[].signals` lists some of them. */
export type Signal = 'traces' | 'metrics' | 'logs';

/**
 * A batch of logs or metrics (issue 16): one encoded `ExportLogsServiceRequest` or
 * `ExportMetricsServiceRequest` (protobuf; OTLP/JSON is transcoded at the door), as the receiver took it and
 * the stages before rewrote it (enrichment splices resource attributes). Stages that need more than the bytes
 * scan them (the sampler reads log records' trace ids); nothing on the agent's path decodes them into objects.
 */
export interface SignalBatch {
  readonly encoded: Uint8Array;
  /** Log records (logs) or data points (metrics) in the request: what the metrics count. */
  readonly itemCount: number;
  /** Bytes this batch holds in memory, the basis of the memory budget. */
  readonly bytes: number;
}

/**
 * What a stage that took a logs or metrics request dropped of it: OTLP's partial success (the items it rejected,
 * in `rejectedSpans`, the field every signal's response numbers 1, and why), which the receivers answer with.
 * Nothing (undefined) when it took every item.
 */
export type SignalPartial = Rejection | undefined | void;

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
  /**
   * Logs (the Collector's `consumer.Logs`), resolving and rejecting as `consume` does. Absent: this pipeline
   * does not take logs (the receivers answer 404 / UNIMPLEMENTED). A stage that has it hands logs on to the
   * next stage's `consumeLogs`.
   */
  consumeLogs?(batch: SignalBatch): Promise<SignalPartial>;
  /** Metrics (the Collector's `consumer.Metrics`), as `consumeLogs`. */
  consumeMetrics?(batch: SignalBatch): Promise<SignalPartial>;
}
