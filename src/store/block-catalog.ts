import {
  BLOCKS_PREFIX,
  metaKeyFor,
  parseBlockKey,
  parseBlockMeta,
  type BlockMeta,
  type ObjectInfo,
  type ObjectStore,
} from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';

export interface BlockCatalogOptions {
  readonly store: ObjectStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A listing older than this is refreshed before the next query. */
  readonly refreshIntervalMs: number;
  readonly now?: () => number;
}

/**
 * The blocks in storage, as their metas say: listed from `blocks/`, each meta fetched once and cached.
 * Objects that are not Sentinel blocks (foreign files, bad metas) are skipped with one log line each.
 * Blocks that a compacted block `replaces` are hidden while both exist.
 */
export class BlockCatalog {
  private readonly options: BlockCatalogOptions;
  private readonly now: () => number;
  private readonly metas = new Map<string, BlockMeta>();
  /** Keys (with size) already reported as not being blocks, so each is logged once. */
  private readonly skipped = new Set<string>();
  private listedAt = -Infinity;
  private refreshing: Promise<void> | undefined;
  private readonly skippedCounter;

  constructor(options: BlockCatalogOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
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
    if (options.fresh || this.now() - this.listedAt >= this.options.refreshIntervalMs) await this.refresh();
    const all = [...this.metas.values()];
    const replaced = new Set<string>();
    for (const m of all) for (const id of m.replaces) replaced.add(id);
    return replaced.size === 0 ? all : all.filter((m) => !replaced.has(m.blockId));
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
    const listedAt = this.now();
    const objects = await this.options.store.list(BLOCKS_PREFIX);
    const present = new Set<string>();
    const parquetKeys = new Map<string, ObjectInfo>();
    const toFetch: ObjectInfo[] = [];
    for (const o of objects) {
      const parsed = parseBlockKey(o.key);
      if (!parsed) {
        this.skip(o, 'foreign_object', 'skipping an object under blocks/ that is not a Sentinel block');
        continue;
      }
      if (parsed.kind === 'parquet') {
        parquetKeys.set(o.key, o);
        continue;
      }
      present.add(o.key);
      if (!this.metas.has(o.key) && !this.skipped.has(`${o.key}@${o.size}`)) toFetch.push(o);
    }
    // Fetch new metas a few at a time.
    const concurrency = 16;
    for (let i = 0; i < toFetch.length; i += concurrency) {
      await Promise.all(toFetch.slice(i, i + concurrency).map((o) => this.load(o)));
    }
    for (const key of [...this.metas.keys()]) if (!present.has(key)) this.metas.delete(key);
    for (const [key, meta] of this.metas) {
      if (!parquetKeys.has(meta.parquetKey)) {
        // A meta without its Parquet object: deleted under us, or a foreign meta.
        this.metas.delete(key);
      }
    }
    this.listedAt = listedAt;
  }

  private async load(o: ObjectInfo): Promise<void> {
    let body: Uint8Array | undefined;
    try {
      body = await this.options.store.get(o.key);
    } catch (err) {
      this.options.logger.warn({ key: o.key, err: (err as Error).message }, 'reading a block meta failed');
      return;
    }
    if (!body) return;
    try {
      const meta = parseBlockMeta(o.key, body);
      if (metaKeyFor(meta.parquetKey) !== o.key)
        throw new Error(`names ${meta.parquetKey}, not its own block`);
      this.metas.set(o.key, meta);
    } catch (err) {
      this.skip(o, 'invalid_meta', `skipping an invalid block meta: ${(err as Error).message}`);
    }
  }

  private skip(o: ObjectInfo, reason: string, message: string): void {
    const id = `${o.key}@${o.size}`;
    if (this.skipped.has(id)) return;
    this.skipped.add(id);
    this.skippedCounter.inc({ reason });
    this.options.logger.warn({ key: o.key, code: 'SENTINEL_ERR_BLOCK_INVALID' }, message);
  }
}
