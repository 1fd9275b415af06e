import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { systemClock, wallClockNow, type Clock } from '../clock.js';
import { SentinelError } from '../errors.js';
import type { Logger } from '../telemetry/index.js';
import { quarantineSegment } from './quarantine.js';
import { readWalRecords, RECORD_HEADER } from './wal-record.js';

const SEGMENT_RE = /^(\d{12})-(\d+)\.wal$/;

/** A segment of the log: its records' payloads live on disk, the decoded items in memory until uploaded. */
export interface WalSegment<T> {
  readonly seq: number;
  /** When the segment was opened (unix ms); part of the block id it becomes. */
  readonly createdMs: number;
  readonly path: string;
  bytes: number;
  spans: number;
  items: T[];
  /**
   * When the first record was appended (`clock.now()`), for the block age trigger; on a replayed segment, which
   * is sealed already and so never aged, its `createdMs`.
   */
  firstAppendMs: number | undefined;
}

export interface WriteAheadLogOptions<T> {
  readonly dir: string;
  /** The bound of all segments together; appends beyond it are refused with SENTINEL_ERR_WAL_FULL. */
  readonly maxBytes: number;
  readonly logger: Logger;
  /** Turns a record's payload back into its item on replay; throwing marks the record corrupt. */
  readonly decode: (payload: Uint8Array) => { item: T; spans: number };
  readonly clock?: Clock;
  /** Called for each record replay had to stop at (checksum or decode failure). */
  readonly onCorrupt?: (segment: string) => void;
  /** Opens a new segment file for writing; tests inject short writes and ENOSPC here. Default: fs `open(path, 'w')`. */
  readonly openFile?: (path: string) => Promise<WalFile>;
}

/** The part of `FileHandle` the log writes segments with (positioned writes only, never O_APPEND). */
export interface WalFile {
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/**
 * Writes all of `buffers` at `position`, continuing after a short write (writev(2) may write less than asked,
 * for example when the disk fills up in the middle); a write that makes no progress is an error.
 */
export async function writeFully(file: WalFile, buffers: Uint8Array[], position: number): Promise<void> {
  let rest = buffers.filter((b) => b.byteLength > 0);
  let at = position;
  while (rest.length > 0) {
    let want = 0;
    for (const b of rest) want += b.byteLength;
    const { bytesWritten } = await file.writev(rest, at);
    if (bytesWritten >= want) return;
    if (bytesWritten <= 0) {
      throw Object.assign(new Error(`short write: 0 of ${want} bytes written at offset ${at}`), {
        code: 'ENOSPC',
      });
    }
    at += bytesWritten;
    let skip = bytesWritten;
    const next: Uint8Array[] = [];
    for (const b of rest) {
      if (skip >= b.byteLength) {
        skip -= b.byteLength;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}

const openForWrite = async (path: string): Promise<WalFile> => open(path, 'w');

interface PendingAppend<T> {
  payload: Uint8Array;
  item: T;
  spans: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The store's write-ahead log: an append is on disk (written and fdatasync'ed) before it resolves, so a
 * span the store acknowledged survives a crash. Appends that arrive together share one fsync (group
 * commit). The log is a sequence of segment files; `rotate` seals the current one, which becomes exactly
 * one block, and `remove` deletes a segment once its block and meta are uploaded. Because a segment maps to
 * one block with a deterministic id, replaying a segment whose block was already uploaded rewrites the
 * same objects: every acknowledged span is stored exactly once.
 */
export class WriteAheadLog<T> {
  /** Stable id of this log (and of the store replica that owns it), in block ids. */
  readonly id: string;
  private readonly options: WriteAheadLogOptions<T>;
  private readonly clock: Clock;
  private current!: WalSegment<T>;
  private fh!: WalFile;
  /**
   * Set when an append failed part-way: the file may hold bytes past the last whole record. They are cut off
   * before anything else is written to it (and until that succeeds, nothing is).
   */
  private tornTail = false;
  private nextSeq: number;
  /** Bytes on disk plus bytes reserved by appends in flight. */
  private totalBytes = 0;
  private pending: PendingAppend<T>[] = [];
  private flushScheduled = false;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(options: WriteAheadLogOptions<T>, id: string, nextSeq: number) {
    this.options = options;
    this.id = id;
    this.nextSeq = nextSeq;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Opens the log in `dir`, replaying every segment left by a previous run. Replayed segments come back
   * sealed, in order, with their decoded items: the caller turns each into a block.
   */
  static async open<T>(
    options: WriteAheadLogOptions<T>,
  ): Promise<{ wal: WriteAheadLog<T>; replayed: WalSegment<T>[] }> {
    await mkdir(options.dir, { recursive: true });
    const id = await readOrCreateId(options.dir);
    const names = (await readdir(options.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    const replayed: WalSegment<T>[] = [];
    let maxSeq = 0;
    let total = 0;
    for (const name of names) {
      const m = SEGMENT_RE.exec(name)!;
      const seq = Number(m[1]);
      maxSeq = Math.max(maxSeq, seq);
      const path = join(options.dir, name);
      const segment = await replaySegment(path, seq, Number(m[2]), options);
      if (segment.items.length === 0) {
        await rm(path, { force: true });
        continue;
      }
      total += segment.bytes;
      replayed.push(segment);
    }
    const wal = new WriteAheadLog(options, id, maxSeq + 1);
    wal.totalBytes = total;
    await wal.openSegment();
    if (replayed.length > 0) {
      options.logger.info(
        { segments: replayed.length, spans: replayed.reduce((n, s) => n + s.spans, 0) },
        'replayed the write-ahead log',
      );
    }
    return { wal, replayed };
  }

  /** Opens the next segment file; on failure the current segment stays (and `nextSeq` is not used up). */
  private async openSegment(): Promise<void> {
    const seq = this.nextSeq;
    // Wall-clock on purpose: the segment's name and the id of the block it becomes carry it as a date.
    const createdMs = wallClockNow(this.clock);
    const path = join(this.options.dir, `${String(seq).padStart(12, '0')}-${createdMs}.wal`);
    const fh = await (this.options.openFile ?? openForWrite)(path);
    this.nextSeq++;
    this.fh = fh;
    this.tornTail = false;
    this.current = { seq, createdMs, path, bytes: 0, spans: 0, items: [], firstAppendMs: undefined };
  }

  /** Bytes the log holds (all segments not yet removed, plus appends in flight). */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The segment being appended to (read-only use: size and age triggers). */
  get head(): Readonly<WalSegment<T>> {
    return this.current;
  }

  /**
   * Appends one record; resolves once it is durable, at which point `item` belongs to the current segment.
   * Refuses with SENTINEL_ERR_WAL_FULL when the log is at its bound.
   */
  append(payload: Uint8Array, item: T, spans: number): Promise<void> {
    if (this.closed) {
      return Promise.reject(new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the write-ahead log is closed'));
    }
    const size = payload.byteLength + RECORD_HEADER;
    if (this.totalBytes + size > this.options.maxBytes) {
      return Promise.reject(
        new SentinelError(
          'SENTINEL_ERR_WAL_FULL',
          `the write-ahead log holds ${this.totalBytes} of ${this.options.maxBytes} bytes (wal_max_bytes); retry later`,
        ),
      );
    }
    this.totalBytes += size;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ payload, item, spans, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        void this.enqueue(() => this.flushPending());
      }
    });
  }

  private enqueue<R>(op: () => Promise<R>): Promise<R> {
    const p = this.chain.then(op);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async flushPending(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const buffers: Uint8Array[] = [];
    let size = 0;
    for (const a of batch) {
      const header = Buffer.allocUnsafe(RECORD_HEADER);
      header.writeUInt32LE(a.payload.byteLength, 0);
      header.writeUInt32LE(crc32(a.payload), 4);
      buffers.push(header, a.payload);
      size += RECORD_HEADER + a.payload.byteLength;
    }
    try {
      // A torn tail of an earlier failure goes first: records are only ever written right after the last
      // whole one, at an explicit offset, so replay never meets garbage before an acknowledged record.
      if (this.tornTail) await this.cutTornTail();
      await writeFully(this.fh, buffers, this.current.bytes);
      await this.fh.datasync();
    } catch (err) {
      this.totalBytes -= size;
      this.tornTail = true;
      await this.cutTornTail().catch(() => undefined);
      const e = new SentinelError(
        'SENTINEL_ERR_STORAGE',
        `write-ahead log write failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
      for (const a of batch) a.reject(e);
      return;
    }
    const seg = this.current;
    seg.bytes += size;
    if (seg.firstAppendMs === undefined) seg.firstAppendMs = this.clock.now();
    for (const a of batch) {
      seg.items.push(a.item);
      seg.spans += a.spans;
    }
    for (const a of batch) a.resolve();
  }

  /**
   * Cuts the current file back to its last whole record. Only ever shrinks it: truncate(2) past the end would
   * fill the gap with zeros, which replay would read as a record that fails its checksum.
   */
  private async cutTornTail(): Promise<void> {
    const { size } = await this.fh.stat();
    if (size > this.current.bytes) {
      await this.fh.truncate(this.current.bytes);
      await this.fh.datasync();
    }
    this.tornTail = false;
  }

  /**
   * Seals the current segment after every append before this call is durable, and opens a new one.
   * Resolves with the sealed segment, or undefined when it was empty (then it stays current).
   */
  rotate(): Promise<WalSegment<T> | undefined> {
    return this.enqueue(async () => {
      if (this.pending.length > 0) await this.flushPending();
      const sealed = this.current;
      if (sealed.items.length === 0) return undefined;
      const sealedFile = this.fh;
      // The torn tail of a failed append is cut before the segment is sealed (a failure here leaves it
      // current: the next append or rotation tries again).
      if (this.tornTail) await this.cutTornTail();
      // The new file first: if it cannot be created (disk full), the current segment stays open for appends.
      await this.openSegment();
      await sealedFile.close().catch(() => undefined);
      return sealed;
    });
  }

  /**
   * Moves a sealed segment whose block cannot be encoded aside (`<dir>/quarantine/`, with `reason`), so the
   * segments behind it go on and a restart does not replay it. Resolves with its new path.
   */
  async quarantine(
    segment: WalSegment<T>,
    reason: { blockId: string; records: number; error: string },
  ): Promise<string> {
    const target = await quarantineSegment(
      this.options.dir,
      segment.path,
      { ...reason, spans: segment.spans, bytes: segment.bytes },
      // Wall-clock on purpose: written into the reason file as `quarantinedAt`.
      wallClockNow(this.clock),
    );
    this.totalBytes -= segment.bytes;
    segment.items = [];
    return target;
  }

  /** Deletes a sealed segment (its block and meta are uploaded). */
  async remove(segment: WalSegment<T>): Promise<void> {
    await rm(segment.path, { force: true });
    this.totalBytes -= segment.bytes;
    segment.items = [];
  }

  /** Waits for appends in flight, then closes the current segment file (it is replayed on the next open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.enqueue(async () => {
      await this.flushPending();
      if (this.tornTail) await this.cutTornTail().catch(() => undefined);
      await this.fh.close();
      if (this.current.items.length === 0) await rm(this.current.path, { force: true });
    });
  }
}

async function readOrCreateId(dir: string): Promise<string> {
  const file = join(dir, 'wal.id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[a-z0-9]{6,32}$/.test(id)) return id;
  } catch {
    // first start
  }
  const id = randomBytes(4).toString('hex');
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(id);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  return id;
}

async function replaySegment<T>(
  path: string,
  seq: number,
  createdMs: number,
  options: WriteAheadLogOptions<T>,
): Promise<WalSegment<T>> {
  const buf = await readFile(path);
  const segment: WalSegment<T> = {
    seq,
    createdMs,
    path,
    bytes: 0,
    spans: 0,
    items: [],
    firstAppendMs: createdMs,
  };
  for (const ev of readWalRecords(buf)) {
    if (ev.kind === 'corrupt') {
      options.logger.error(
        { segment: path, offset: ev.offset, code: 'SENTINEL_ERR_WAL_CORRUPT' },
        'a write-ahead log record fails its checksum; replay keeps the records before it',
      );
      options.onCorrupt?.(path);
      break;
    }
    let decoded: { item: T; spans: number };
    try {
      decoded = options.decode(ev.payload);
    } catch (err) {
      options.logger.error(
        { segment: path, offset: ev.offset, err, code: 'SENTINEL_ERR_WAL_CORRUPT' },
        'a write-ahead log record does not decode; replay keeps the records before it',
      );
      options.onCorrupt?.(path);
      break;
    }
    segment.items.push(decoded.item);
    segment.spans += decoded.spans;
  }
  segment.bytes = buf.length;
  return segment;
}
