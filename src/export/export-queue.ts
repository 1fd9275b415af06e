import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SentinelError } from '../errors.js';
import { decodeTraceRequest, encodeTraceRequest, type TraceData } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { decodeRecord, encodeRecord, parseRecordHeader, RECORD_HEADER_BYTES } from './queue-record.js';

/** One batch waiting for its exporter: in memory, or a record file in `queue.dir`. */
export interface QueueItem {
  readonly seq: number;
  readonly spanCount: number;
  /** Estimated heap bytes once decoded (the receivers' memory-budget unit). */
  readonly modelBytes: number;
  /** Bytes the item counts against `queue.max_bytes`: the record file, or modelBytes in memory. */
  readonly sizeBytes: number;
  readonly data?: TraceData;
  /** A batch held in memory as an encoded request (the agent's byte path, issue 13). */
  readonly request?: Uint8Array;
  readonly file?: string;
  /**
   * The record's payload as written, while a record file goes straight from `push` (or `putBack`) to a sender
   * that was waiting for it: the sender sends these bytes instead of reading back the file just written (issue
   * 13). Never kept on a queued item, so a backlog on disk holds no memory.
   */
  readonly written?: Uint8Array;
}

export interface ExportQueueOptions {
  /** The exporter's name: metric label, log field and the sub-directory under `dir`. */
  readonly name: string;
  /** `queue.dir`; empty keeps batches in memory only. */
  readonly dir: string;
  readonly maxBytes: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

const SUFFIX = '.batch';
const TMP_SUFFIX = '.tmp';

/**
 * The bounded queue between an exporter's batcher and its senders (the Collector's sending queue, with
 * the file-storage extension when `queue.dir` is set). On disk, each batch is one file written to a
 * temporary name, fsync()ed, renamed and the directory fsync()ed: once `push` resolves the batch survives
 * a kill -9 or a power cut. Files are named by a sequence number, so replay after a restart keeps order.
 * A file that does not read back (partly written, truncated, flipped bits) is logged, counted and deleted.
 */
export class ExportQueue {
  private readonly items: QueueItem[] = [];
  private readonly waiters: Array<(item: QueueItem | undefined) => void> = [];
  private readonly dir: string;
  private nextSeq = 1;
  private queuedSizeBytes = 0;
  private queuedMemoryBytes = 0;
  private closed = false;
  private readonly corrupt;
  private readonly sizeGauge;
  private readonly batchesGauge;

  constructor(private readonly options: ExportQueueOptions) {
    this.dir = options.dir ? join(options.dir, safeDirName(options.name)) : '';
    const m = options.metrics;
    this.corrupt = m.counter(
      'exporter_queue_corrupt_files_total',
      'Queue files skipped at replay or send because they were partly written or corrupt.',
      ['exporter'],
    );
    this.sizeGauge = m.gauge(
      'exporter_queue_bytes',
      'Bytes the exporter queue holds (on disk with queue.dir, else estimated heap bytes).',
      ['exporter'],
    );
    this.batchesGauge = m.gauge('exporter_queue_batches', 'Batches waiting in the exporter queue.', [
      'exporter',
    ]);
    this.updateGauges();
  }

  get persistent(): boolean {
    return this.dir !== '';
  }

  /** Creates the directory and takes over every record a previous run left there. */
  async open(): Promise<{ batches: number; spans: number; corrupt: number }> {
    if (!this.dir) return { batches: 0, spans: 0, corrupt: 0 };
    let names: string[];
    try {
      await mkdir(this.dir, { recursive: true });
      names = (await readdir(this.dir)).sort();
    } catch (err) {
      throw new SentinelError(
        'SENTINEL_ERR_CONFIG_INVALID',
        `exporter ${this.options.name}: queue.dir ${this.options.dir} cannot be used: ${(err as Error).message}`,
        { cause: err },
      );
    }
    let corrupt = 0;
    let spans = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      if (name.endsWith(TMP_SUFFIX)) {
        // Never renamed: its push never resolved, so no client was told it was accepted.
        this.skip(path, 'partly written (never committed)');
        corrupt++;
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      const seq = Number.parseInt(name, 10);
      const header = await readHeader(path);
      if (typeof header === 'string' || !Number.isSafeInteger(seq)) {
        this.skip(path, typeof header === 'string' ? header : 'unexpected file name');
        corrupt++;
        continue;
      }
      const sizeBytes = RECORD_HEADER_BYTES + header.payloadBytes;
      this.items.push({
        seq,
        spanCount: header.spanCount,
        modelBytes: header.modelBytes,
        sizeBytes,
        file: path,
      });
      this.queuedSizeBytes += sizeBytes;
      spans += header.spanCount;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    this.updateGauges();
    if (this.items.length > 0 || corrupt > 0)
      this.options.logger.info(
        { exporter: this.options.name, batches: this.items.length, spans, corrupt, dir: this.dir },
        'export queue: replaying batches left by the previous run',
      );
    return { batches: this.items.length, spans, corrupt };
  }

  /** True when no more batches are admitted (checked before a batch is accepted, so the bound can be passed by at most one batch). */
  isFull(): boolean {
    return this.queuedSizeBytes >= this.options.maxBytes;
  }

  /** Batches waiting (not counting those being sent). */
  get length(): number {
    return this.items.length;
  }

  /** Bytes counted against `queue.max_bytes`. */
  sizeBytes(): number {
    return this.queuedSizeBytes;
  }

  /** Heap bytes of batches held decoded in memory (none for a persistent queue until a sender loads one). */
  memoryBytes(): number {
    return this.queuedMemoryBytes;
  }

  /**
   * Adds a batch, decoded or as an encoded request (stored as it is); once it resolves the batch is the
   * queue's (on disk when persistent).
   */
  async push(payload: TraceData | Uint8Array, spanCount: number, modelBytes: number): Promise<void> {
    if (this.closed) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the export queue is closed');
    const seq = this.nextSeq++;
    let item: QueueItem;
    if (this.dir) {
      try {
        const file = await this.writeRecord(seq, payload, spanCount, modelBytes);
        item = { seq, spanCount, modelBytes, sizeBytes: file.bytes, file: file.path, written: file.payload };
      } catch (err) {
        // A full or broken disk must not lose what the receivers already acknowledged: keep it in memory.
        this.options.logger.error(
          { exporter: this.options.name, err, spans: spanCount },
          'export queue: cannot write to queue.dir; holding the batch in memory',
        );
        item = memoryItem(seq, payload, spanCount, modelBytes);
      }
    } else {
      item = memoryItem(seq, payload, spanCount, modelBytes);
    }
    this.add(item);
  }

  private add(item: QueueItem): void {
    this.queuedSizeBytes += item.sizeBytes;
    if (inMemory(item)) this.queuedMemoryBytes += item.modelBytes;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(item);
    } else {
      // Keep sequence order: a batch put back after a failed send goes before newer ones.
      let i = this.items.length;
      while (i > 0 && this.items[i - 1]!.seq > item.seq) i--;
      this.items.splice(i, 0, withoutWritten(item));
    }
    this.updateGauges();
  }

  /** The oldest batch, waiting for one; undefined once the queue is closed. */
  take(): Promise<QueueItem | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const item = this.items.shift();
    if (item) {
      this.updateGauges();
      return Promise.resolve(item);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * The batch: decoded spans, or with `encoded` (and a record on disk) the OTLP protobuf request as stored.
   * A string names the problem when the file is corrupt (it is then already deleted, logged and counted).
   */
  async load(
    item: QueueItem,
    encoded = false,
  ): Promise<{ data: TraceData } | { request: Uint8Array } | string> {
    if (item.data) return { data: item.data };
    const bytes = item.request ?? item.written;
    if (bytes) return encoded ? { request: bytes } : { data: decodeTraceRequest(bytes) };
    return this.loadFile(item.file as string, encoded);
  }

  private async loadFile(
    path: string,
    encoded: boolean,
  ): Promise<{ data: TraceData } | { request: Uint8Array } | string> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      this.skip(path, `unreadable: ${(err as Error).message}`);
      return 'unreadable';
    }
    const record = decodeRecord(bytes);
    if (typeof record === 'string') {
      this.skip(path, record);
      return record;
    }
    if (encoded) return { request: record.payload };
    try {
      return { data: decodeTraceRequest(record.payload) };
    } catch (err) {
      this.skip(path, `payload does not decode: ${(err as Error).message}`);
      return 'undecodable';
    }
  }

  /** The batch is done with (sent, or dropped for good): forget it and delete its file. */
  async remove(item: QueueItem): Promise<void> {
    this.queuedSizeBytes -= item.sizeBytes;
    if (inMemory(item)) this.queuedMemoryBytes -= item.modelBytes;
    this.updateGauges();
    if (item.file) await unlink(item.file).catch(() => undefined);
  }

  /**
   * Puts a batch that was taken but not sent back at its place (shutdown during a send, an exporter that threw).
   * A record handed over with its written bytes goes to a sender already waiting with them, as from `push`; queued,
   * it keeps none (`add`).
   */
  putBack(item: QueueItem): void {
    this.queuedSizeBytes -= item.sizeBytes;
    if (inMemory(item)) this.queuedMemoryBytes -= item.modelBytes;
    this.add(item);
  }

  /** What is still queued (after `close`: what this run leaves behind). */
  remaining(): readonly QueueItem[] {
    return [...this.items];
  }

  /** Wakes every waiting sender with `undefined`; batches stay (on disk, for the next run). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private async writeRecord(
    seq: number,
    payload: TraceData | Uint8Array,
    spanCount: number,
    modelBytes: number,
  ): Promise<{ path: string; bytes: number; payload: Uint8Array }> {
    const name = String(seq).padStart(16, '0');
    const tmp = join(this.dir, name + TMP_SUFFIX);
    const path = join(this.dir, name + SUFFIX);
    const request = payload instanceof Uint8Array ? payload : encodeTraceRequest(payload);
    const parts = encodeRecord(request, spanCount, modelBytes);
    const handle = await open(tmp, 'w');
    try {
      await handle.writev(parts);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDir(this.dir);
    return { path, bytes: parts[0]!.byteLength + parts[1]!.byteLength, payload: request };
  }

  private skip(path: string, reason: string): void {
    this.corrupt.inc({ exporter: this.options.name });
    this.options.logger.warn(
      { exporter: this.options.name, file: path, reason },
      'export queue: skipped a partly written or corrupt queue file',
    );
    void unlink(path).catch(() => undefined);
  }

  private updateGauges(): void {
    this.sizeGauge.set({ exporter: this.options.name }, this.queuedSizeBytes);
    this.batchesGauge.set({ exporter: this.options.name }, this.items.length);
  }
}

async function readHeader(path: string): Promise<ReturnType<typeof parseRecordHeader>> {
  try {
    const size = (await stat(path)).size;
    const handle = await open(path, 'r');
    try {
      const header = Buffer.alloc(RECORD_HEADER_BYTES);
      const { bytesRead } = await handle.read(header, 0, RECORD_HEADER_BYTES, 0);
      return parseRecordHeader(header.subarray(0, bytesRead), size);
    } finally {
      await handle.close();
    }
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

/** Makes a rename durable (POSIX: the directory entry is only on disk once the directory is synced). */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open a directory; the file itself is synced already.
  } finally {
    await handle?.close();
  }
}

/** The item without the bytes of a record just written (a queued item reads its file when its turn comes). */
function withoutWritten(item: QueueItem): QueueItem {
  if (item.written === undefined) return item;
  const { written: _written, ...rest } = item;
  return rest;
}

/** True for a batch held in memory (decoded or encoded), false for one in a record file. */
export function inMemory(item: QueueItem): boolean {
  return item.data !== undefined || item.request !== undefined;
}

function memoryItem(
  seq: number,
  payload: TraceData | Uint8Array,
  spanCount: number,
  modelBytes: number,
): QueueItem {
  return payload instanceof Uint8Array
    ? { seq, spanCount, modelBytes, sizeBytes: modelBytes, request: payload }
    : { seq, spanCount, modelBytes, sizeBytes: modelBytes, data: payload };
}

function safeDirName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}
