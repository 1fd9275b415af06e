import { parquetMetadata } from 'hyparquet';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { DEPLOYMENT_VARIANT_ATTRIBUTE, type TraceData } from '../otlp/index.js';
import { BloomFilter } from './bloom-filter.js';
import { blockSchema, compareRows, toColumnData } from './block-columns.js';
import { SearchSummaryBuilder } from './block-summary.js';
import { BLOCK_FORMAT, blockKeys, newBlockId, type BlockMeta, type RowGroupRange } from './block-meta.js';
import type { ObjectStore } from './object-store.js';
import { blockCompressors, DEFAULT_BLOCK_CODEC, type BlockCodec } from './parquet-codec.js';
import { flattenTraceData, type StoredSpan } from './stored-span.js';

/** How blocks are cut into row groups and compressed. */
export interface BlockWriteOptions {
  /** Rows per row group: a trace lookup reads one row group, so it is the unit of an S3 range read. */
  readonly rowGroupSize?: number;
  readonly codec?: BlockCodec;
  readonly blockId?: string;
  readonly compactionLevel?: number;
  /** Blocks this one replaces (compaction). */
  readonly replaces?: readonly string[];
  readonly nowMs?: number;
}

/** 2,000 rows: a lookup decodes one row group; at 10,000 it took 10x longer (217 ms vs 21 ms, 100k-span block). */
export const DEFAULT_ROW_GROUP_SIZE = 2_000;

/** A block encoded in memory, ready to upload: the Parquet bytes and the meta that describes them. */
export interface EncodedBlock {
  readonly parquet: Uint8Array;
  readonly meta: BlockMeta;
  readonly metaKey: string;
}

/**
 * Encodes rows as one block: sorted by trace id then start time, columns per CONTRACT.md "Stored columns",
 * and the meta with time range, counts, services, variants and the trace-id index. Synchronous CPU work.
 * Columns are built one row group at a time (BlockBuilder), so what the encode holds beyond the rows is one row
 * group's cells and the Parquet bytes.
 */
export function encodeBlock(
  input: readonly StoredSpan[],
  options: BlockWriteOptions = {},
  mark?: (phase: string) => void,
): EncodedBlock {
  if (input.length === 0) throw new RangeError('encodeBlock: a block needs at least one span');
  const rows = [...input].sort(compareRows);
  mark?.('sorted');
  const builder = new BlockBuilder(options);
  builder.add(rows);
  mark?.('written');
  return builder.finish();
}

/**
 * A ByteWriter that sets each row group's bytes aside when hyparquet-writer flushes after it, instead of
 * doubling one buffer for the whole file (and copying it at every doubling); `bytes()` joins them once.
 */
class ChunkedByteWriter extends ByteWriter {
  private readonly chunks: Uint8Array[] = [];

  flush(): void {
    this.chunks.push(new Uint8Array(this.buffer.slice(0, this.index)));
    this.index = 0;
  }

  /** The whole file in one ArrayBuffer of its exact size (transferable to another thread as it is). */
  bytes(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.offset);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    this.chunks.length = 0;
    return out;
  }
}

/**
 * Writes one block from rows given in block order (trace id, start time, span id), a batch at a time: each
 * `add` writes whole row groups and keeps at most one partial row group, and the meta (time range, services,
 * variants, trace ids, search summary) is gathered as rows pass. The ingest encoder gives it a sorted segment
 * in slices; compaction gives it the k-way merge of its input blocks, so neither holds every row's cells.
 */
export class BlockBuilder {
  readonly rowGroupSize: number;
  private readonly options: BlockWriteOptions;
  private readonly writer = new ChunkedByteWriter(1 << 20);
  private readonly parquet: ParquetWriter;
  private pending: StoredSpan[] = [];
  private readonly groupTraceIds: [string, string][] = [];
  private spanCount = 0;
  private minStart = 0n;
  private maxEnd = 0n;
  private readonly services = new Set<string>();
  private readonly variants = new Set<string>();
  private readonly traceIds: string[] = [];
  private readonly summary = new SearchSummaryBuilder();
  private readonly seenResources = new Set<object>();

  constructor(options: BlockWriteOptions = {}) {
    this.options = options;
    this.rowGroupSize = Math.max(1, options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE);
    this.parquet = new ParquetWriter({
      writer: this.writer,
      schema: blockSchema(),
      codec: options.codec ?? DEFAULT_BLOCK_CODEC,
      compressors: blockCompressors,
      // Whole trace ids in min/max statistics (32 hex), so engines prune row groups exactly.
      statisticsTruncateLength: 32,
      kvMetadata: [{ key: 'sentinel.format', value: BLOCK_FORMAT }],
      createdBy: 'sentinel',
    });
  }

  /** Rows that follow the ones added before in block order. */
  add(rows: readonly StoredSpan[]): void {
    for (const row of rows) {
      this.note(row);
      this.pending.push(row);
      if (this.pending.length === this.rowGroupSize) this.writeGroup();
    }
  }

  private note(row: StoredSpan): void {
    const { span, resource } = row;
    const end = span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano : span.startTimeUnixNano;
    if (this.spanCount === 0 || span.startTimeUnixNano < this.minStart)
      this.minStart = span.startTimeUnixNano;
    if (this.spanCount === 0 || end > this.maxEnd) this.maxEnd = end;
    this.spanCount++;
    if (this.traceIds[this.traceIds.length - 1] !== span.traceId) this.traceIds.push(span.traceId);
    if (!this.seenResources.has(resource)) {
      this.seenResources.add(resource);
      for (const kv of resource.attributes) {
        if (kv.value.kind !== 'string') continue;
        if (kv.key === 'service.name') this.services.add(kv.value.value);
        else if (kv.key === DEPLOYMENT_VARIANT_ATTRIBUTE) this.variants.add(kv.value.value);
      }
    }
  }

  private writeGroup(): void {
    const rows = this.pending;
    this.pending = [];
    this.summary.add(rows);
    this.groupTraceIds.push([rows[0]!.span.traceId, rows[rows.length - 1]!.span.traceId]);
    const pending = this.parquet.write({ columnData: toColumnData(rows), rowGroupSize: rows.length });
    // Into an in-memory writer the write is synchronous; a promise here would mean the library changed.
    if (pending) throw new Error('hyparquet-writer: expected a synchronous write into ByteWriter');
  }

  finish(): EncodedBlock {
    if (this.pending.length > 0) this.writeGroup();
    if (this.spanCount === 0) throw new RangeError('encodeBlock: a block needs at least one span');
    if (this.parquet.finish()) throw new Error('hyparquet-writer: expected a synchronous finish');
    const parquet = this.writer.bytes();

    // Byte ranges of row groups and the footer, from the file's own metadata.
    const fileMeta = parquetMetadata(parquet.buffer as ArrayBuffer);
    const footerLength = new DataView(parquet.buffer, parquet.byteOffset).getUint32(
      parquet.byteLength - 8,
      true,
    );
    const footerStart = parquet.byteLength - 8 - footerLength;
    const rowGroups: RowGroupRange[] = [];
    let rowStart = 0;
    fileMeta.row_groups.forEach((rg, i) => {
      let byteStart = Infinity;
      let byteEnd = 0;
      for (const col of rg.columns) {
        const md = col.meta_data;
        if (!md) continue;
        const start = Number(md.dictionary_page_offset ?? md.data_page_offset);
        const first = Math.min(start, Number(md.data_page_offset));
        byteStart = Math.min(byteStart, first);
        byteEnd = Math.max(byteEnd, first + Number(md.total_compressed_size));
      }
      const rowEnd = rowStart + Number(rg.num_rows);
      const [minTraceId, maxTraceId] = this.groupTraceIds[i]!;
      rowGroups.push({ rowStart, rowEnd, minTraceId, maxTraceId, byteStart, byteEnd });
      rowStart = rowEnd;
    });

    const traceIds = this.traceIds;
    // 0.1 % false positives: a lookup over 1,000 blocks opens about one block that does not hold the id
    // (at 1 % it opened ten: 23 GETs per lookup in bench/store.ts), for 1.8 bytes per trace in the meta.
    const bloom = BloomFilter.forCount(traceIds.length, 0.001);
    for (const id of traceIds) bloom.add(id);

    const options = this.options;
    const nowMs = options.nowMs ?? Date.now();
    const blockId = options.blockId ?? newBlockId(nowMs);
    const { parquetKey, metaKey } = blockKeys(this.minStart, blockId);
    const meta: BlockMeta = {
      format: BLOCK_FORMAT,
      blockId,
      parquetKey,
      parquetBytes: parquet.byteLength,
      footerStart,
      minStartUnixNano: this.minStart.toString(),
      maxEndUnixNano: this.maxEnd.toString(),
      spanCount: this.spanCount,
      traceCount: traceIds.length,
      services: [...this.services].sort(),
      variants: [...this.variants].sort(),
      minTraceId: traceIds[0]!,
      maxTraceId: traceIds[traceIds.length - 1]!,
      traceIdBloom: bloom.toJSON(),
      rowGroups,
      createdAt: new Date(nowMs).toISOString(),
      compactionLevel: options.compactionLevel ?? 0,
      replaces: [...(options.replaces ?? [])],
      search: this.summary.finish(),
    };
    return { parquet, meta, metaKey };
  }
}

/** Uploads an encoded block: the Parquet object first, the meta last, so readers never see half a block. */
export async function uploadBlock(store: ObjectStore, block: EncodedBlock): Promise<BlockMeta> {
  await store.put(block.meta.parquetKey, block.parquet);
  await store.put(block.metaKey, new TextEncoder().encode(JSON.stringify(block.meta)));
  return block.meta;
}

/** Encodes and uploads one block of spans (rows, or decoded OTLP batches); resolves with its meta. */
export async function writeBlock(
  store: ObjectStore,
  spans: readonly StoredSpan[] | readonly TraceData[],
  options: BlockWriteOptions = {},
): Promise<BlockMeta> {
  return uploadBlock(store, encodeBlock(toRows(spans), options));
}

function toRows(spans: readonly StoredSpan[] | readonly TraceData[]): StoredSpan[] {
  const out: StoredSpan[] = [];
  for (const item of spans) {
    if ('resourceSpans' in item) flattenTraceData(item, out);
    else out.push(item);
  }
  return out;
}

/**
 * Collects spans and writes them as blocks: the API the agent's storage exporter and the store share.
 * `add` only buffers; `flush` writes what is buffered as one block (nothing when empty).
 */
export class BlockWriter {
  private rows: StoredSpan[] = [];
  private readonly store: ObjectStore;
  private readonly options: BlockWriteOptions;

  constructor(store: ObjectStore, options: BlockWriteOptions = {}) {
    this.store = store;
    this.options = options;
  }

  get spanCount(): number {
    return this.rows.length;
  }

  add(data: TraceData): void {
    flattenTraceData(data, this.rows);
  }

  async flush(): Promise<BlockMeta | undefined> {
    if (this.rows.length === 0) return undefined;
    const rows = this.rows;
    this.rows = [];
    try {
      return await writeBlock(this.store, rows, this.options);
    } catch (err) {
      // Keep the rows so a retry writes them again.
      this.rows = rows.concat(this.rows);
      throw err;
    }
  }
}
