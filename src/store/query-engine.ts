import { SentinelError } from '../errors.js';
import { DEPLOYMENT_VARIANT_ATTRIBUTE } from '../otlp/index.js';
import {
  blockMayHoldTrace,
  dedupeSpans,
  readDistinctColumn,
  readTraceFromBlock,
  scanBlock,
  spanKindName,
  type BlockMeta,
  type BlockRow,
  type ObjectStore,
  type StoredSpan,
} from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { BlockCatalog } from './block-catalog.js';
import type { PeerSpans } from './peer-spans.js';
import { mergeSearchResults, searchTraces, type SearchResult } from './trace-search.js';
import type { SpanCondition, TraceQuery } from './traceql/ast.js';
import { serviceName } from './traceql/evaluate.js';

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

/** An operation (span name and kind) of one service, as Jaeger lists them. */
export interface ServiceOperation {
  readonly service: string;
  readonly name: string;
  /** The block's `SpanKind` spelling: `Server`, `Client`, ..., `Unspecified`. */
  readonly kind: string;
}

export interface QueryEngineOptions {
  readonly store: ObjectStore;
  readonly catalog: BlockCatalog;
  readonly pending?: PendingSpans;
  /** The other replicas' spans not in a block yet (`query.peers`), merged into trace lookups and searches. */
  readonly peers?: PeerSpans | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Blocks read at once by one lookup. */
  readonly concurrency?: number;
}

const ns = (meta: BlockMeta) => ({ start: BigInt(meta.minStartUnixNano), end: BigInt(meta.maxEndUnixNano) });

function overlaps(meta: BlockMeta, range: { readonly startNs?: bigint; readonly endNs?: bigint }): boolean {
  const t = ns(meta);
  if (range.startNs !== undefined && t.end < range.startNs) return false;
  return range.endNs === undefined || t.start <= range.endNs;
}

/** The operations of each block read for them, held as long as the catalog holds the block's meta. */
const blockOperations = new WeakMap<BlockMeta, ServiceOperation[]>();

/** Reads traces, searches and recent spans across every block (and the spans not uploaded yet). */
export class QueryEngine {
  private readonly options: QueryEngineOptions;
  private readonly blocksRead;
  private readonly searchSkipped;
  private readonly searchBytes;

  constructor(options: QueryEngineOptions) {
    this.options = options;
    this.searchSkipped = options.metrics.counter(
      'store_search_skipped_total',
      'Blocks (on their meta) and row groups (on Parquet statistics) a search skipped without reading rows.',
      ['unit'],
    );
    this.searchBytes = options.metrics.counter(
      'store_search_bytes_read_total',
      'Block bytes fetched by searches (footers and row groups).',
    );
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
    const peers = this.options.peers?.traceRows(traceId);
    await this.forEachBlock(blocks, 'trace', async (meta) => {
      found.push(...(await readTraceFromBlock(this.options.store, meta, traceId)));
    });
    found.push(...this.pendingTrace(traceId));
    // Spans outside `range` from the other replicas are kept, as this replica's own pending spans are.
    if (peers) found.push(...(await peers));
    found.sort((a, b) => (a.span.startTimeUnixNano < b.span.startTimeUnixNano ? -1 : 1));
    return dedupeSpans(found);
  }

  /** This replica's spans of `traceId` not in a block yet (what it answers its peers, peer-spans.ts). */
  pendingTrace(traceId: string): StoredSpan[] {
    const out: StoredSpan[] = [];
    for (const r of this.options.pending?.pendingRows() ?? []) if (r.span.traceId === traceId) out.push(r);
    return out;
  }

  /**
   * Traces matching a TraceQL query (or the legacy conditions), newest blocks first, up to `limit`; blocks
   * and row groups that cannot match are skipped on their meta and Parquet statistics (trace-search.ts).
   */
  async search(q: SearchQuery): Promise<SearchResult> {
    // The other replicas search their spans not in a block yet meanwhile (query.peers).
    const others = this.options.peers?.search(q);
    const local = await searchTraces(
      {
        store: this.options.store,
        blocks: await this.options.catalog.blocks(),
        pending: this.options.pending?.pendingRows() ?? [],
        concurrency: this.options.concurrency ?? 8,
        onBlockRead: () => this.blocksRead.inc({ query: 'search' }),
        onBlockError: (meta, err) => this.onBlockError(meta, err),
      },
      searchRequest(q),
    );
    this.searchSkipped.inc({ unit: 'block' }, local.metrics.skippedBlocks);
    this.searchSkipped.inc({ unit: 'row_group' }, local.metrics.skippedRowGroups);
    this.searchBytes.inc(Number(local.metrics.inspectedBytes));
    return others ? mergeSearchResults(local, await others, q.limit, q.spansPerSpanSet ?? 3) : local;
  }

  /** The search over this replica's spans not in a block yet only (what it answers its peers, peer-spans.ts). */
  searchPending(q: SearchQuery): Promise<SearchResult> {
    return searchTraces(
      {
        store: this.options.store,
        blocks: [],
        pending: this.options.pending?.pendingRows() ?? [],
        concurrency: 1,
        onBlockRead: () => undefined,
        onBlockError: () => undefined,
      },
      searchRequest(q),
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

  /**
   * Distinct span names of a block from its `SpanName` column (dictionary-encoded: the read is the
   * dictionary and small indexes), for tag values when the meta's summary had too many names to list.
   */
  async blockSpanNames(meta: BlockMeta): Promise<string[]> {
    this.blocksRead.inc({ query: 'tags' });
    try {
      return await readDistinctColumn(this.options.store, meta, 'SpanName');
    } catch (err) {
      this.onBlockError(meta, err);
      return [];
    }
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

  /** Service names of the blocks overlapping the window (from their metas: no block is read) and of pending spans. */
  async serviceNames(range: { readonly startNs?: bigint; readonly endNs?: bigint } = {}): Promise<string[]> {
    const names = new Set<string>();
    for (const m of await this.options.catalog.blocks()) {
      if (!overlaps(m, range)) continue;
      for (const s of m.services) names.add(s);
    }
    for (const r of this.options.pending?.pendingRows() ?? []) names.add(serviceName(r));
    names.delete('');
    return [...names].sort();
  }

  /**
   * Every (service, span name, kind) in the blocks overlapping the window and in pending spans. A block is read
   * once for this: its operations are kept beside its meta (blocks never change; the entry goes with the meta).
   */
  async operations(
    service: string,
    range: { readonly startNs?: bigint; readonly endNs?: bigint } = {},
  ): Promise<ServiceOperation[]> {
    const found = new Map<string, ServiceOperation>();
    const note = (op: ServiceOperation) => {
      if (op.service === service) found.set(`${op.name}\u0000${op.kind}`, op);
    };
    const blocks = (await this.options.catalog.blocks()).filter(
      (m) => overlaps(m, range) && m.services.includes(service),
    );
    await this.forEachBlock(
      blocks.filter((m) => !blockOperations.has(m)),
      'operations',
      async (meta) => {
        const seen = new Map<string, ServiceOperation>();
        // The filter sees every row and keeps none, so no span is decoded.
        await scanBlock(this.options.store, meta, (row) => {
          const op = {
            service: String(row.ServiceName),
            name: String(row.SpanName),
            kind: String(row.SpanKind),
          };
          const key = `${op.service}\u0000${op.name}\u0000${op.kind}`;
          if (!seen.has(key)) seen.set(key, op);
          return false;
        });
        blockOperations.set(meta, [...seen.values()]);
      },
    );
    for (const meta of blocks) for (const op of blockOperations.get(meta) ?? []) note(op);
    for (const r of this.options.pending?.pendingRows() ?? []) {
      note({ service: serviceName(r), name: r.span.name, kind: spanKindName(r.span.kind) });
    }
    return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
    eq({ kind: 'attribute', scope: 'resource', name: DEPLOYMENT_VARIANT_ATTRIBUTE }, q.variant);
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

/** The search request of an API query: its TraceQL, else its legacy conditions. */
function searchRequest(q: SearchQuery) {
  return {
    query: q.query ?? legacyQuery(q),
    startNs: q.startNs,
    endNs: q.endNs,
    limit: q.limit,
    spansPerSpanSet: q.spansPerSpanSet ?? 3,
    ...(q.minDurationNs !== undefined ? { minTraceDurationNs: q.minDurationNs } : {}),
    ...(q.maxDurationNs !== undefined ? { maxTraceDurationNs: q.maxDurationNs } : {}),
    ...(q.maxBytes !== undefined ? { maxBytes: q.maxBytes } : {}),
  };
}
