import {
  listLogsBlocks,
  logsBlockMayHoldTrace,
  logServiceName,
  logSeverity,
  logsMetaKeyFor,
  logTimestamp,
  scanLogsBlock,
  type LogsBlockMeta,
  type LogsRow,
  type ObjectStore,
  type StoredLog,
} from '../storage/index.js';
import { systemClock, wallClockNow, type Clock } from '../clock.js';
import type { Logger, Metrics } from '../telemetry/index.js';

/** Where logs not yet in an uploaded block are read (the logs pipeline). */
export interface PendingLogs {
  pendingLogs(keep?: (row: StoredLog) => boolean): StoredLog[];
}

/** A log search as `GET /api/logs` takes it, validated and bounded. */
export interface LogSearch {
  readonly service?: string;
  /** Records at or above this severity (`logSeverity`). */
  readonly minSeverity?: number;
  readonly traceId?: string;
  /** Unix nanoseconds, inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly limit: number;
}

export interface LogsQueryOptions {
  readonly store: ObjectStore;
  readonly pending?: PendingLogs;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A listing older than this is refreshed before the next query. */
  readonly refreshIntervalMs: number;
  readonly clock?: Clock;
}

/**
 * The logs blocks in storage (metas listed from `logs/` and cached) and the queries over them: a trace's logs
 * and the log search. Blocks are pruned on their meta (time, services, severity range, trace-id bloom filter) and
 * read whole; the pending records of the logs WAL are searched too. Retention deletes whole blocks.
 */
export class LogsQuery {
  private readonly options: LogsQueryOptions;
  private readonly clock: Clock;
  private readonly metas = new Map<string, LogsBlockMeta>();
  private listedAt = -Infinity;
  private refreshing: Promise<void> | undefined;
  private readonly skipped = new Set<string>();
  private readonly m;

  constructor(options: LogsQueryOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.m = {
      read: options.metrics.counter('store_logs_blocks_read_total', 'Logs blocks read by queries.'),
      expired: options.metrics.counter(
        'store_logs_retention_deleted_blocks_total',
        'Logs blocks deleted by retention.',
      ),
    };
  }

  /** Adds a block this process just wrote, readable before the next listing. */
  add(meta: LogsBlockMeta): void {
    this.metas.set(logsMetaKeyFor(meta.parquetKey), meta);
  }

  /** The logs blocks, refreshed from storage when the listing is older than the refresh interval. */
  async blocks(options: { fresh?: boolean } = {}): Promise<LogsBlockMeta[]> {
    if (options.fresh || this.clock.now() - this.listedAt >= this.options.refreshIntervalMs) {
      this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
      await this.refreshing;
    }
    return [...this.metas.values()];
  }

  private async refresh(): Promise<void> {
    const listedAt = this.clock.now();
    const found = await listLogsBlocks(this.options.store, this.metas, (key, message) => {
      if (this.skipped.has(key)) return;
      this.skipped.add(key);
      this.options.logger.warn(
        { key, code: 'SENTINEL_ERR_BLOCK_INVALID' },
        `skipping an object under logs/: ${message}`,
      );
    });
    this.metas.clear();
    for (const [k, v] of found) this.metas.set(k, v);
    this.listedAt = listedAt;
  }

  /** Every log record of `traceId` (in blocks and pending), oldest first; `startNs`/`endNs` prune blocks. */
  async traceLogs(traceId: string, range: { startNs?: bigint; endNs?: bigint } = {}): Promise<StoredLog[]> {
    const blocks = (await this.blocks()).filter(
      (m) =>
        (range.startNs === undefined || BigInt(m.maxTimeUnixNano) >= range.startNs) &&
        (range.endNs === undefined || BigInt(m.minTimeUnixNano) <= range.endNs) &&
        logsBlockMayHoldTrace(m, traceId),
    );
    const out: StoredLog[] = [];
    for (const meta of blocks) {
      this.m.read.inc();
      out.push(...(await scanLogsBlock(this.options.store, meta, (row) => row.TraceId === traceId)));
    }
    out.push(...(this.options.pending?.pendingLogs((row) => row.record.traceId === traceId) ?? []));
    return out.sort(byTime);
  }

  /**
   * The newest `limit` records that match, newest first. Blocks are read newest first and the reading stops once
   * `limit` records are found that are all newer than every block left.
   */
  async search(q: LogSearch): Promise<StoredLog[]> {
    const matches = (row: StoredLog) => {
      const t = logTimestamp(row.record);
      return (
        t >= q.startNs &&
        t <= q.endNs &&
        (q.service === undefined || logServiceName(row) === q.service) &&
        (q.minSeverity === undefined || logSeverity(row.record) >= q.minSeverity) &&
        (q.traceId === undefined || row.record.traceId === q.traceId)
      );
    };
    const blocks = (await this.blocks())
      .filter(
        (m) =>
          BigInt(m.maxTimeUnixNano) >= q.startNs &&
          BigInt(m.minTimeUnixNano) <= q.endNs &&
          (q.service === undefined || m.services.includes(q.service)) &&
          (q.minSeverity === undefined || m.maxSeverityNumber >= q.minSeverity) &&
          (q.traceId === undefined || logsBlockMayHoldTrace(m, q.traceId)),
      )
      .sort((a, b) => (BigInt(b.maxTimeUnixNano) > BigInt(a.maxTimeUnixNano) ? 1 : -1));
    let found = this.options.pending?.pendingLogs(matches) ?? [];
    const rowFilter = (row: LogsRow) =>
      (q.traceId === undefined || row.TraceId === q.traceId) &&
      (q.service === undefined || row.ServiceName === q.service);
    for (const meta of blocks) {
      if (found.length >= q.limit) {
        found.sort((a, b) => byTime(b, a));
        found.length = q.limit;
        // Every record left in later blocks is at most their max time: older than all found so far.
        if (BigInt(meta.maxTimeUnixNano) < logTimestamp(found[found.length - 1]!.record)) break;
      }
      this.m.read.inc();
      for (const row of await scanLogsBlock(this.options.store, meta, rowFilter))
        if (matches(row)) found.push(row);
    }
    found.sort((a, b) => byTime(b, a));
    if (found.length > q.limit) found = found.slice(0, q.limit);
    return found;
  }

  /** Deletes logs blocks whose newest record is older than `retentionMs` (meta first). Returns how many. */
  async applyRetention(retentionMs: number): Promise<number> {
    // Wall-clock on purpose: the cut-off is compared with the records' timestamps.
    const cutoffNs = BigInt(wallClockNow(this.clock) - retentionMs) * 1_000_000n;
    let deleted = 0;
    for (const meta of await this.blocks({ fresh: true })) {
      if (BigInt(meta.maxTimeUnixNano) >= cutoffNs) continue;
      const metaKey = logsMetaKeyFor(meta.parquetKey);
      await this.options.store.delete(metaKey);
      await this.options.store.delete(meta.parquetKey);
      this.metas.delete(metaKey);
      this.m.expired.inc();
      deleted++;
    }
    if (deleted > 0) this.options.logger.info({ deleted }, 'logs retention deleted blocks');
    return deleted;
  }
}

function byTime(a: StoredLog, b: StoredLog): number {
  const x = logTimestamp(a.record);
  const y = logTimestamp(b.record);
  return x < y ? -1 : x > y ? 1 : 0;
}
