import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DECISION_ID_BYTES, type FeedCursor } from './feed-protocol.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { DecisionIdIndex } from './decision-id-index.js';

/** 16 id bytes + 8-byte big-endian append time in unix ms (issue 9 protocol). */
export const DECISION_RECORD_BYTES = 24;
const SEGMENT_RE = /^(\d{16})\.decisions$/;
const EPOCH_RE = /^[0-9a-f]{16}$/;
const TWO_POW_32 = 2 ** 32;

export interface DecisionLogOptions {
  readonly dir: string;
  /** Entries retained in memory and on disk; older ones are dropped. */
  readonly maxEntries: number;
  /** Entries appended longer ago than this are dropped even under maxEntries. */
  readonly retentionMs: number;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Entries per segment file (rotation). */
  readonly segmentEntries?: number;
  /** How often written bytes are fdatasync'ed and age retention runs. */
  readonly syncIntervalMs?: number;
  readonly now?: () => number;
}

/** One answer of the feed: `ids` is k x 16 raw bytes in log order. */
export interface DecisionPage {
  readonly cursor: FeedCursor;
  readonly ids: Buffer;
  readonly count: number;
  readonly reset: boolean;
  readonly missed: number;
  readonly more: boolean;
  /** Append time of the first id in `ids`; undefined when empty. */
  readonly oldestAppendedMs: number | undefined;
}

export interface DecisionAppendResult {
  readonly accepted: number;
  readonly appended: number;
  readonly cursor: FeedCursor;
}

/** A segment: its records as on disk (24 bytes each), in memory until the whole segment is beyond the bounds. */
interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  count: number;
  buf: Buffer;
}

/**
 * One store replica's decision feed (issue 9): an append-only log of rule-kept trace ids, each numbered by
 * its seq, read from a cursor `<epoch>.<seq>`. Bounded by `maxEntries` and `retentionMs`; an id the log
 * still retains is not appended again (the de-dup set is exactly the retained ids, so it is bounded too).
 *
 * Persistence: an append is written (write(2)) to the current segment file before it resolves, and the
 * file is fdatasync'ed at most once per `syncIntervalMs`. A process crash (kill -9) keeps every written
 * record, because the kernel has the bytes; only a node crash can lose up to the last interval. The epoch,
 * created once with the directory, tells readers when the directory was lost: their cursor's epoch no longer
 * matches and they are answered from the oldest entry, flagged `reset` (fail safe: ids may repeat, retained
 * ones are never missed).
 */
export class DecisionLog {
  readonly epoch: string;
  private readonly options: DecisionLogOptions;
  private readonly now: () => number;
  private readonly segmentEntries: number;
  private readonly segments: Segment[];
  /** Retained (and staged) ids: the de-dup set. */
  private readonly index: DecisionIdIndex;
  /** Seq of the next entry to append. */
  private headSeq: number;
  /** Seq of the oldest retained entry (== headSeq when empty). */
  private oldestSeq: number;
  private lastAppendMs = 0;
  private fh: FileHandle | undefined;
  private dirty = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly appendedTotal;
  private readonly entriesGauge;
  private readonly headGauge;

  private constructor(
    options: DecisionLogOptions,
    epoch: string,
    segments: Segment[],
    headSeq: number,
    oldestSeq: number,
  ) {
    this.options = options;
    this.epoch = epoch;
    this.now = options.now ?? Date.now;
    this.segmentEntries = options.segmentEntries ?? 16_384;
    this.segments = segments;
    // Retained entries plus one segment's worth staged by an append in progress.
    this.index = new DecisionIdIndex(options.maxEntries + this.segmentEntries, (seq) => this.record(seq));
    this.headSeq = headSeq;
    this.oldestSeq = oldestSeq;
    this.appendedTotal = options.metrics?.counter(
      'store_decisions_appended_total',
      'Trace ids appended to the decision feed (new, not already retained).',
    );
    this.entriesGauge = options.metrics?.gauge(
      'store_decisions_entries',
      'Entries the decision feed retains.',
    );
    this.headGauge = options.metrics?.gauge(
      'store_decisions_head',
      'Seq of the next entry of the decision feed.',
    );
    this.timer = setInterval(() => {
      this.enqueue(() => this.tick()).catch((err: unknown) =>
        options.logger.warn({ err }, 'decision feed: sync or retention pass failed'),
      );
    }, options.syncIntervalMs ?? 1000);
    this.timer.unref();
  }

  /**
   * Opens the feed in `dir` (created with a new epoch if absent), loading the retained records. A last
   * record cut short by a crash is truncated away, counted and logged.
   */
  static async open(options: DecisionLogOptions): Promise<DecisionLog> {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1)
      throw new TypeError(`decisions.max_entries: expected a positive integer, got ${options.maxEntries}`);
    await mkdir(options.dir, { recursive: true });
    const epoch = await readOrCreateEpoch(options.dir, options.logger);
    const torn = options.metrics?.counter(
      'store_decisions_torn_records_total',
      'Partly written decision feed records truncated away at start (a crash mid-write).',
    );
    const names = (await readdir(options.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    let segments: Segment[] = [];
    for (const name of names) {
      const firstSeq = Number(SEGMENT_RE.exec(name)![1]);
      const path = join(options.dir, name);
      let buf = await readFile(path);
      const rest = buf.length % DECISION_RECORD_BYTES;
      if (rest !== 0) {
        buf = buf.subarray(0, buf.length - rest);
        await truncate(path, buf.length);
        torn?.inc();
        options.logger.warn(
          { segment: name, bytes: rest },
          'decision feed: truncated a partly written record (the process stopped mid-write)',
        );
      }
      const prev = segments.at(-1);
      if (prev && prev.firstSeq + prev.count !== firstSeq) {
        // Not contiguous (a file was removed or copied in by hand): keep what follows the gap.
        options.logger.warn(
          { segment: name, expectedSeq: prev.firstSeq + prev.count },
          'decision feed: segments are not contiguous; dropping the older ones',
        );
        for (const s of segments) await rm(s.path, { force: true });
        segments = [];
      }
      segments.push({ firstSeq, path, count: buf.length / DECISION_RECORD_BYTES, buf });
    }
    const last = segments.at(-1);
    const headSeq = last ? last.firstSeq + last.count : 0;
    const oldestSeq = Math.max(segments[0]?.firstSeq ?? headSeq, headSeq - options.maxEntries);
    const log = new DecisionLog(options, epoch, segments, headSeq, oldestSeq);
    try {
      for (let seq = oldestSeq; seq < headSeq; seq++) {
        // Ids are unique in a log this class wrote; a duplicate (files edited by hand) is indexed once.
        const at = log.record(seq);
        if (log.index.find(at.buf, at.offset) === undefined) log.index.add(seq);
      }
      if (last && last.count > 0) log.lastAppendMs = log.appendedMs(headSeq - 1);
      log.applyRetention();
      await log.removeDeadSegments();
      await log.openCurrent();
    } catch (err) {
      clearInterval(log.timer);
      await log.fh?.close();
      throw err;
    }
    if (headSeq > 0) {
      options.logger.info(
        { epoch, head: headSeq, retained: log.size, segments: log.segments.length },
        'decision feed loaded',
      );
    }
    return log;
  }

  /** Entries retained. */
  get size(): number {
    return this.headSeq - this.oldestSeq;
  }

  /** Where a new reader starts. */
  get head(): FeedCursor {
    return { epoch: this.epoch, seq: this.headSeq };
  }

  /** Seq of the oldest retained entry. */
  get oldest(): number {
    return this.oldestSeq;
  }

  /**
   * Appends the ids of `body` (n x 16 bytes, validated by the caller) that the feed does not retain yet;
   * resolves once they are written to the segment file.
   */
  append(body: Uint8Array): Promise<DecisionAppendResult> {
    if (this.closed) return Promise.reject(new Error('the decision feed is closed'));
    return this.enqueue(() => this.appendNow(body));
  }

  /**
   * Reads up to `limit` entries after `cursor` (see the protocol: another epoch or a seq past the head
   * resets to the oldest entry; a seq older than the oldest entry counts the skipped ones as missed).
   * Without a cursor, answers nothing and the head cursor.
   */
  read(cursor: FeedCursor | undefined, limit: number): DecisionPage {
    this.applyRetention();
    const empty = (seq: number, reset: boolean, missed: number): DecisionPage => ({
      cursor: { epoch: this.epoch, seq },
      ids: Buffer.alloc(0),
      count: 0,
      reset,
      missed,
      more: false,
      oldestAppendedMs: undefined,
    });
    if (!cursor) return empty(this.headSeq, false, 0);
    let start = cursor.seq;
    let reset = false;
    let missed = 0;
    if (cursor.epoch !== this.epoch || cursor.seq > this.headSeq) {
      start = this.oldestSeq;
      reset = true;
    } else if (cursor.seq < this.oldestSeq) {
      start = this.oldestSeq;
      missed = this.oldestSeq - cursor.seq;
    }
    const available = this.headSeq - start;
    const count = Math.min(Math.max(0, limit), available);
    if (count === 0) return empty(start, reset, missed);
    const ids = Buffer.allocUnsafe(count * DECISION_ID_BYTES);
    let seq = start;
    let out = 0;
    let i = this.segmentIndex(seq);
    while (out < count) {
      const seg = this.segments[i++]!;
      const end = Math.min(seg.firstSeq + seg.count, start + count);
      for (; seq < end; seq++, out++) {
        const o = (seq - seg.firstSeq) * DECISION_RECORD_BYTES;
        seg.buf.copy(ids, out * DECISION_ID_BYTES, o, o + DECISION_ID_BYTES);
      }
    }
    return {
      cursor: { epoch: this.epoch, seq: start + count },
      ids,
      count,
      reset,
      missed,
      more: available > count,
      oldestAppendedMs: this.appendedMs(start),
    };
  }

  /** Waits for pending appends, fdatasyncs and closes the segment file. Runs once. */
  close(): Promise<void> {
    if (this.closed) return this.chain.then(() => undefined);
    this.closed = true;
    clearInterval(this.timer);
    return this.enqueue(async () => {
      await this.syncNow();
      await this.fh?.close();
      this.fh = undefined;
    });
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async appendNow(body: Uint8Array): Promise<DecisionAppendResult> {
    const accepted = Math.floor(body.length / DECISION_ID_BYTES);
    this.applyRetention();
    // Clocks can step back; append times stay in order so that age retention can stop at the first young one.
    const nowMs = Math.max(this.lastAppendMs, Math.floor(this.now()));
    const src = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    let appended = 0;
    let i = 0;
    while (i < accepted) {
      let seg = this.segments.at(-1)!;
      if (seg.count >= this.segmentEntries) {
        await this.rotate();
        seg = this.segments.at(-1)!;
      }
      this.reserve(seg);
      // Stage new records in the segment's buffer past its count (invisible to readers until written), so
      // the index finds duplicates within this request too.
      let n = 0;
      for (; i < accepted && seg.count + n < this.segmentEntries; i++) {
        const o = i * DECISION_ID_BYTES;
        if (this.index.find(src, o) !== undefined) continue;
        const r = (seg.count + n) * DECISION_RECORD_BYTES;
        src.copy(seg.buf, r, o, o + DECISION_ID_BYTES);
        seg.buf.writeUInt32BE(Math.floor(nowMs / TWO_POW_32), r + 16);
        seg.buf.writeUInt32BE(nowMs >>> 0, r + 20);
        this.index.add(this.headSeq + n);
        n++;
      }
      if (n === 0) continue;
      try {
        await this.writeRecords(seg, n);
      } catch (err) {
        for (let k = n - 1; k >= 0; k--) this.index.delete(this.headSeq + k);
        throw err;
      }
      seg.count += n;
      this.headSeq += n;
      this.lastAppendMs = nowMs;
      appended += n;
      this.applyRetention();
    }
    this.appendedTotal?.inc(appended);
    await this.removeDeadSegments();
    return { accepted, appended, cursor: this.head };
  }

  /** Makes room for a whole segment of records in `seg`'s buffer. */
  private reserve(seg: Segment): void {
    const need = Math.max(seg.count, this.segmentEntries) * DECISION_RECORD_BYTES;
    if (seg.buf.length >= need) return;
    const grown = Buffer.allocUnsafe(need);
    seg.buf.copy(grown, 0, 0, seg.count * DECISION_RECORD_BYTES);
    seg.buf = grown;
  }

  /** Writes the `n` staged records of `seg` to its file; on a failed write the file is cut back to its records. */
  private async writeRecords(seg: Segment, n: number): Promise<void> {
    const fh = this.fh!;
    const offset = seg.count * DECISION_RECORD_BYTES;
    const length = n * DECISION_RECORD_BYTES;
    try {
      let written = 0;
      while (written < length) {
        const { bytesWritten } = await fh.write(
          seg.buf,
          offset + written,
          length - written,
          offset + written,
        );
        written += bytesWritten;
      }
    } catch (err) {
      await fh.truncate(offset).catch(() => undefined);
      throw err;
    }
    this.dirty = true;
  }

  /** Seals the current segment (synced, closed) and starts the next at the head seq. */
  private async rotate(): Promise<void> {
    await this.syncNow();
    await this.fh?.close();
    this.fh = undefined;
    this.segments.push(this.newSegment(this.headSeq));
    await this.openCurrent();
  }

  private newSegment(firstSeq: number): Segment {
    return {
      firstSeq,
      path: join(this.options.dir, `${String(firstSeq).padStart(16, '0')}.decisions`),
      count: 0,
      buf: Buffer.alloc(0),
    };
  }

  /** Opens the last segment for writing, creating it when there is none or it is full. */
  private async openCurrent(): Promise<void> {
    const last = this.segments.at(-1);
    if (!last || last.count >= this.segmentEntries) this.segments.push(this.newSegment(this.headSeq));
    const seg = this.segments.at(-1)!;
    // 'r+' after creating: positional writes at the record boundary (with 'a' Linux ignores the position).
    await (await open(seg.path, 'a')).close();
    this.fh = await open(seg.path, 'r+');
  }

  private async syncNow(): Promise<void> {
    if (!this.dirty || !this.fh) return;
    this.dirty = false;
    await this.fh.datasync();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    await this.syncNow();
    this.applyRetention();
    await this.removeDeadSegments();
  }

  /** Advances the oldest retained seq past entries beyond `maxEntries` or older than `retentionMs`. */
  private applyRetention(): void {
    let oldest = Math.max(this.oldestSeq, this.headSeq - this.options.maxEntries);
    const cutoffMs = this.now() - this.options.retentionMs;
    while (oldest < this.headSeq && this.appendedMs(oldest) < cutoffMs) oldest++;
    for (let seq = this.oldestSeq; seq < oldest; seq++) this.index.delete(seq);
    this.oldestSeq = oldest;
    this.entriesGauge?.set(this.size);
    this.headGauge?.set(this.headSeq);
  }

  /** Deletes segment files whose entries are all beyond the bounds (never the current one: it names the head). */
  private async removeDeadSegments(): Promise<void> {
    while (this.segments.length > 1) {
      const seg = this.segments[0]!;
      if (seg.firstSeq + seg.count > this.oldestSeq) return;
      this.segments.shift();
      await rm(seg.path, { force: true });
    }
  }

  private segmentIndex(seq: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private record(seq: number): { buf: Buffer; offset: number } {
    const seg = this.segments[this.segmentIndex(seq)]!;
    return { buf: seg.buf, offset: (seq - seg.firstSeq) * DECISION_RECORD_BYTES };
  }

  private appendedMs(seq: number): number {
    const { buf, offset } = this.record(seq);
    return buf.readUInt32BE(offset + 16) * TWO_POW_32 + buf.readUInt32BE(offset + 20);
  }
}

/** The feed's epoch: read from `<dir>/epoch`, or created (random, synced) with a new directory. */
async function readOrCreateEpoch(dir: string, logger: Logger): Promise<string> {
  const file = join(dir, 'epoch');
  let found: string | undefined;
  try {
    found = (await readFile(file, 'utf8')).trim();
    if (EPOCH_RE.test(found)) return found;
  } catch {
    // first start
  }
  const epoch = randomBytes(8).toString('hex');
  if (found !== undefined) {
    logger.warn(
      { file, epoch },
      'decision feed: the epoch file is malformed; starting a new epoch (readers reset)',
    );
  }
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(epoch);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  return epoch;
}
