import { SentinelError } from '../errors.js';
import {
  blockMayHoldTrace,
  dedupeSpans,
  readTraceFromBlock,
  scanBlock,
  type BlockMeta,
  type BlockRow,
  type ObjectStore,
  type StoredSpan,
} from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { BlockCatalog } from './block-catalog.js';
import { searchTraces, type SearchResult } from './trace-search.js';
import type { SpanCondition, TraceQuery } from './traceql/ast.js';

/** Where spans not yet in an uploaded block can be read (the ingest pipeline). */
export interface PendingSpans {
  pendingRows(): StoredSpan[];
}

/** A search as the API takes it, already validated and bounded. */
export interface SearchQuery {
  /** TraceQL (parsed); without it, the conditions below in one spanset, `{}` when there are none. */
  readonly query?: TraceQuery;
  readonly service?: string;
  readonly variant?: string;
  readonly name?: string;
  readonly errorsOnly?: boolean;
  /** Trace duration bounds (Tempo's minDuration / maxDuration). */
  readonly minDurationNs?: bigint;
  readonly maxDurationNs?: bigint;
  /** Unix nanoseconds, inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly limit: number;
  /** Matched spans listed per spanset (Tempo's `spss`, default 3). */
  readonly spansPerSpanSet?: number;
  /** Block bytes the search may read before it stops early (`query.max_search_bytes`). */
  readonly maxBytes?: number;
}

export interface QueryEngineOptions {
  readonly store: ObjectStore;
  readonly catalog: BlockCatalog;
  readonly pending?: PendingSpans;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Blocks read at once by one lookup. */
  readonly concurrency?: number;
}

const ns = (meta: BlockMeta) => ({ start: BigInt(meta.minStartUnixNano), end: BigInt(meta.maxEndUnixNano) });

/** Reads traces, searches and recent spans across every block (and the spans not uploaded yet). */
export class QueryEngine {
  private readonly options: QueryEngineOptions;
  private readonly blocksRead;

  constructor(options: QueryEngineOptions) {
    this.options = options;
    this.blocksRead = options.metrics.counter(
      'store_query_blocks_read_total',
      'Blocks opened by queries, by query kind.',
      ['query'],
    );
  }

  /**
   * Every span of `traceId`, merged across blocks and de-duplicated by span id (one span may reach several
   * blocks: many agents, retries, compaction in progress). `startNs`/`endNs` prune blocks by time.
   */
  async findTrace(traceId: string, range: { startNs?: bigint; endNs?: bigint } = {}): Promise<StoredSpan[]> {
    const blocks = (await this.options.catalog.blocks()).filter((m) => {
      const t = ns(m);
      if (range.startNs !== undefined && t.end < range.startNs) return false;
      if (range.endNs !== undefined && t.start > range.endNs) return false;
      return blockMayHoldTrace(m, traceId);
    });
    const found: StoredSpan[] = [];
    await this.forEachBlock(blocks, 'trace', async (meta) => {
      found.push(...(await readTraceFromBlock(this.options.store, meta, traceId)));
    });
    for (const r of this.options.pending?.pendingRows() ?? []) if (r.span.traceId === traceId) found.push(r);
    found.sort((a, b) => (a.span.startTimeUnixNano < b.span.startTimeUnixNano ? -1 : 1));
    return dedupeSpans(found);
  }

  /**
   * Traces matching a TraceQL query (or the legacy conditions), newest blocks first, up to `limit`; blocks
   * and row groups that cannot match are skipped on their meta and Parquet statistics (trace-search.ts).
   */
  async search(q: SearchQuery): Promise<SearchResult> {
    return searchTraces(
      {
        store: this.options.store,
        blocks: await this.options.catalog.blocks(),
        pending: this.options.pending?.pendingRows() ?? [],
        concurrency: this.options.concurrency ?? 8,
        onBlockRead: () => this.blocksRead.inc({ query: 'search' }),
        onBlockError: (meta, err) => this.onBlockError(meta, err),
      },
      {
        query: q.query ?? legacyQuery(q),
        startNs: q.startNs,
        endNs: q.endNs,
        limit: q.limit,
        spansPerSpanSet: q.spansPerSpanSet ?? 3,
        ...(q.minDurationNs !== undefined ? { minTraceDurationNs: q.minDurationNs } : {}),
        ...(q.maxDurationNs !== undefined ? { maxTraceDurationNs: q.maxDurationNs } : {}),
        ...(q.maxBytes !== undefined ? { maxBytes: q.maxBytes } : {}),
      },
    );
  }

  /** The metas of blocks overlapping a time range and the spans not in a block yet (tag listings read these). */
  async metadataSources(range: {
    startNs: bigint;
    endNs: bigint;
  }): Promise<{ blocks: BlockMeta[]; pending: StoredSpan[] }> {
    const blocks = (await this.options.catalog.blocks()).filter((m) => {
      const t = ns(m);
      return t.end >= range.startNs && t.start <= range.endNs;
    });
    return { blocks, pending: this.options.pending?.pendingRows() ?? [] };
  }

  /** The most recent spans (by start time), from the pending spans and the newest blocks. */
  async recentSpans(limit: number): Promise<StoredSpan[]> {
    const out: StoredSpan[] = [...(this.options.pending?.pendingRows() ?? [])];
    const blocks = (await this.options.catalog.blocks()).sort((a, b) =>
      BigInt(b.maxEndUnixNano) > BigInt(a.maxEndUnixNano) ? 1 : -1,
    );
    let oldestKept: bigint | undefined;
    for (const meta of blocks) {
      // Once `limit` spans are in hand, a block that ends before the oldest of them cannot contribute.
      if (out.length >= limit && oldestKept !== undefined && BigInt(meta.maxEndUnixNano) < oldestKept) break;
      try {
        this.blocksRead.inc({ query: 'recent' });
        out.push(...(await scanBlock(this.options.store, meta)));
      } catch (err) {
        this.onBlockError(meta, err);
      }
      out.sort((a, b) => (b.span.startTimeUnixNano > a.span.startTimeUnixNano ? 1 : -1));
      out.length = Math.min(out.length, Math.max(limit * 2, limit));
      if (out.length >= limit) oldestKept = out[limit - 1]!.span.startTimeUnixNano;
    }
    out.sort((a, b) => (b.span.startTimeUnixNano > a.span.startTimeUnixNano ? 1 : -1));
    return dedupeSpans(out).slice(0, limit);
  }

  /**
   * Hands every span of `range.service` starting in the window to `onRows`: pending spans that `matches`, and
   * rows of each overlapping block that `filter` keeps, block by block (GET /api/compare, issue 8).
   */
  async scanSpans(
    range: { readonly service: string; readonly startNs: bigint; readonly endNs: bigint },
    filter: (row: BlockRow) => boolean,
    matches: (r: StoredSpan) => boolean,
    onRows: (rows: StoredSpan[]) => void,
  ): Promise<void> {
    onRows((this.options.pending?.pendingRows() ?? []).filter(matches));
    const blocks = (await this.options.catalog.blocks()).filter((m) => {
      const t = ns(m);
      return t.end >= range.startNs && t.start <= range.endNs && m.services.includes(range.service);
    });
    await this.forEachBlock(blocks, 'compare', async (meta) => {
      onRows(await scanBlock(this.options.store, meta, filter));
    });
  }

  private async forEachBlock(
    blocks: BlockMeta[],
    query: string,
    fn: (meta: BlockMeta) => Promise<void>,
  ): Promise<void> {
    const concurrency = this.options.concurrency ?? 8;
    let next = 0;
    const worker = async () => {
      while (next < blocks.length) {
        const meta = blocks[next++]!;
        this.blocksRead.inc({ query });
        try {
          await fn(meta);
        } catch (err) {
          this.onBlockError(meta, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, blocks.length) }, worker));
  }

  /** A block that cannot be read is skipped with a log line (and left out until it changes), never fatal. */
  private onBlockError(meta: BlockMeta, err: unknown): void {
    if (err instanceof SentinelError && err.code === 'SENTINEL_ERR_BLOCK_INVALID') {
      this.options.catalog.markBroken(meta, err.message);
    } else {
      this.options.logger.warn(
        { key: meta.parquetKey, err: (err as Error).message },
        'reading a block failed',
      );
    }
  }
}

/** The legacy parameters (service, variant, name, status=error) as one spanset: one span meets them all. */
function legacyQuery(q: SearchQuery): TraceQuery {
  const parts: SpanCondition[] = [];
  const eq = (
    field: SpanCondition & { kind: 'compare' } extends { field: infer F } ? F : never,
    value: string,
  ) => parts.push({ kind: 'compare', field, op: '=', value: { type: 'string', value } });
  if (q.service !== undefined) eq({ kind: 'attribute', scope: 'resource', name: 'service.name' }, q.service);
  if (q.variant !== undefined)
    eq({ kind: 'attribute', scope: 'resource', name: 'deployment.variant' }, q.variant);
  if (q.name !== undefined) eq({ kind: 'intrinsic', name: 'name' }, q.name);
  if (q.errorsOnly)
    parts.push({
      kind: 'compare',
      field: { kind: 'intrinsic', name: 'status' },
      op: '=',
      value: { type: 'status', value: 'error' },
    });
  const condition = parts.reduce<SpanCondition | undefined>(
    (acc, c) => (acc ? { kind: 'and', left: acc, right: c } : c),
    undefined,
  );
  return { kind: 'spanset', condition: condition ?? { kind: 'all' }, index: 0 };
}
