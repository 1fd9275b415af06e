import {
  BLOCKS_PREFIX,
  mergeBlocks,
  newBlockId,
  parseBlockKey,
  metaKeyFor,
  partitionPrefix,
  uploadBlock,
  type BlockEncoder,
  type BlockMeta,
  type ObjectStore,
} from '../storage/index.js';
import { systemClock, wallClockNow, type Clock } from '../clock.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { BlockCatalog } from './block-catalog.js';

export interface CompactorOptions {
  readonly store: ObjectStore;
  readonly catalog: BlockCatalog;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly compaction: boolean;
  /**
   * false: another replica compacts and applies retention (`compaction.leader`), so every pass here is a no-op;
   * replicas sharing storage have no coordination between compactors. Default true.
   */
  readonly active?: boolean;
  /** Blocks below this many spans are merged; a merged block stays at or under it. */
  readonly maxBlockSpans: number;
  /** Blocks younger than this (by creation) are left alone. */
  readonly minAgeMs: number;
  readonly retentionMs: number;
  readonly rowGroupSize?: number;
  readonly clock?: Clock;
  /** Merges blocks off the main thread; without it, merging runs in-process. */
  readonly encoder?: BlockEncoder;
}

/** A Parquet object without its meta for this long is an upload that never finished. */
export const ORPHAN_AGE_MS = 3_600_000;

/**
 * Compaction and retention. Small blocks of the same hour are merged into one, atomically for readers: the
 * merged block's meta (which lists the blocks it `replaces`) is written first, then the old metas, then the
 * old Parquet objects are deleted. A crash in between leaves both, which readers de-duplicate and the next
 * run cleans up. Blocks whose newest span is older than `retention` are deleted, meta first.
 */
export class Compactor {
  private readonly options: CompactorOptions;
  private readonly clock: Clock;
  private running: Promise<CompactionReport> | undefined;
  private readonly m;

  constructor(options: CompactorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.m = {
      merged: options.metrics.counter('store_compacted_blocks_total', 'Blocks merged away by compaction.'),
      created: options.metrics.counter('store_compaction_outputs_total', 'Blocks written by compaction.'),
      expired: options.metrics.counter(
        'store_retention_deleted_blocks_total',
        'Blocks deleted by retention.',
      ),
    };
  }

  /**
   * Wall-clock on purpose: every time a pass reads is compared with span timestamps (retention), metas'
   * `createdAt` (min age) or objects' `lastModified` (orphans), or written into a merged block.
   */
  private wallNow(): number {
    return wallClockNow(this.clock);
  }

  /** Resolves when no pass is running (a failed pass counts as finished). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** One pass; concurrent calls share the pass in progress. */
  runOnce(): Promise<CompactionReport> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async pass(): Promise<CompactionReport> {
    const report: CompactionReport = { merged: 0, created: 0, expired: 0, cleaned: 0 };
    if (this.options.active === false) return report;
    const { catalog, logger } = this.options;
    await catalog.refresh();
    // Includes replaced blocks: they are what cleanup removes.
    const all = await this.allBlocks();
    const replacedBy = new Map<string, BlockMeta>();
    for (const m of all) for (const id of m.replaces) replacedBy.set(id, m);
    await this.deleteOrphans(all, report);
    const live: BlockMeta[] = [];
    for (const m of all) {
      if (replacedBy.has(m.blockId)) {
        await this.deleteBlock(m);
        report.cleaned++;
      } else live.push(m);
    }

    const cutoffNs = BigInt(this.wallNow() - this.options.retentionMs) * 1_000_000n;
    const kept: BlockMeta[] = [];
    for (const m of live) {
      if (BigInt(m.maxEndUnixNano) < cutoffNs) {
        await this.deleteBlock(m);
        this.m.expired.inc();
        report.expired++;
      } else kept.push(m);
    }
    if (!this.options.compaction) return report;

    const byHour = new Map<string, BlockMeta[]>();
    const youngest = this.wallNow() - this.options.minAgeMs;
    for (const m of kept) {
      if (m.spanCount >= this.options.maxBlockSpans) continue;
      if (Date.parse(m.createdAt) > youngest) continue;
      const hour = partitionPrefix(BigInt(m.minStartUnixNano));
      const list = byHour.get(hour) ?? [];
      list.push(m);
      byHour.set(hour, list);
    }
    for (const blocks of byHour.values()) {
      blocks.sort((a, b) => (BigInt(a.minStartUnixNano) < BigInt(b.minStartUnixNano) ? -1 : 1));
      let group: BlockMeta[] = [];
      let spans = 0;
      const flush = async () => {
        if (group.length >= 2) {
          try {
            await this.merge(group);
            report.merged += group.length;
            report.created++;
          } catch (err) {
            logger.warn(
              { err: (err as Error).message, blocks: group.length },
              'merging blocks failed; will retry',
            );
          }
        }
        group = [];
        spans = 0;
      };
      for (const m of blocks) {
        if (spans + m.spanCount > this.options.maxBlockSpans) await flush();
        group.push(m);
        spans += m.spanCount;
      }
      await flush();
    }
    if (report.merged || report.expired || report.cleaned) logger.info(report, 'compaction pass');
    return report;
  }

  private async allBlocks(): Promise<BlockMeta[]> {
    // The catalog hides replaced blocks; compaction needs them to clean them up.
    return this.options.catalog.allIncludingReplaced();
  }

  private async merge(group: BlockMeta[]): Promise<void> {
    const replaces = group.map((m) => m.blockId);
    const compactionLevel = Math.max(...group.map((m) => m.compactionLevel)) + 1;
    const bodies: Uint8Array[] = [];
    for (const m of group) {
      const body = await this.options.store.get(m.parquetKey);
      if (!body) throw new Error(`${m.parquetKey} is gone`);
      bodies.push(body);
    }
    // A k-way merge of the blocks, a row group at a time (block-merge.ts), on the encoder's thread when there is one.
    const block = this.options.encoder
      ? await this.options.encoder.merge({
          blocks: bodies,
          blockId: newBlockId(this.wallNow()),
          nowMs: this.wallNow(),
          replaces,
          compactionLevel,
        })
      : await mergeBlocks(bodies, {
          replaces,
          compactionLevel,
          nowMs: this.wallNow(),
          ...(this.options.rowGroupSize !== undefined ? { rowGroupSize: this.options.rowGroupSize } : {}),
        });
    const meta = await uploadBlock(this.options.store, block);
    this.options.catalog.add(meta);
    for (const m of group) await this.deleteBlock(m);
    this.m.merged.inc(group.length);
    this.m.created.inc();
  }

  /**
   * Parquet objects without a meta, older than ORPHAN_AGE_MS: uploads cut short before their meta (a crash in
   * the middle of compaction; a WAL replay rewrites its own keys). Young ones may be an upload in progress.
   */
  private async deleteOrphans(metas: BlockMeta[], report: CompactionReport): Promise<void> {
    const known = new Set(metas.map((m) => m.parquetKey));
    const cutoff = this.wallNow() - ORPHAN_AGE_MS;
    for (const o of await this.options.store.list(BLOCKS_PREFIX)) {
      if (parseBlockKey(o.key)?.kind !== 'parquet' || known.has(o.key)) continue;
      if (o.lastModified.getTime() > cutoff) continue;
      if (await this.options.store.head(metaKeyFor(o.key))) continue; // a meta that appeared since the listing
      await this.options.store.delete(o.key);
      report.cleaned++;
      this.options.logger.info({ key: o.key }, 'deleted a Parquet object that has no meta');
    }
  }

  /** Meta first, so no reader finds a meta whose Parquet object is gone. */
  private async deleteBlock(m: BlockMeta): Promise<void> {
    await this.options.store.delete(metaKeyFor(m.parquetKey));
    await this.options.store.delete(m.parquetKey);
    this.options.catalog.remove(m);
  }
}

export interface CompactionReport {
  merged: number;
  created: number;
  expired: number;
  cleaned: number;
}
