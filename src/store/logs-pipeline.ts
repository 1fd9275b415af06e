import { SentinelError, isSentinelError } from '../errors.js';
import {
  countLogRecords,
  decodeLogsRequest,
  keepValidLogs,
  scanLogTimes,
  scanSignalRequest,
  type LogsData,
  type SignalBatch,
  type TraceConsumer,
} from '../otlp/index.js';
import {
  encodeLogsPayloads,
  flattenLogsData,
  uploadLogsBlock,
  type LogsEncoder,
  type LogsBlockMeta,
  type ObjectStore,
  type StoredLog,
} from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { WriteAheadLog, type WalSegment } from './write-ahead-log.js';

/**
 * What one logs WAL record holds in memory: the request's protobuf bytes as sent (decoded again, and validated
 * again by the same pure rule, when a block is cut or a query reads pending logs) and its valid record count.
 */
export interface LogsWalItem {
  readonly payload: Uint8Array;
  readonly records: number;
}

export interface LogsPipelineOptions {
  readonly store: ObjectStore;
  /** The logs WAL's own directory (`<wal_dir>/logs`). */
  readonly walDir: string;
  readonly walMaxBytes: number;
  readonly maxBlockBytes: number;
  readonly maxBlockRecords: number;
  readonly maxBlockAgeMs: number;
  readonly rowGroupSize?: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How often the age trigger is checked; 0 disables the timer (tests call `checkAge`). */
  readonly tickMs?: number;
  /** Told about every logs block uploaded (the query side adds it to its catalog at once). */
  readonly onBlock?: (meta: LogsBlockMeta) => void;
  /** Encodes blocks off the main thread; without it, in-process. */
  readonly encoder?: LogsEncoder;
  /** Replaces the encoding of a segment (tests make it fail to see a segment quarantined). */
  readonly encode?: typeof encodeLogsPayloads;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Decodes a logs WAL payload and drops what validation refuses (the same rule as at the door). */
export function decodeValidLogs(payload: Uint8Array): LogsData {
  const data = decodeLogsRequest(payload);
  keepValidLogs(data);
  return data;
}

/**
 * The store's logs path (issue 16): `consumeLogs` decodes and validates a request, appends its bytes to the logs
 * WAL (durable before it resolves) and cuts a logs block when the segment reaches `logs.max_block_bytes`,
 * `block.max_spans` records or `block.max_age`. As for spans, one WAL segment becomes exactly one block whose id
 * comes from the segment, blocks upload one at a time with backoff, a segment is deleted only once its block and
 * meta are stored, and a segment that cannot be encoded is quarantined. Memory holds the requests' bytes only.
 */
export class LogsPipeline {
  private readonly options: LogsPipelineOptions;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private wal!: WriteAheadLog<LogsWalItem>;
  private readonly queue: WalSegment<LogsWalItem>[] = [];
  private uploading: Promise<void> | undefined;
  private cutting: Promise<void> | undefined;
  private heldBytes = 0;
  private draining = false;
  private stopRetrying = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly stopped: Promise<void>;
  private signalStopped!: () => void;
  private readonly m;

  constructor(options: LogsPipelineOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.stopped = new Promise<void>((resolve) => (this.signalStopped = resolve));
    const metrics = options.metrics;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect with the gauge as `this`
    const self = this;
    this.m = {
      accepted: metrics.counter('store_logs_accepted_total', 'Log records written to the logs WAL.'),
      rejected: metrics.counter(
        'store_logs_rejected_total',
        'Log records (reason time_out_of_range, no_time) or whole requests (decode, invalid) the store refused.',
        ['reason'],
      ),
      blocks: metrics.counter('store_logs_blocks_written_total', 'Logs blocks uploaded (Parquet and meta).'),
      written: metrics.counter('store_logs_written_total', 'Log records written into uploaded logs blocks.'),
      retries: metrics.counter('store_logs_upload_retries_total', 'Logs block uploads retried.'),
      walFull: metrics.counter(
        'store_logs_wal_full_refusals_total',
        'Logs requests refused because the logs WAL was at logs.wal_max_bytes.',
      ),
      walCorrupt: metrics.counter(
        'store_logs_wal_corrupt_records_total',
        'Logs WAL records that failed their checksum or decoding on replay.',
      ),
      quarantined: metrics.counter(
        'store_logs_quarantined_segments_total',
        'Logs WAL segments set aside because their block could not be encoded.',
      ),
    };
    metrics.gauge('store_logs_wal_bytes', 'Bytes held by the logs write-ahead log.', [], function () {
      this.set(self.wal ? self.wal.bytes : 0);
    });
  }

  /** Opens (and replays) the logs WAL; replayed segments are queued for upload at once. */
  async start(): Promise<{ replayedLogs: number }> {
    const { wal, replayed } = await WriteAheadLog.open<LogsWalItem>({
      dir: this.options.walDir,
      maxBytes: this.options.walMaxBytes,
      logger: this.options.logger,
      now: this.now,
      decode: (payload) => {
        const records = countLogRecords(decodeValidLogs(payload));
        return { item: { payload, records }, spans: records };
      },
      onCorrupt: () => this.m.walCorrupt.inc(),
    });
    this.wal = wal;
    let replayedLogs = 0;
    for (const seg of replayed) {
      for (const item of seg.items) this.heldBytes += item.payload.byteLength;
      replayedLogs += seg.spans;
      this.queue.push(seg);
    }
    this.pump();
    const tickMs = this.options.tickMs ?? Math.min(1000, Math.max(10, this.options.maxBlockAgeMs / 4));
    if (tickMs > 0) {
      this.timer = setInterval(() => this.checkAge(), tickMs);
      this.timer.unref();
    }
    return { replayedLogs };
  }

  /**
   * Takes one `ExportLogsServiceRequest`. A request that does not scan is refused whole (the scanner's coded error:
   * it checks every field the decoder does, so what the WAL takes always decodes); records validation refuses are
   * dropped and counted; a request with nothing left is refused with SENTINEL_ERR_OTLP_INVALID naming what was
   * expected. Nothing is decoded into objects here. Resolves once the bytes are durable in the logs WAL.
   */
  async consumeLogs(batch: SignalBatch): Promise<void> {
    if (this.draining) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the store is shutting down');
    let scanned: ReturnType<typeof scanLogTimes>;
    try {
      // The receivers scanned already; a direct caller may not have, and a record that does not decode would stop
      // the WAL's replay at it.
      scanSignalRequest('logs', batch.encoded);
      scanned = scanLogTimes(batch.encoded);
    } catch (err) {
      this.m.rejected.inc({
        reason: isSentinelError(err, 'SENTINEL_ERR_OTLP_INVALID') ? 'invalid' : 'decode',
      });
      throw err;
    }
    const { records, rejection } = scanned;
    for (const [reason, n] of rejection.counts) this.m.rejected.inc({ reason }, n);
    if (records === 0) {
      if (rejection.rejected === 0) return;
      throw new SentinelError('SENTINEL_ERR_OTLP_INVALID', rejection.errorMessage);
    }
    if (rejection.rejected > 0)
      this.options.logger.warn(
        { code: 'SENTINEL_ERR_OTLP_INVALID', rejected: rejection.rejected, kept: records },
        rejection.errorMessage,
      );
    // A copy, so the WAL item does not pin a larger receive buffer.
    const payload = Uint8Array.prototype.slice.call(batch.encoded);
    try {
      await this.wal.append(payload, { payload, records }, records);
    } catch (err) {
      if (isSentinelError(err, 'SENTINEL_ERR_WAL_FULL')) {
        this.m.walFull.inc();
        void this.cut();
      }
      throw err;
    }
    this.heldBytes += payload.byteLength;
    this.m.accepted.inc(records);
    const head = this.wal.head;
    if (head.spans >= this.options.maxBlockRecords || head.bytes >= this.options.maxBlockBytes)
      void this.cut();
  }

  /** Cuts a block when the current segment is older than max_age (the timer calls this). */
  checkAge(): void {
    const head = this.wal?.head;
    if (head?.firstAppendMs !== undefined && this.now() - head.firstAppendMs >= this.options.maxBlockAgeMs)
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
        this.options.logger.error({ err }, 'sealing a logs WAL segment failed');
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
        let ok: boolean;
        try {
          ok = await this.upload(this.queue[0]!);
        } catch (err) {
          if (this.stopRetrying) break;
          // Not a storage error (those are retried inside): log, wait, and try the segment again.
          this.options.logger.error({ err }, 'building a logs block failed');
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

  private pause(ms: number): Promise<void> {
    return Promise.race([this.sleep(ms), this.stopped]);
  }

  /** Encodes one segment's block (quarantining it when that fails), uploads it with backoff, deletes the segment. */
  private async upload(seg: WalSegment<LogsWalItem>): Promise<boolean> {
    const blockId = `${seg.createdMs.toString(36).padStart(9, '0')}-${this.wal.id}${seg.seq.toString(36)}`;
    let bytes = 0;
    for (const item of seg.items) bytes += item.payload.byteLength;
    let block;
    let records: number;
    try {
      const payloads = seg.items.map((item) => item.payload);
      const options = {
        blockId,
        nowMs: this.now(),
        ...(this.options.rowGroupSize !== undefined ? { rowGroupSize: this.options.rowGroupSize } : {}),
      };
      ({ records, block } = this.options.encode
        ? this.options.encode(payloads, options)
        : this.options.encoder
          ? await this.options.encoder.encode(payloads, options)
          : encodeLogsPayloads(payloads, options));
    } catch (err) {
      if (this.stopRetrying || isSentinelError(err, 'SENTINEL_ERR_SHUTTING_DOWN')) throw err;
      // Decoding and encoding are pure functions of the segment: a retry fails the same way.
      const error = (err as Error).message ?? String(err);
      const path = await this.wal.quarantine(seg, { blockId, records: seg.items.length, error });
      this.heldBytes -= bytes;
      this.m.quarantined.inc();
      this.options.logger.error(
        { code: 'SENTINEL_ERR_WAL_QUARANTINED', segment: path, block: blockId, err: error },
        'a logs WAL segment cannot be encoded as a block; it is quarantined and the pipeline goes on',
      );
      return true;
    }
    let delay = this.options.retryInitialMs;
    while (block) {
      try {
        await uploadLogsBlock(this.options.store, block);
        break;
      } catch (err) {
        if (this.stopRetrying) return false;
        this.m.retries.inc();
        this.options.logger.warn(
          { err: (err as Error).message, block: block.meta.parquetKey, retryInMs: delay },
          'logs block upload failed; the logs WAL keeps the records and the upload is retried',
        );
        await this.pause(delay);
        if (this.stopRetrying) return false;
        delay = Math.min(this.options.retryMaxMs, delay * 2);
      }
    }
    await this.wal.remove(seg);
    this.heldBytes -= bytes;
    if (block) {
      this.m.blocks.inc();
      this.m.written.inc(records);
      this.options.onBlock?.(block.meta);
    }
    return true;
  }

  /** Bytes the logs path holds in memory (the requests' protobuf bytes until their block is uploaded). */
  bufferedBytes(): number {
    return Math.max(0, this.heldBytes);
  }

  /**
   * The log records not yet in an uploaded block that `keep` keeps, decoded one request at a time (so a query holds
   * one request's objects beside its matches, not the whole segment's).
   */
  pendingLogs(keep: (row: StoredLog) => boolean = () => true): StoredLog[] {
    const out: StoredLog[] = [];
    const segs = [...this.queue, ...(this.wal ? [this.wal.head] : [])];
    for (const seg of segs)
      for (const item of seg.items)
        for (const row of flattenLogsData(decodeValidLogs(item.payload))) if (keep(row)) out.push(row);
    return out;
  }

  /** Log records not yet in an uploaded block. */
  pendingCount(): number {
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

  /** Refuses new requests, cuts and uploads what is held; what is not uploaded stays in the WAL. */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    if (this.timer) clearInterval(this.timer);
    if (!this.wal) return;
    await this.forceFlush();
    await this.wal.close();
  }

  /** Stops retrying at once (the WAL keeps what is not uploaded). */
  async abort(): Promise<void> {
    this.draining = true;
    this.stopRetrying = true;
    this.signalStopped();
    if (this.timer) clearInterval(this.timer);
    await this.uploading;
    await this.wal?.close();
  }
}

/**
 * The store's consumer for the receivers: spans go to `traces` (the block pipeline, or the service graph's tap in
 * front of it), logs to the logs pipeline; the memory budget counts what both hold.
 */
export function withLogs(traces: TraceConsumer, logs: LogsPipeline): TraceConsumer {
  return {
    consume: (batch) => traces.consume(batch),
    consumeLogs: (batch) => logs.consumeLogs(batch),
    bufferedBytes: () => traces.bufferedBytes() + logs.bufferedBytes(),
    forceFlush: async () => {
      await Promise.all([traces.forceFlush(), logs.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([traces.shutdown(), logs.shutdown()]);
    },
  };
}
