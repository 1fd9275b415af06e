import { decodeTraceRequest, type TraceData } from '../otlp/index.js';
import {
  BlockEncoder,
  encodeBlock,
  encodeLogsPayloads,
  flattenTraceData,
  LogsEncoder,
  newBlockId,
  uploadBlock,
  uploadLogsBlock,
  type EncodedBlock,
  type EncodedLogsBlock,
  type ObjectStore,
} from '../storage/index.js';
import type { Logger } from '../telemetry/index.js';
import {
  failure,
  retryable,
  SUCCESS,
  successWith,
  type ExportResult,
  type SpanExporter,
} from './span-exporter.js';

/**
 * Writes each batch as one block straight to object storage (S3 or a local directory), through the
 * store's block format (src/storage): what `npm start` uses with `file://./data`. Encoding errors are
 * permanent (the batch can never become a block); upload errors are retryable (S3 or the disk is away).
 * A batch uploaded twice (a retry after an ambiguous failure, a replay after a crash) gives two blocks
 * holding the same spans; queries de-duplicate by span id.
 *
 * The agent's batches arrive encoded (issue 13): they are decoded and encoded as Parquet on the block encoder's
 * worker thread (src/storage/block-encoder.ts, the store's), so the receivers sharing the main thread are not
 * stalled by it; without a logger (tests, embeddings) or when the worker cannot run, in-process.
 */
export class StorageExporter implements SpanExporter {
  readonly name: string;
  private readonly encoder: BlockEncoder | undefined;
  private readonly logsEncoder: LogsEncoder | undefined;

  constructor(
    private readonly store: ObjectStore,
    name = 'storage',
    logger?: Logger,
  ) {
    this.name = name;
    this.encoder = logger ? new BlockEncoder({ logger, useWorker: true }) : undefined;
    this.logsEncoder = logger ? new LogsEncoder({ logger, useWorker: true }) : undefined;
  }

  /**
   * Writes a batch of logs as one logs block under `logs/` (issue 16, docs/store-logs.md), as the store does, so an
   * agent with the default `storage` exporter keeps its logs. Records the store would refuse (no time, a time past
   * 2^63) are dropped and reported as rejected; encoding errors are permanent, upload errors retryable.
   */
  async exportLogs(request: Uint8Array, itemCount: number): Promise<ExportResult> {
    let encoded: { records: number; block?: EncodedLogsBlock };
    try {
      const nowMs = Date.now();
      const options = { blockId: newBlockId(nowMs), nowMs };
      encoded = this.logsEncoder
        ? await this.logsEncoder.encode([request], options)
        : encodeLogsPayloads([request], options);
    } catch (err) {
      return failure(new Error(`cannot encode a logs block: ${(err as Error).message}`));
    }
    const rejected = itemCount - encoded.records;
    const partial =
      rejected > 0
        ? {
            rejectedSpans: rejected,
            errorMessage: `${rejected} log record(s) without a storable time were dropped`,
          }
        : undefined;
    if (!encoded.block) return successWith(partial);
    try {
      await uploadLogsBlock(this.store, encoded.block);
      return successWith(partial);
    } catch (err) {
      await this.store.delete(encoded.block.meta.parquetKey).catch(() => undefined);
      return retryable(new Error(`logs block upload to ${this.store.url} failed: ${(err as Error).message}`));
    }
  }

  async export(data: TraceData): Promise<ExportResult> {
    let block;
    try {
      block = encodeBlock(flattenTraceData(data));
    } catch (err) {
      return failure(new Error(`cannot encode a block: ${(err as Error).message}`));
    }
    return this.upload(block);
  }

  async exportEncoded(request: Uint8Array, spanCount: number): Promise<ExportResult> {
    let block: EncodedBlock;
    try {
      const nowMs = Date.now();
      block = this.encoder
        ? await this.encoder.encode({
            payloads: [request],
            spans: spanCount,
            rows: () => flattenTraceData(decodeTraceRequest(request)),
            blockId: newBlockId(nowMs),
            nowMs,
          })
        : encodeBlock(flattenTraceData(decodeTraceRequest(request)));
    } catch (err) {
      return failure(new Error(`cannot encode a block: ${(err as Error).message}`));
    }
    return this.upload(block);
  }

  private async upload(block: EncodedBlock): Promise<ExportResult> {
    try {
      await uploadBlock(this.store, block);
      return SUCCESS;
    } catch (err) {
      // The meta goes last, so readers never saw this block; a Parquet object that did land is garbage now
      // (the retry writes a new block id). Best effort: with storage away the delete fails too.
      await this.store.delete(block.meta.parquetKey).catch(() => undefined);
      return retryable(new Error(`block upload to ${this.store.url} failed: ${(err as Error).message}`));
    }
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {
    await this.encoder?.close();
    await this.logsEncoder?.close();
  }
}
