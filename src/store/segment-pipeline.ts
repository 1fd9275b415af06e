import { every, systemClock, wallClockNow, type Clock, type ClockInterval } from '../clock.js';
import { SentinelError, isSentinelError } from '../errors.js';
import type { ObjectStore } from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { WriteAheadLog, type WalSegment } from './write-ahead-log.js';

/** The options both segment pipelines take (the traces' `BlockPipelineOptions`, the logs' `LogsPipelineOptions`). */
export interface SegmentPipelineOptions {
  readonly store: ObjectStore;
  readonly walDir: string;
  readonly walMaxBytes: number;
  readonly maxBlockBytes: number;
  readonly maxBlockAgeMs: number;
  readonly rowGroupSize?: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Block age, upload backoff, and the date in block ids and metas (tests pass a ManualClock or ScaledClock). */
  readonly clock?: Clock;
  /** How often the age trigger is checked; 0 disables the timer (tests call `checkAge`). */
  readonly tickMs?: number;
}

/** The counters the segment life moves, each pipeline's own (`store_wal_full_refusals_total`, `store_logs_…`). */
export interface SegmentCounters {
  readonly walFull: { inc(): void };
  readonly walCorrupt: { inc(): void };
  readonly retries: { inc(): void };
  readonly blocks: { inc(): void };
  readonly quarantined: { inc(): void };
}

/** The words of the log lines: the WAL, its blocks and what they hold (`WAL`, `block`, `spans`). */
export interface SegmentWords {
  readonly wal: string;
  readonly block: string;
  readonly items: string;
}

/** A block made of one segment, with the count of spans or records it holds. */
export interface SegmentBlock<Block> {
  readonly block: Block;
  readonly count: number;
}

/**
 * The life of a WAL segment, shared by the traces' block pipeline and the logs pipeline: every accepted request is
 * appended to the WAL (durable before it is acknowledged) and held in memory as an `Item`; the current segment is
 * sealed when the pipeline's size bounds or `max_age` say so; sealed segments become exactly one block each, whose id
 * comes from the segment, and upload one at a time, retried with backoff for as long as it takes; a segment is
 * deleted only after its block and meta are in storage, and one that cannot be encoded is quarantined. A subclass
 * says how a record is read back on replay, priced and encoded, and how a block is stored.
 */
export abstract class SegmentPipeline<
  Item,
  Block extends { readonly meta: { readonly parquetKey: string } },
> {
  private readonly clock: Clock;
  protected wal!: WriteAheadLog<Item>;
  /** Sealed segments waiting for upload, oldest first. */
  protected readonly queue: WalSegment<Item>[] = [];
  private uploading: Promise<void> | undefined;
  private cutting: Promise<void> | undefined;
  private heldBytes = 0;
  private draining = false;
  private ageTicker: ClockInterval | undefined;
  private stopRetrying = false;
  /** Aborted by abort(), so that a backoff in progress ends at once instead of after up to max_interval. */
  private readonly stopped = new AbortController();

  protected constructor(
    private readonly life: SegmentPipelineOptions,
    private readonly words: SegmentWords,
    private readonly counters: SegmentCounters,
  ) {
    this.clock = life.clock ?? systemClock;
  }

  /** A WAL record read back on replay: the item held in memory and its count of spans or records. */
  protected abstract decodeRecord(payload: Uint8Array): { item: Item; spans: number };
  /** An item's price in the memory budget (`bufferedBytes`). */
  protected abstract itemBytes(item: Item): number;
  /**
   * Encodes a sealed segment as its block; undefined when nothing in it is left to store. Throwing sets the segment
   * aside (quarantine): encoding is a pure function of the segment, so a retry would fail the same way.
   */
  protected abstract encodeSegment(
    seg: WalSegment<Item>,
    blockId: string,
  ): Promise<SegmentBlock<Block> | undefined>;
  /** How many records a segment that cannot be encoded holds (its quarantine reason says it). */
  protected abstract quarantineRecords(seg: WalSegment<Item>): Promise<number> | number;
  /** Told once a segment is quarantined, to log it (the counter is moved already). */
  protected abstract quarantined(
    seg: WalSegment<Item>,
    note: { path: string; blockId: string; error: string },
  ): void;
  /** Stores a block's objects once (the segment life retries). */
  protected abstract putBlock(block: Block): Promise<void>;
  /** Told about every block stored, after its segment is deleted (the blocks counter is moved already). */
  protected abstract uploaded(block: Block, count: number): void;
  /** Called once the WAL is open, before replayed segments are queued. */
  protected opened(): void {}
  /** Lets go of what the pipeline owns besides its WAL: after the WAL on shutdown, before waiting on abort. */
  protected async release(): Promise<void> {}

  /** Opens (and replays) the WAL; replayed segments are queued for upload at once. Resolves with their count. */
  protected async open(): Promise<number> {
    const { wal, replayed } = await WriteAheadLog.open<Item>({
      dir: this.life.walDir,
      maxBytes: this.life.walMaxBytes,
      logger: this.life.logger,
      clock: this.clock,
      decode: (payload) => this.decodeRecord(payload),
      onCorrupt: () => this.counters.walCorrupt.inc(),
    });
    this.wal = wal;
    this.opened();
    let replayedCount = 0;
    for (const seg of replayed) {
      this.heldBytes += this.segmentBytes(seg);
      replayedCount += seg.spans;
      this.queue.push(seg);
    }
    this.pump();
    const tickMs = this.life.tickMs ?? Math.min(1000, Math.max(10, this.life.maxBlockAgeMs / 4));
    if (tickMs > 0) this.ageTicker = every(this.clock, tickMs, () => this.checkAge());
    return replayedCount;
  }

  /** The time a block's meta is stamped with (`createdAt`): wall-clock on purpose, it is a date in storage. */
  protected blockTimeMs(): number {
    return wallClockNow(this.clock);
  }

  /** The WAL's id: part of every block id this pipeline writes. */
  get walId(): string {
    return this.wal.id;
  }

  /** Throws SENTINEL_ERR_SHUTTING_DOWN once shutdown or abort has begun. */
  protected refuseWhenDraining(): void {
    if (this.draining) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the store is shutting down');
  }

  /** Appends a record to the WAL (durable when it resolves) and holds its item; resolves with the head segment. */
  protected async append(
    payload: Uint8Array,
    item: Item,
    count: number,
  ): Promise<Readonly<WalSegment<Item>>> {
    try {
      await this.wal.append(payload, item, count);
    } catch (err) {
      if (isSentinelError(err, 'SENTINEL_ERR_WAL_FULL')) {
        this.counters.walFull.inc();
        // What the head segment holds can only leave the WAL as a block: cut it now, not at max_age.
        void this.cut();
      }
      throw err;
    }
    this.heldBytes += this.itemBytes(item);
    return this.wal.head;
  }

  /** Cuts a block when the current segment is older than max_age (the timer calls this). */
  checkAge(): void {
    const head = this.wal?.head;
    if (head?.firstAppendMs !== undefined && this.clock.now() - head.firstAppendMs >= this.life.maxBlockAgeMs)
      void this.cut();
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
        this.life.logger.error({ err }, `sealing a ${this.words.wal} segment failed`);
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
          this.life.logger.error({ err, segment: seg.path }, `building a ${this.words.block} failed`);
          await this.pause(this.life.retryMaxMs);
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
    return this.clock.sleep(ms, this.stopped.signal);
  }

  private segmentBytes(seg: WalSegment<Item>): number {
    let bytes = 0;
    for (const item of seg.items) bytes += this.itemBytes(item);
    return bytes;
  }

  /** Encodes one segment's block (quarantining it when that fails), uploads it with backoff, deletes the segment. */
  private async upload(seg: WalSegment<Item>): Promise<boolean> {
    // The id comes from the segment, so a replay after a crash rewrites the same keys instead of adding a copy.
    const blockId = `${seg.createdMs.toString(36).padStart(9, '0')}-${this.wal.id}${seg.seq.toString(36)}`;
    let encoded: SegmentBlock<Block> | undefined;
    try {
      encoded = await this.encodeSegment(seg, blockId);
    } catch (err) {
      if (this.stopRetrying || isSentinelError(err, 'SENTINEL_ERR_SHUTTING_DOWN')) throw err;
      // Encoding is a pure function of the segment: it fails the same way every time. Set the segment aside so
      // the ones behind it are written, and a restart does not retry it.
      await this.quarantine(seg, blockId, err);
      return true;
    }
    if (encoded && !(await this.store(encoded.block))) return false;
    const bytes = this.segmentBytes(seg);
    await this.wal.remove(seg);
    this.heldBytes -= bytes;
    if (encoded) {
      this.counters.blocks.inc();
      this.uploaded(encoded.block, encoded.count);
    }
    return true;
  }

  /** Stores a block, retrying storage errors with backoff for as long as it takes; false once stopped. */
  private async store(block: Block): Promise<boolean> {
    const { wal, items } = this.words;
    let delay = this.life.retryInitialMs;
    for (;;) {
      try {
        await this.putBlock(block);
        return true;
      } catch (err) {
        if (this.stopRetrying) return false;
        this.counters.retries.inc();
        this.life.logger.warn(
          { err: (err as Error).message, block: block.meta.parquetKey, retryInMs: delay },
          `${this.words.block} upload failed; the ${wal} keeps the ${items} and the upload is retried`,
        );
        await this.pause(delay);
        if (this.stopRetrying) return false;
        delay = Math.min(this.life.retryMaxMs, delay * 2);
      }
    }
  }

  private async quarantine(seg: WalSegment<Item>, blockId: string, err: unknown): Promise<void> {
    const bytes = this.segmentBytes(seg);
    const error = (err as Error).message ?? String(err);
    const records = await this.quarantineRecords(seg);
    const path = await this.wal.quarantine(seg, { blockId, records, error });
    this.heldBytes -= bytes;
    this.counters.quarantined.inc();
    this.quarantined(seg, { path, blockId, error });
  }

  /** Bytes held in memory: the items of every segment not yet in an uploaded block. */
  bufferedBytes(): number {
    return Math.max(0, this.heldBytes);
  }

  /** The segments not yet in an uploaded block: those waiting for upload, then the current one. */
  protected pendingSegments(): readonly Readonly<WalSegment<Item>>[] {
    return [...this.queue, ...(this.wal ? [this.wal.head] : [])];
  }

  /** Spans or records not yet in an uploaded block. */
  protected pendingTotal(): number {
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
   * Refuses new requests, cuts and uploads what is held. Called under the process's shutdown timeout;
   * whatever is not uploaded by then stays in the WAL and is replayed on the next start.
   */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.ageTicker?.stop();
    if (!this.wal) return;
    await this.forceFlush();
    await this.wal.close();
    await this.release();
  }

  /** Stops retrying at once (the WAL keeps what is not uploaded), for a fast stop and for tests. */
  async abort(): Promise<void> {
    this.draining = true;
    this.stopRetrying = true;
    this.stopped.abort();
    this.ageTicker?.stop();
    await this.release();
    await this.uploading;
    await this.wal?.close();
  }
}
