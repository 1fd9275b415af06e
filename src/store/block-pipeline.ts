import { readFile } from 'node:fs/promises';
import { decodeTraceRequest, encodeTraceRequest } from '../otlp/index.js';
import type { TraceBatch, TraceConsumer } from '../otlp/index.js';
import {
  BlockEncoder,
  flattenTraceData,
  uploadBlock,
  type BlockCodec,
  type BlockMeta,
  type EncodedBlock,
  type StoredSpan,
} from '../storage/index.js';
import { estimateProtobufRequest } from '../receiver/index.js';
import type { Metrics } from '../telemetry/index.js';
import { readWalRecords } from './wal-record.js';
import { SegmentPipeline, type SegmentBlock, type SegmentPipelineOptions } from './segment-pipeline.js';
import type { WalSegment } from './write-ahead-log.js';

/** What one WAL record holds in memory: its spans as block rows, and their estimated heap bytes. */
export interface WalItem {
  readonly rows: StoredSpan[];
  readonly bytes: number;
}

export interface BlockPipelineOptions extends SegmentPipelineOptions {
  readonly maxBlockSpans: number;
  /**
   * A segment is also cut when the spans it holds are priced (the receivers' admission estimate) at this many
   * bytes: the block encoder decodes the whole segment again on its thread, so this bounds that copy. While a
   * segment is encoded its price counts a second time in `bufferedBytes()`, so the receivers refuse (429)
   * instead of the process holding both copies and the full budget besides. Default: no bound by price.
   */
  readonly maxEncodeBytes?: number;
  readonly codec?: BlockCodec;
  /** Told about every block uploaded (the query side adds it to its catalog at once). */
  readonly onBlock?: (meta: BlockMeta) => void;
  /** Encode blocks on a worker thread (default true); false encodes on the main thread. */
  readonly encodeInWorker?: boolean;
  /** An encoder shared with others (compaction); the pipeline then leaves closing it to its owner. */
  readonly encoder?: BlockEncoder;
}

const MiB = 1024 * 1024;

/**
 * The block encoder's share of the store's memory budget (`memory_limit_mib`): a segment is cut once its spans
 * are priced at a quarter of the budget (the worker decodes it whole: about 1.1 KB of heap per typical span, and
 * the price is above the decoded heap for every shape measured), and the worker's old space is half the budget
 * (that segment, its garbage, one row group of cells; at least 128 MiB). BENCHMARKS.md "Admission estimate" 4.
 */
export function blockEncodeShare(memoryLimitMiB: number): { maxEncodeBytes: number; workerHeapMiB: number } {
  return {
    maxEncodeBytes: Math.floor((memoryLimitMiB * MiB) / 4),
    workerHeapMiB: Math.max(128, Math.ceil(memoryLimitMiB / 2)),
  };
}

/** The traces' counters, in the order they have always been registered (the metrics page lists them so). */
function blockMetrics(metrics: Metrics) {
  return {
    blocks: metrics.counter('store_blocks_written_total', 'Blocks uploaded (Parquet and meta).'),
    spans: metrics.counter('store_spans_written_total', 'Spans written into uploaded blocks.'),
    bytes: metrics.counter('store_block_bytes_written_total', 'Parquet bytes uploaded.'),
    retries: metrics.counter('store_upload_retries_total', 'Block uploads retried after a storage error.'),
    walFull: metrics.counter(
      'store_wal_full_refusals_total',
      'Batches refused because the WAL was at its bound.',
    ),
    walCorrupt: metrics.counter(
      'store_wal_corrupt_records_total',
      'WAL records that failed their checksum on replay.',
    ),
    quarantined: metrics.counter(
      'store_quarantined_segments_total',
      'WAL segments set aside because their block could not be encoded (sentinel store quarantine list).',
    ),
    quarantinedSpans: metrics.counter(
      'store_quarantined_spans_total',
      'Spans in WAL segments set aside because their block could not be encoded.',
    ),
    encodeSeconds: metrics.histogram(
      'store_block_encode_seconds',
      'Time to encode one block as Parquet.',
      [],
      [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
    ),
  };
}

/** The segments' records as written (protobuf), up to a torn or corrupt tail. */
async function readSegmentPayloads(path: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const ev of readWalRecords(await readFile(path))) {
    if (ev.kind === 'corrupt') break;
    out.push(ev.payload);
  }
  return out;
}

/**
 * The store's ingest path after the receivers: every batch is appended to the WAL (durable before
 * `consume` resolves), held in memory as rows, and cut into a block when the current segment reaches
 * `max_bytes`, `max_spans` or `max_age`. Blocks upload one at a time, retried with backoff for as long as
 * it takes; a WAL segment is deleted only after its block and meta are in storage (the segment life is
 * `SegmentPipeline`'s, shared with the logs).
 */
export class BlockPipeline extends SegmentPipeline<WalItem, EncodedBlock> implements TraceConsumer {
  private readonly options: BlockPipelineOptions;
  /** The price of the segment being encoded (its second copy, in the encoder's thread). */
  private encodingBytes = 0;
  private readonly segmentPrice = new WeakMap<WalSegment<WalItem>, number>();
  private readonly m;
  private readonly encoder: BlockEncoder;
  private readonly ownsEncoder: boolean;

  constructor(options: BlockPipelineOptions) {
    const m = blockMetrics(options.metrics);
    super(options, { wal: 'WAL', block: 'block', items: 'spans' }, m);
    this.options = options;
    this.m = m;
    this.ownsEncoder = options.encoder === undefined;
    this.encoder =
      options.encoder ??
      new BlockEncoder({
        logger: options.logger,
        useWorker: options.encodeInWorker ?? true,
        ...(options.rowGroupSize !== undefined ? { rowGroupSize: options.rowGroupSize } : {}),
        ...(options.codec !== undefined ? { codec: options.codec } : {}),
      });
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect with the gauge as `this`
    const self = this;
    options.metrics.gauge('store_wal_bytes', 'Bytes held by the write-ahead log.', [], function () {
      this.set(self.wal ? self.wal.bytes : 0);
    });
    options.metrics.gauge('store_pending_blocks', 'Sealed blocks waiting for upload.', [], function () {
      this.set(self.queue.length);
    });
  }

  /** Opens (and replays) the WAL; replayed segments are queued for upload at once. */
  async start(): Promise<{ replayedSpans: number }> {
    return { replayedSpans: await this.open() };
  }

  protected decodeRecord(payload: Uint8Array): { item: WalItem; spans: number } {
    const rows = flattenTraceData(decodeTraceRequest(payload));
    // Priced as the receivers price a request (admission-estimate.ts), so the budget counts replayed spans alike.
    return { item: { rows, bytes: estimateProtobufRequest(payload) }, spans: rows.length };
  }

  protected itemBytes(item: WalItem): number {
    return item.bytes;
  }

  protected override opened(): void {
    this.encoder.warmUp();
  }

  async consume(batch: TraceBatch): Promise<void> {
    this.refuseWhenDraining();
    const rows = flattenTraceData(batch.data);
    if (rows.length === 0) return;
    const payload = encodeTraceRequest(batch.data);
    const head = await this.append(payload, { rows, bytes: batch.bytes }, rows.length);
    // The head's price, kept per segment (summing its items at every append would be quadratic in records).
    const headBytes = (this.segmentPrice.get(head) ?? 0) + batch.bytes;
    this.segmentPrice.set(head, headBytes);
    if (
      head.spans >= this.options.maxBlockSpans ||
      head.bytes >= this.options.maxBlockBytes ||
      headBytes >= (this.options.maxEncodeBytes ?? Infinity)
    )
      void this.cut();
  }

  /** Encodes one segment's block, on the encoder's thread from the segment's records as written. */
  protected async encodeSegment(
    seg: WalSegment<WalItem>,
    blockId: string,
  ): Promise<SegmentBlock<EncodedBlock>> {
    const rows: StoredSpan[] = [];
    let segBytes = 0;
    for (const item of seg.items) {
      for (const r of item.rows) rows.push(r);
      segBytes += item.bytes;
    }
    const started = performance.now();
    this.encodingBytes = segBytes;
    try {
      // The worker gets the segment's records as written (protobuf), cheaper to pass than the rows; read when
      // the encoder takes the job (it may be busy with a compaction), and not held once packed for the worker.
      const block = await this.encoder.encode({
        payloads: () => readSegmentPayloads(seg.path),
        spans: seg.spans,
        rows: () => rows,
        blockId,
        nowMs: this.blockTimeMs(),
        price: segBytes,
      });
      this.m.encodeSeconds.observe((performance.now() - started) / 1000);
      return { block, count: rows.length };
    } finally {
      this.encodingBytes = 0;
    }
  }

  protected async quarantineRecords(seg: WalSegment<WalItem>): Promise<number> {
    return (await readSegmentPayloads(seg.path)).length;
  }

  protected quarantined(
    seg: WalSegment<WalItem>,
    note: { path: string; blockId: string; error: string },
  ): void {
    const spans = seg.spans;
    this.m.quarantinedSpans.inc(spans);
    this.options.logger.error(
      {
        code: 'SENTINEL_ERR_WAL_QUARANTINED',
        segment: note.path,
        spans,
        block: note.blockId,
        err: note.error,
      },
      'a WAL segment cannot be encoded as a block; it is quarantined (sentinel store quarantine list) and the pipeline goes on',
    );
  }

  protected async putBlock(block: EncodedBlock): Promise<void> {
    await uploadBlock(this.options.store, block);
  }

  protected uploaded(block: EncodedBlock, spans: number): void {
    this.m.spans.inc(spans);
    this.m.bytes.inc(block.parquet.byteLength);
    this.options.logger.debug({ block: block.meta.parquetKey, spans }, 'block uploaded');
    this.options.onBlock?.(block.meta);
  }

  protected override async release(): Promise<void> {
    // A shared encoder is closed by its owner first; an own one is closed here so a pending encode ends.
    if (this.ownsEncoder) await this.encoder.close();
  }

  override bufferedBytes(): number {
    return super.bufferedBytes() + this.encodingBytes;
  }

  /** Every row not yet in an uploaded block (the current segment and those waiting for upload). */
  pendingRows(): StoredSpan[] {
    const out: StoredSpan[] = [];
    for (const seg of this.pendingSegments())
      for (const item of seg.items) for (const r of item.rows) out.push(r);
    return out;
  }

  /** Number of spans not yet in an uploaded block. */
  pendingSpans(): number {
    return this.pendingTotal();
  }
}
