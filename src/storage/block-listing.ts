/**
 * Which blocks are in storage, and which of them a reader sees (issue 17: one answer for the store's
 * `BlockCatalog` and `sentinel compare --storage`). A block is its meta plus its Parquet object under `blocks/`;
 * a meta without its Parquet object is not a block yet (or any more); blocks that a compacted block `replaces`
 * are hidden while both exist.
 */
import { BLOCKS_PREFIX, metaKeyFor, parseBlockKey, parseBlockMeta, type BlockMeta } from './block-meta.js';
import type { ObjectInfo, ObjectStore } from './object-store.js';

/** Why an object under `blocks/` was left out: the store counts these as `store_skipped_objects_total{reason}`. */
export type BlockSkipReason = 'foreign_object' | 'invalid_meta' | 'unreadable_meta';

export interface ListBlocksOptions {
  /** Metas already read, by meta key: not fetched again (the store's catalog keeps them). */
  readonly known?: ReadonlyMap<string, BlockMeta>;
  /** Objects not to fetch (reported before and unchanged since). */
  readonly isSkipped?: (o: ObjectInfo) => boolean;
  /** An object left out, and why in a few words (`invalid block meta: ...`). */
  readonly onSkip?: (o: ObjectInfo, reason: BlockSkipReason, message: string) => void;
  /** Metas fetched at once (default 16). */
  readonly concurrency?: number;
}

/** Every block in storage by meta key, including those a compacted block replaces (for cleanup). */
export async function listBlockMetas(
  store: ObjectStore,
  options: ListBlocksOptions = {},
): Promise<Map<string, BlockMeta>> {
  const objects = await store.list(BLOCKS_PREFIX);
  const parquetKeys = new Set<string>();
  const metaObjects: ObjectInfo[] = [];
  for (const o of objects) {
    const parsed = parseBlockKey(o.key);
    if (!parsed) options.onSkip?.(o, 'foreign_object', 'not a Sentinel block');
    else if (parsed.kind === 'parquet') parquetKeys.add(o.key);
    else metaObjects.push(o);
  }
  const out = new Map<string, BlockMeta>();
  const toFetch: ObjectInfo[] = [];
  for (const o of metaObjects) {
    const known = options.known?.get(o.key);
    if (known) out.set(o.key, known);
    else if (!options.isSkipped?.(o)) toFetch.push(o);
  }
  const concurrency = options.concurrency ?? 16;
  for (let i = 0; i < toFetch.length; i += concurrency) {
    await Promise.all(
      toFetch.slice(i, i + concurrency).map(async (o) => {
        const meta = await readMeta(store, o, options.onSkip);
        if (meta) out.set(o.key, meta);
      }),
    );
  }
  // A meta without its Parquet object: deleted under us, or a foreign meta.
  for (const [key, meta] of out) if (!parquetKeys.has(meta.parquetKey)) out.delete(key);
  return out;
}

/** The blocks a reader sees: those no other block in `metas` replaces. */
export function visibleBlocks(metas: Iterable<BlockMeta>): BlockMeta[] {
  const all = [...metas];
  const replaced = new Set<string>();
  for (const m of all) for (const id of m.replaces) replaced.add(id);
  return replaced.size === 0 ? all : all.filter((m) => !replaced.has(m.blockId));
}

/** Lists storage once and returns the blocks a reader sees. */
export async function listVisibleBlocks(
  store: ObjectStore,
  options: ListBlocksOptions = {},
): Promise<BlockMeta[]> {
  return visibleBlocks((await listBlockMetas(store, options)).values());
}

async function readMeta(
  store: ObjectStore,
  o: ObjectInfo,
  onSkip: ListBlocksOptions['onSkip'],
): Promise<BlockMeta | undefined> {
  let body: Uint8Array | undefined;
  try {
    body = await store.get(o.key);
  } catch (err) {
    onSkip?.(o, 'unreadable_meta', `the meta cannot be read: ${(err as Error).message}`);
    return undefined;
  }
  if (!body) return undefined;
  try {
    const meta = parseBlockMeta(o.key, body);
    if (metaKeyFor(meta.parquetKey) !== o.key) throw new Error(`names ${meta.parquetKey}, not its own block`);
    return meta;
  } catch (err) {
    onSkip?.(o, 'invalid_meta', `invalid block meta: ${(err as Error).message}`);
    return undefined;
  }
}
