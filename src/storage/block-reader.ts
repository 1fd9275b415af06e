import { parquetMetadataAsync, parquetRead, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { SentinelError } from '../errors.js';
import { BloomFilter } from './bloom-filter.js';
import { BLOCK_COLUMNS, RowDecoder, type BlockRow } from './block-columns.js';
import type { BlockMeta } from './block-meta.js';
import type { ObjectStore } from './object-store.js';
import { blockDecompressors } from './parquet-codec.js';
import type { StoredSpan } from './stored-span.js';

const utf8 = new TextDecoder();

/** Blocks up to this size are read with one GET: below it a second round trip costs more than the bytes. */
export const SMALL_BLOCK_BYTES = 256 * 1024;

/** True when the block's trace-id index says it may hold `traceId` (min/max range, then the bloom filter). */
export function blockMayHoldTrace(meta: BlockMeta, traceId: string): boolean {
  if (traceId < meta.minTraceId || traceId > meta.maxTraceId) return false;
  return bloomOf(meta).mayContain(traceId);
}

const blooms = new WeakMap<BlockMeta, BloomFilter>();
function bloomOf(meta: BlockMeta): BloomFilter {
  let b = blooms.get(meta);
  if (!b) {
    b = BloomFilter.fromJSON(meta.traceIdBloom);
    blooms.set(meta, b);
  }
  return b;
}

/**
 * An AsyncBuffer over an object that serves slices from byte ranges fetched up front, so a read of a
 * row group costs one GET for the footer and one for the row group, whatever the column count.
 */
class PrefetchedObject implements AsyncBuffer {
  readonly byteLength: number;
  private readonly regions: { start: number; bytes: Uint8Array }[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    byteLength: number,
  ) {
    this.byteLength = byteLength;
  }

  async prefetch(start: number, end: number): Promise<void> {
    if (this.find(start, end)) return;
    const bytes = await this.store.getRange(this.key, start, end);
    if (bytes.byteLength !== end - start) {
      throw new SentinelError(
        'SENTINEL_ERR_BLOCK_INVALID',
        `${this.key}: expected ${end - start} bytes at ${start}, got ${bytes.byteLength}`,
      );
    }
    this.regions.push({ start, bytes });
  }

  private find(start: number, end: number): Uint8Array | undefined {
    for (const r of this.regions) {
      if (start >= r.start && end <= r.start + r.bytes.byteLength) {
        return r.bytes.subarray(start - r.start, end - r.start);
      }
    }
    return undefined;
  }

  async slice(start: number, end: number = this.byteLength): Promise<ArrayBuffer> {
    let hit = this.find(start, end);
    if (!hit) {
      await this.prefetch(start, end);
      hit = this.find(start, end)!;
    }
    return hit.slice().buffer as ArrayBuffer;
  }
}

/** An AsyncBuffer over bytes already in memory. */
function memoryBuffer(bytes: Uint8Array): AsyncBuffer {
  return {
    byteLength: bytes.byteLength,
    slice: (start: number, end?: number) => bytes.slice(start, end).buffer as ArrayBuffer,
  };
}

async function readRows(
  file: AsyncBuffer,
  key: string,
  options: { metadata?: FileMetaData; rowStart?: number; rowEnd?: number; columns?: string[] },
): Promise<BlockRow[]> {
  try {
    const metadata = options.metadata ?? (await parquetMetadataAsync(file));
    const missing = BLOCK_COLUMNS.filter((c) => !metadata.schema.some((s) => s.name === c));
    if (missing.length > 0) throw new Error(`not a Sentinel block: missing columns ${missing.join(', ')}`);
    let rows: BlockRow[] = [];
    await parquetRead({
      file,
      metadata,
      rowFormat: 'object',
      compressors: blockDecompressors,
      // Nanoseconds stay bigint; JSON cells stay text (our typed-JSON decoder reads them).
      parsers: {
        timestampFromNanoseconds: (n: bigint) => n,
        jsonFromBytes: (b: Uint8Array) => utf8.decode(b),
      },
      ...(options.columns ? { columns: options.columns } : {}),
      ...(options.rowStart !== undefined ? { rowStart: options.rowStart } : {}),
      ...(options.rowEnd !== undefined ? { rowEnd: options.rowEnd } : {}),
      onComplete: (r) => {
        rows = r as BlockRow[];
      },
    });
    return rows;
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${key}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The spans of one trace in a block. Reads nothing when the index rules the block out; otherwise one range
 * GET for the footer and one per row group whose trace-id range may hold the id.
 */
export async function readTraceFromBlock(
  store: ObjectStore,
  meta: BlockMeta,
  traceId: string,
): Promise<StoredSpan[]> {
  if (!blockMayHoldTrace(meta, traceId)) return [];
  const groups = meta.rowGroups.filter((g) => g.minTraceId <= traceId && traceId <= g.maxTraceId);
  if (groups.length === 0) return [];
  const file = new PrefetchedObject(store, meta.parquetKey, meta.parquetBytes);
  const fetches: Promise<void>[] = [];
  if (meta.parquetBytes <= SMALL_BLOCK_BYTES) {
    // A small block costs one round trip read whole, rather than two ranged.
    fetches.push(file.prefetch(0, meta.parquetBytes));
  } else {
    // The footer, and the row groups (adjacent ones as one range).
    const first = groups[0]!;
    const last = groups[groups.length - 1]!;
    const contiguous = groups.every((g, i) => i === 0 || g.byteStart === groups[i - 1]!.byteEnd);
    fetches.push(file.prefetch(meta.footerStart, meta.parquetBytes));
    if (contiguous) fetches.push(file.prefetch(first.byteStart, last.byteEnd));
    else for (const g of groups) fetches.push(file.prefetch(g.byteStart, g.byteEnd));
  }
  try {
    await Promise.all(fetches);
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${meta.parquetKey}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const metadata = await readFooter(file, meta);
  const decoder = new RowDecoder();
  const out: StoredSpan[] = [];
  for (const g of groups) {
    const rows = await readRows(file, meta.parquetKey, { metadata, rowStart: g.rowStart, rowEnd: g.rowEnd });
    for (const row of rows) if (row.TraceId === traceId) out.push(decodeRow(decoder, row, meta.parquetKey));
  }
  return out;
}

async function readFooter(file: AsyncBuffer, meta: BlockMeta): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(file, { initialFetchSize: meta.parquetBytes - meta.footerStart });
  } catch (err) {
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${meta.parquetKey}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function decodeRow(decoder: RowDecoder, row: BlockRow, key: string): StoredSpan {
  try {
    return decoder.decode(row);
  } catch (err) {
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${key}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Every row of a block matching `filter` (one GET of the whole object), decoded. */
export async function scanBlock(
  store: ObjectStore,
  meta: BlockMeta,
  filter: (row: BlockRow) => boolean = () => true,
): Promise<StoredSpan[]> {
  const body = await store.get(meta.parquetKey);
  if (!body)
    throw new SentinelError(
      'SENTINEL_ERR_BLOCK_INVALID',
      `${meta.parquetKey}: the Parquet object is missing`,
    );
  return readBlockBytes(body, meta.parquetKey, filter);
}

/** Decodes the rows of a whole Parquet block held in memory (also used by tests and compaction). */
export async function readBlockBytes(
  body: Uint8Array,
  key: string,
  filter: (row: BlockRow) => boolean = () => true,
): Promise<StoredSpan[]> {
  const rows = await readRows(memoryBuffer(body), key, {});
  const decoder = new RowDecoder();
  const out: StoredSpan[] = [];
  for (const row of rows) if (filter(row)) out.push(decodeRow(decoder, row, key));
  return out;
}

/**
 * The rows of a whole Parquet block held in memory, one row group at a time (compaction's merge input): what is
 * decoded at once is one row group, not the block.
 */
export async function* blockRowGroupsFromBytes(body: Uint8Array, key: string): AsyncGenerator<StoredSpan[]> {
  const file = memoryBuffer(body);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${key}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const decoder = new RowDecoder();
  let rowStart = 0;
  for (const rg of metadata.row_groups) {
    const rowEnd = rowStart + Number(rg.num_rows);
    const rows = await readRows(file, key, { metadata, rowStart, rowEnd });
    yield rows.map((row) => decodeRow(decoder, row, key));
    rowStart = rowEnd;
  }
}

/** A column's min and max in one row group, from the Parquet footer (only the columns that keep them). */
export type RowGroupStatistics = Partial<Record<string, { min: unknown; max: unknown }>>;

/** Statistics truncated to this length (block-writer's statisticsTruncateLength) are not exact bounds. */
const TRUNCATED_STAT_LENGTH = 32;

function rowGroupStatistics(metadata: FileMetaData): RowGroupStatistics[] {
  return metadata.row_groups.map((rg) => {
    const out: RowGroupStatistics = {};
    for (const col of rg.columns) {
      const md = col.meta_data;
      const st = md?.statistics;
      if (!md || !st) continue;
      const min = st.min_value ?? st.min;
      const max = st.max_value ?? st.max;
      if (min === undefined || max === undefined) continue;
      // A truncated string maximum is below the real one: not a bound to skip on.
      if (typeof max === 'string' && max.length >= TRUNCATED_STAT_LENGTH) continue;
      out[md.path_in_schema[0]!] = { min, max };
    }
    return out;
  });
}

/** What a planned block read fetched: the rows of the chosen row groups, decoded, and its cost. */
export interface BlockRowGroupRead {
  readonly spans: StoredSpan[];
  readonly bytesRead: number;
  readonly rowGroupsRead: number;
  readonly rowGroupsTotal: number;
}

/**
 * Reads only the row groups `choose` picks from the Parquet footer (its column statistics), so a search
 * fetches the footer and the row groups that may match, not the whole object. A block up to
 * SMALL_BLOCK_BYTES is fetched with one GET (a second round trip costs more than its bytes).
 */
export async function readBlockRowGroups(
  store: ObjectStore,
  meta: BlockMeta,
  choose: (rowGroups: RowGroupStatistics[]) => number[],
): Promise<BlockRowGroupRead> {
  const file = new PrefetchedObject(store, meta.parquetKey, meta.parquetBytes);
  let bytesRead = 0;
  const fetch = async (start: number, end: number) => {
    try {
      await file.prefetch(start, end);
    } catch (err) {
      if (err instanceof SentinelError) throw err;
      throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${meta.parquetKey}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    bytesRead += end - start;
  };
  const small = meta.parquetBytes <= SMALL_BLOCK_BYTES;
  await fetch(small ? 0 : meta.footerStart, meta.parquetBytes);
  const metadata = await readFooter(file, meta);
  const groups = choose(rowGroupStatistics(metadata)).filter((g) => g >= 0 && g < metadata.row_groups.length);
  if (!small) {
    // Adjacent row groups as one range.
    let i = 0;
    const ranges: Promise<void>[] = [];
    while (i < groups.length) {
      let j = i;
      while (j + 1 < groups.length && groups[j + 1] === groups[j]! + 1) j++;
      const first = meta.rowGroups[groups[i]!];
      const last = meta.rowGroups[groups[j]!];
      if (first && last) ranges.push(fetch(first.byteStart, last.byteEnd));
      i = j + 1;
    }
    await Promise.all(ranges);
  }
  const decoder = new RowDecoder();
  const spans: StoredSpan[] = [];
  let rowStart = 0;
  const starts = metadata.row_groups.map((rg) => {
    const s = rowStart;
    rowStart += Number(rg.num_rows);
    return s;
  });
  // Adjacent row groups are decoded by one read.
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j + 1 < groups.length && groups[j + 1] === groups[j]! + 1) j++;
    const start = starts[groups[i]!]!;
    const end = starts[groups[j]!]! + Number(metadata.row_groups[groups[j]!]!.num_rows);
    for (const row of await readRows(file, meta.parquetKey, { metadata, rowStart: start, rowEnd: end })) {
      spans.push(decodeRow(decoder, row, meta.parquetKey));
    }
    i = j + 1;
  }
  return { spans, bytesRead, rowGroupsRead: groups.length, rowGroupsTotal: metadata.row_groups.length };
}

/**
 * The distinct values of one string column of a block (its dictionary in practice: a column like `SpanName`
 * is dictionary-encoded, so the chunk is the dictionary plus small indexes). Fetches the footer and, lazily,
 * only that column's chunks.
 */
export async function readDistinctColumn(
  store: ObjectStore,
  meta: BlockMeta,
  column: 'SpanName' | 'ServiceName',
): Promise<string[]> {
  const file = new PrefetchedObject(store, meta.parquetKey, meta.parquetBytes);
  try {
    await file.prefetch(meta.footerStart, meta.parquetBytes);
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${meta.parquetKey}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const metadata = await readFooter(file, meta);
  const rows = await readRows(file, meta.parquetKey, { metadata, columns: [column] });
  const out = new Set<string>();
  for (const row of rows) {
    const v = row[column];
    if (typeof v === 'string') out.add(v);
  }
  return [...out];
}
