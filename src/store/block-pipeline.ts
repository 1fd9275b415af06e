import { readFile } from 'node:fs/promises';
import { SentinelError, isSentinelError } from '../errors.js';
import { decodeTraceRequest, encodeTraceRequest } from '../otlp/index.js';
import type { TraceBatch, TraceConsumer } from '../otlp/index.js';
import {
  BlockEncoder,
  flattenTraceData,
  uploadBlock,
  type BlockCodec,
  type BlockMeta,
  type ObjectStore,
  type StoredSpan,
} from '../storage/index.js';
import { estimateProtobufRequest } from '../receiver/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { readWalRecords } from './wal-record.js';
import { WriteAheadLog, type WalSegment } from './write-ahead-log.js';

/** What one WAL record holds in memory: its spans as block rows, and their estimated heap bytes. */
export interface WalItem {
  readonly rows: StoredSpan[];
  readonly bytes: number;
}

export interface BlockPipelineOptions {
  readonly store: ObjectStore;
  readonly walDir: string;
  readonly walMaxBytes: number;
  readonly maxBlockBytes: number;
  readonly maxBlockSpans: number;
  readonly maxBlockAgeMs: number;
  /**
   * A segment is also cut when the spans it holds are priced (the receivers' admission estimate) at this many
   * bytes: the block encoder decodes the whole segment again on its thread, so this bounds that copy. While a
   * segment is encoded its price counts a second time in `bufferedBytes()`, so the receivers refuse (429)
   * instead of the process holding both copies and the full budget besides. Default: no bound by price.
   */
  readonly maxEncodeBytes?: number;
  readonly rowGroupSize?: number;
  readonly codec?: BlockCodec;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  /** Sleeps between upload attempts; tests pass a fast one. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** How often the age trigger is checked; 0 disables the timer (tests call `checkAge`). */
  readonly tickMs?: number;
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

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * The store's ingest path after the receivers: every batch is appended to the WAL (durable before
 * `consume` resolves), held in memory as rows, and cut into a block when the current segment reaches
 * `max_bytes`, `max_spans` or `max_age`. Blocks upload one at a time, retried with backoff for as long as
 * it takes; a WAL segment is deleted only after its block and meta are in storage.
 */
export class BlockPipeline implements TraceConsumer {
  private readonly options: BlockPipelineOptions;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private wal!: WriteAheadLog<WalItem>;
  private readonly queue: WalSegment<WalItem>[] = [];
  private uploading: Promise<void> | undefined;
  private cutting: Promise<void> | undefined;
  private heldBytes = 0;
  /** The price of the segment being encoded (its second copy, in the encoder's thread). */
  private encodingBytes = 0;
  private readonly segmentPrice = new WeakMap<WalSegment<WalItem>, number>();
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private stopRetrying = false;
  /** Resolves on abort(), so that a backoff in progress ends at once instead of after up to max_interval. */
  private readonly stopped: Promise<void>;
  private signalStopped!: () => void;
  private readonly m;
  private readonly encoder: BlockEncoder;
  private readonly ownsEncoder: boolean;

  constructor(options: BlockPipelineOptions) {
    this.options = options;
    this.ownsEncoder = options.encoder === undefined;
    this.encoder =
      options.encoder ??
      new BlockEncoder({
        logger: options.logger,
        useWorker: options.encodeInWorker ?? true,
        ...(options.rowGroupSize !== undefined ? { rowGroupSize: options.rowGroupSize } : {}),
        ...(options.codec !== undefined ? { codec: options.codec } : {}),
      });
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.stopped = new Promise<void>((resolve) => (this.signalStopped = resolve));
    const metrics = options.metrics;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect with the gauge as `this`
    const self = this;
    this.m = {
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
    metrics.gauge('store_wal_bytes', 'Bytes held by the write-ahead log.', [], function () {
      this.set(self.wal ? self.wal.bytes : 0);
    });
    metrics.gauge('store_pending_blocks', 'Sealed blocks waiting for upload.', [], function () {
      this.set(self.queue.length);
    });
  }

  /** Opens (and replays) the WAL; replayed segments are queued for upload at once. */
  async start(): Promise<{ replayedSpans: number }> {
    const { wal, replayed } = await WriteAheadLog.open<WalItem>({
      dir: this.options.walDir,
      maxBytes: this.options.walMaxBytes,
      logger: this.options.logger,
      now: this.now,
      decode: (payload) => {
        const rows = flattenTraceData(decodeTraceRequest(payload));
        // Priced as the receivers price a request (admission-estimate.ts), so the budget counts replayed spans alike.
        return { item: { rows, bytes: estimateProtobufRequest(payload) }, spans: rows.length };
      },
      onCorrupt: () => this.m.walCorrupt.inc(),
    });
    this.wal = wal;
    this.encoder.warmUp();
    let replayedSpans = 0;
    for (const seg of replayed) {
      for (const item of seg.items) this.heldBytes += item.bytes;
      replayedSpans += seg.spans;
      this.queue.push(seg);
    }
    this.pump();
    const tickMs = this.options.tickMs ?? Math.min(1000, Math.max(10, this.options.maxBlockAgeMs / 4));
    if (tickMs > 0) {
      this.timer = setInterval(() => this.checkAge(), tickMs);
      this.timer.unref();
    }
    return { replayedSpans };
  }

  /** The WAL's id: part of every block id this store writes. */
  get walId(): string {
    return this.wal.id;
  }

  async consume(batch: TraceBatch): Promise<void> {
    if (this.draining) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the store is shutting down');
    const rows = flattenTraceData(batch.data);
    if (rows.length === 0) return;
    const payload = encodeTraceRequest(batch.data);
    try {
      await this.wal.append(payload, { rows, bytes: batch.bytes }, rows.length);
    } catch (err) {
      if (err instanceof SentinelError && err.code === 'SENTINEL_ERR_WAL_FULL') {
        this.m.walFull.inc();
        // What the head segment holds can only leave the WAL as a block: cut it now, not at max_age.
        void this.cut();
      }
      throw err;
    }
    this.heldBytes += batch.bytes;
    const head = this.wal.head;
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

  /** Cuts a block when the current segment is older than max_age (the timer calls this). */
  checkAge(): void {
    const head = this.wal?.head;
    if (head?.firstAppendMs !== undefined && this.now() - head.firstAppendMs >= this.options.maxBlockAgeMs) {
      void this.cut();
    }
  }

  /** Seals the current segment as a block and queues its upload. One cut at a time. */
  cut(): Promise<void> {
    if (this.cutting) return this.cutting;
    this.cutting = (async () => {
      try {
        const sealed = await this.wal.rotate();
        if (sealed) {
          this.queue.push(sealed);
          this.pump();
        }
      } catch (err) {
        this.options.logger.error({ err }, 'sealing a WAL segment failed');
      } finally {
        this.cutting = undefined;
      }
    })();
    return this.cutting;
  }

  private pump(): void {
    if (this.uploading || this.queue.length === 0) return;
    this.uploading = (async () => {
      while (this.queue.length > 0 && !this.stopRetrying) {
        const seg = this.queue[0]!;
        let ok: boolean;
        try {
          ok = await this.upload(seg);
        } catch (err) {
          if (this.stopRetrying) break;
          // Not a storage error (those are retried inside): log, wait, and try the segment again.
          this.options.logger.error({ err, segment: seg.path }, 'building a block failed');
          await this.pause(this.options.retryMaxMs);
          continue;
        }
        if (!ok) break;
        this.queue.shift();
      }
    })().finally(() => {
      this.uploading = undefined;
      if (this.queue.length > 0 && !this.stopRetrying) this.pump();
    });
  }

  /** A retry wait that abort() cuts short. */
  private pause(ms: number): Promise<void> {
    return Promise.race([this.sleep(ms), this.stopped]);
  }

  /** Encodes and uploads one segment's block, retrying storage errors with backoff; then deletes the segment. */
  private async upload(seg: WalSegment<WalItem>): Promise<boolean> {
    const rows: StoredSpan[] = [];
    for (const item of seg.items) for (const r of item.rows) rows.push(r);
    const started = performance.now();
    // The id comes from the segment, so a replay after a crash rewrites the same keys instead of adding a copy.
    const blockId = `${seg.createdMs.toString(36).padStart(9, '0')}-${this.wal.id}${seg.seq.toString(36)}`;
    // The worker gets the segment's records as written (protobuf), cheaper to pass than the rows; read when
    // the encoder takes the job (it may be busy with a compaction), and not held once packed for the worker.
    let records = 0;
    const payloads = async () => {
      const out: Uint8Array[] = [];
      for (const ev of readWalRecords(await readFile(seg.path))) {
        if (ev.kind === 'corrupt') break;
        out.push(ev.payload);
      }
      records = out.length;
      return out;
    };
    let segBytes = 0;
    for (const item of seg.items) segBytes += item.bytes;
    let block;
    this.encodingBytes = segBytes;
    try {
      block = await this.encoder.encode({
        payloads,
        spans: seg.spans,
        rows: () => rows,
        blockId,
        nowMs: this.now(),
      });
    } catch (err) {
      if (this.stopRetrying || isSentinelError(err, 'SENTINEL_ERR_SHUTTING_DOWN')) throw err;
      // Encoding is a pure function of the segment's spans: it fails the same way every time. Set the segment
      // aside so the ones behind it are written, and a restart does not retry it.
      await this.quarantine(seg, blockId, records || (await payloads()).length, err);
      return true;
    } finally {
      this.encodingBytes = 0;
    }
    this.m.encodeSeconds.observe((performance.now() - started) / 1000);
    let delay = this.options.retryInitialMs;
    for (;;) {
      try {
        await uploadBlock(this.options.store, block);
        break;
      } catch (err) {
        if (this.stopRetrying) return false;
        this.m.retries.inc();
        this.options.logger.warn(
          { err: (err as Error).message, block: block.meta.parquetKey, retryInMs: delay },
          'block upload failed; the WAL keeps the spans and the upload is retried',
        );
        await this.pause(delay);
        if (this.stopRetrying) return false;
        delay = Math.min(this.options.retryMaxMs, delay * 2);
      }
    }
    let bytes = 0;
    for (const item of seg.items) bytes += item.bytes;
    await this.wal.remove(seg);
    this.heldBytes -= bytes;
    this.m.blocks.inc();
    this.m.spans.inc(rows.length);
    this.m.bytes.inc(block.parquet.byteLength);
    this.options.logger.debug({ block: block.meta.parquetKey, spans: rows.length }, 'block uploaded');
    this.options.onBlock?.(block.meta);
    return true;
  }

  private async quarantine(
    seg: WalSegment<WalItem>,
    blockId: string,
    records: number,
    err: unknown,
  ): Promise<void> {
    let bytes = 0;
    for (const item of seg.items) bytes += item.bytes;
    const spans = seg.spans;
    const error = (err as Error).message ?? String(err);
    const path = await this.wal.quarantine(seg, { blockId, records, error });
    this.heldBytes -= bytes;
    this.m.quarantined.inc();
    this.m.quarantinedSpans.inc(spans);
    this.options.logger.error(
      { code: 'SENTINEL_ERR_WAL_QUARANTINED', segment: path, spans, block: blockId, err: error },
      'a WAL segment cannot be encoded as a block; it is quarantined (sentinel store quarantine list) and the pipeline goes on',
    );
  }

  bufferedBytes(): number {
    return Math.max(0, this.heldBytes) + this.encodingBytes;
  }

  /** Every row not yet in an uploaded block (the current segment and those waiting for upload). */
  pendingRows(): StoredSpan[] {
    const out: StoredSpan[] = [];
    const segs = [...this.queue, ...(this.wal ? [this.wal.head] : [])];
    for (const seg of segs) for (const item of seg.items) for (const r of item.rows) out.push(r);
    return out;
  }

  /** Number of spans not yet in an uploaded block. */
  pendingSpans(): number {
    let n = this.wal ? this.wal.head.spans : 0;
    for (const seg of this.queue) n += seg.spans;
    return n;
  }

  /** Cuts the current block and waits until every sealed block is uploaded. */
  async forceFlush(): Promise<void> {
    await this.cut();
    while (this.uploading || (this.queue.length > 0 && !this.stopRetrying)) {
      this.pump();
      await this.uploading;
    }
  }

  /**
   * Refuses new batches, cuts and uploads what is held. Called under the process's shutdown timeout;
   * whatever is not uploaded by then stays in the WAL and is replayed on the next start.
   */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    if (this.timer) clearInterval(this.timer);
    if (!this.wal) return;
    await this.forceFlush();
    await this.wal.close();
    if (this.ownsEncoder) await this.encoder.close();
  }

  /** Stops retrying at once (the WAL keeps what is not uploaded), for a fast stop and for tests. */
  async abort(): Promise<void> {
    this.draining = true;
    this.stopRetrying = true;
    this.signalStopped();
    if (this.timer) clearInterval(this.timer);
    // A shared encoder is closed by its owner first; an own one is closed here so a pending encode ends.
    if (this.ownsEncoder) await this.encoder.close();
    await this.uploading;
    await this.wal?.close();
  }
}
