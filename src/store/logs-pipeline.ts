import { SentinelError, isSentinelError } from '../errors.js';
import {
  countLogRecords,
  decodeLogsRequest,
  keepValidLogs,
  scanLogTimes,
  scanSignalRequest,
  type LogsData,
  type SignalBatch,
  type SignalPartial,
  type TraceConsumer,
} from '../otlp/index.js';
import {
  encodeLogsPayloads,
  flattenLogsData,
  uploadLogsBlock,
  type EncodedLogsBlock,
  type LogsEncoder,
  type LogsBlockMeta,
  type StoredLog,
} from '../storage/index.js';
import type { Metrics } from '../telemetry/index.js';
import { SegmentPipeline, type SegmentBlock, type SegmentPipelineOptions } from './segment-pipeline.js';
import type { WalSegment } from './write-ahead-log.js';

/**
 * What one logs WAL record holds in memory: the request's protobuf bytes as sent (decoded again, and validated
 * again by the same pure rule, when a block is cut or a query reads pending logs) and its valid record count.
 */
export interface LogsWalItem {
  readonly payload: Uint8Array;
  readonly records: number;
}

export interface LogsPipelineOptions extends SegmentPipelineOptions {
  /** The logs WAL's own directory (`<wal_dir>/logs`). */
  readonly walDir: string;
  readonly maxBlockRecords: number;
  /** Told about every logs block uploaded (the query side adds it to its catalog at once). */
  readonly onBlock?: (meta: LogsBlockMeta) => void;
  /** Encodes blocks off the main thread; without it, in-process. */
  readonly encoder?: LogsEncoder;
  /** Replaces the encoding of a segment (tests make it fail to see a segment quarantined). */
  readonly encode?: typeof encodeLogsPayloads;
}

/** Decodes a logs WAL payload and drops what validation refuses (the same rule as at the door). */
export function decodeValidLogs(payload: Uint8Array): LogsData {
  const data = decodeLogsRequest(payload);
  keepValidLogs(data);
  return data;
}

/** The logs' counters, in the order they have always been registered (the metrics page lists them so). */
function logsMetrics(metrics: Metrics) {
  return {
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
}

/**
 * The store's logs path (issue 16): `consumeLogs` decodes and validates a request, appends its bytes to the logs
 * WAL (durable before it resolves) and cuts a logs block when the segment reaches `logs.max_block_bytes`,
 * `block.max_spans` records or `block.max_age`. As for spans (the segment life is `SegmentPipeline`'s), one WAL
 * segment becomes exactly one block whose id comes from the segment, blocks upload one at a time with backoff, a
 * segment is deleted only once its block and meta are stored, and a segment that cannot be encoded is quarantined.
 * Memory holds the requests' bytes only.
 */
export class LogsPipeline extends SegmentPipeline<LogsWalItem, EncodedLogsBlock> {
  private readonly options: LogsPipelineOptions;
  private readonly m;

  constructor(options: LogsPipelineOptions) {
    const m = logsMetrics(options.metrics);
    super(options, { wal: 'logs WAL', block: 'logs block', items: 'records' }, m);
    this.options = options;
    this.m = m;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect with the gauge as `this`
    const self = this;
    options.metrics.gauge('store_logs_wal_bytes', 'Bytes held by the logs write-ahead log.', [], function () {
      this.set(self.wal ? self.wal.bytes : 0);
    });
  }

  /** Opens (and replays) the logs WAL; replayed segments are queued for upload at once. */
  async start(): Promise<{ replayedLogs: number }> {
    return { replayedLogs: await this.open() };
  }

  protected decodeRecord(payload: Uint8Array): { item: LogsWalItem; spans: number } {
    const records = countLogRecords(decodeValidLogs(payload));
    return { item: { payload, records }, spans: records };
  }

  protected itemBytes(item: LogsWalItem): number {
    return item.payload.byteLength;
  }

  /**
   * Takes one `ExportLogsServiceRequest`. A request that does not scan is refused whole (the scanner's coded error:
   * it checks every field the decoder does, so what the WAL takes always decodes); records validation refuses are
   * dropped and counted; a request with nothing left is refused with SENTINEL_ERR_OTLP_INVALID naming what was
   * expected. Nothing is decoded into objects here. Resolves once the bytes are durable in the logs WAL, with the
   * records it dropped, for the receivers' `partial_success` (OTLP specification, "Partial Success").
   */
  async consumeLogs(batch: SignalBatch): Promise<SignalPartial> {
    this.refuseWhenDraining();
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
      if (rejection.rejected === 0) return undefined;
      throw new SentinelError('SENTINEL_ERR_OTLP_INVALID', rejection.errorMessage);
    }
    if (rejection.rejected > 0)
      this.options.logger.warn(
        { code: 'SENTINEL_ERR_OTLP_INVALID', rejected: rejection.rejected, kept: records },
        rejection.errorMessage,
      );
    // A copy, so the WAL item does not pin a larger receive buffer.
    const payload = Uint8Array.prototype.slice.call(batch.encoded);
    const head = await this.append(payload, { payload, records }, records);
    this.m.accepted.inc(records);
    if (head.spans >= this.options.maxBlockRecords || head.bytes >= this.options.maxBlockBytes)
      void this.cut();
    return rejection.rejected > 0
      ? { rejectedSpans: rejection.rejected, errorMessage: rejection.errorMessage }
      : undefined;
  }

  /** Decodes, validates and encodes one segment's records as a logs block (undefined when none is left). */
  protected async encodeSegment(
    seg: WalSegment<LogsWalItem>,
    blockId: string,
  ): Promise<SegmentBlock<EncodedLogsBlock> | undefined> {
    const payloads = seg.items.map((item) => item.payload);
    const options = {
      blockId,
      nowMs: this.blockTimeMs(),
      ...(this.options.rowGroupSize !== undefined ? { rowGroupSize: this.options.rowGroupSize } : {}),
    };
    const { records, block } = this.options.encode
      ? this.options.encode(payloads, options)
      : this.options.encoder
        ? await this.options.encoder.encode(payloads, options)
        : encodeLogsPayloads(payloads, options);
    return block ? { block, count: records } : undefined;
  }

  protected quarantineRecords(seg: WalSegment<LogsWalItem>): number {
    return seg.items.length;
  }

  protected quarantined(
    _seg: WalSegment<LogsWalItem>,
    note: { path: string; blockId: string; error: string },
  ): void {
    this.options.logger.error(
      { code: 'SENTINEL_ERR_WAL_QUARANTINED', segment: note.path, block: note.blockId, err: note.error },
      'a logs WAL segment cannot be encoded as a block; it is quarantined and the pipeline goes on',
    );
  }

  protected async putBlock(block: EncodedLogsBlock): Promise<void> {
    await uploadLogsBlock(this.options.store, block);
  }

  protected uploaded(block: EncodedLogsBlock, records: number): void {
    this.m.written.inc(records);
    this.options.onBlock?.(block.meta);
  }

  /**
   * The log records not yet in an uploaded block that `keep` keeps, decoded one request at a time (so a query holds
   * one request's objects beside its matches, not the whole segment's).
   */
  pendingLogs(keep: (row: StoredLog) => boolean = () => true): StoredLog[] {
    const out: StoredLog[] = [];
    for (const seg of this.pendingSegments())
      for (const item of seg.items)
        for (const row of flattenLogsData(decodeValidLogs(item.payload))) if (keep(row)) out.push(row);
    return out;
  }

  /** Log records not yet in an uploaded block. */
  pendingCount(): number {
    return this.pendingTotal();
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
