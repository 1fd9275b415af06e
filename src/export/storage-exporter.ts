import type { TraceData } from '../otlp/index.js';
import { encodeBlock, flattenTraceData, uploadBlock, type ObjectStore } from '../storage/index.js';
import { failure, retryable, SUCCESS, type ExportResult, type SpanExporter } from './span-exporter.js';

/**
 * Writes each batch as one block straight to object storage (S3 or a local directory), through the
 * store's block format (src/storage): what `npm start` uses with `file://./data`. Encoding errors are
 * permanent (the batch can never become a block); upload errors are retryable (S3 or the disk is away).
 * A batch uploaded twice (a retry after an ambiguous failure, a replay after a crash) gives two blocks
 * holding the same spans; queries de-duplicate by span id.
 */
export class StorageExporter implements SpanExporter {
  readonly name: string;

  constructor(
    private readonly store: ObjectStore,
    name = 'storage',
  ) {
    this.name = name;
  }

  async export(data: TraceData): Promise<ExportResult> {
    let block;
    try {
      block = encodeBlock(flattenTraceData(data));
    } catch (err) {
      return failure(new Error(`cannot encode a block: ${(err as Error).message}`));
    }
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
  async shutdown(): Promise<void> {}
}
