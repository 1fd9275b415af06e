import {
  listBlockMetas,
  metaKeyFor,
  visibleBlocks,
  type BlockMeta,
  type ObjectInfo,
  type ObjectStore,
} from '../storage/index.js';
import { systemClock, type Clock } from '../clock.js';
import type { Logger, Metrics } from '../telemetry/index.js';

export interface BlockCatalogOptions {
  readonly store: ObjectStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A listing older than this is refreshed before the next query. */
  readonly refreshIntervalMs: number;
  readonly clock?: Clock;
}

/**
 * The blocks in storage, as their metas say: listed from `blocks/`, each meta fetched once and cached.
 * Objects that are not Sentinel blocks (foreign files, bad metas) are skipped with one log line each.
 * Blocks that a compacted block `replaces` are hidden while both exist.
 */
export class BlockCatalog {
  private readonly options: BlockCatalogOptions;
  private readonly clock: Clock;
  private readonly metas = new Map<string, BlockMeta>();
  /** Keys (with size) already reported as not being blocks, so each is logged once. */
  private readonly skipped = new Set<string>();
  private listedAt = -Infinity;
  private refreshing: Promise<void> | undefined;
  private readonly skippedCounter;

  constructor(options: BlockCatalogOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.skippedCounter = options.metrics.counter(
      'store_skipped_objects_total',
      'Objects under the storage prefix skipped as not readable Sentinel blocks, by reason.',
      ['reason'],
    );
  }

  /** Adds a block this process just wrote, so it is readable before the next listing. */
  add(meta: BlockMeta): void {
    this.metas.set(metaKeyFor(meta.parquetKey), meta);
  }

  /** Forgets a block (deleted by compaction or retention). */
  remove(meta: BlockMeta): void {
    this.metas.delete(metaKeyFor(meta.parquetKey));
  }

  /** Reports a block whose Parquet object turned out unreadable; it is left out until it changes. */
  markBroken(meta: BlockMeta, reason: string): void {
    const key = metaKeyFor(meta.parquetKey);
    this.metas.delete(key);
    this.skipped.add(`${key}@${meta.parquetBytes}`);
    this.skippedCounter.inc({ reason: 'unreadable_parquet' });
    this.options.logger.warn(
      { key: meta.parquetKey, reason },
      'skipping a block whose Parquet object is unreadable',
    );
  }

  /** Every visible block, refreshed from storage when the listing is older than the refresh interval. */
  async blocks(options: { fresh?: boolean } = {}): Promise<BlockMeta[]> {
    if (options.fresh || this.clock.now() - this.listedAt >= this.options.refreshIntervalMs)
      await this.refresh();
    return visibleBlocks(this.metas.values());
  }

  /** Every block whose meta is in storage, including those a compacted block replaces (for cleanup). */
  allIncludingReplaced(): BlockMeta[] {
    return [...this.metas.values()];
  }

  /** Re-lists `blocks/`; one refresh at a time. */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const listedAt = this.clock.now();
    const metas = await listBlockMetas(this.options.store, {
      known: this.metas,
      isSkipped: (o) => this.skipped.has(`${o.key}@${o.size}`),
      onSkip: (o, reason, message) => {
        // A meta that could not be fetched is tried again at the next listing.
        if (reason === 'unreadable_meta')
          this.options.logger.warn({ key: o.key, err: message }, 'reading a block meta failed');
        else this.skip(o, reason, `skipping an object under blocks/: ${message}`);
      },
    });
    this.metas.clear();
    for (const [key, meta] of metas) this.metas.set(key, meta);
    this.listedAt = listedAt;
  }

  private skip(o: ObjectInfo, reason: string, message: string): void {
    const id = `${o.key}@${o.size}`;
    if (this.skipped.has(id)) return;
    this.skipped.add(id);
    this.skippedCounter.inc({ reason });
    this.options.logger.warn({ key: o.key, code: 'SENTINEL_ERR_BLOCK_INVALID' }, message);
  }
}
