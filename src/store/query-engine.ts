import { SentinelError } from '../errors.js';
import {
  blockMayHoldTrace,
  dedupeSpans,
  readTraceFromBlock,
  scanBlock,
  spanKindName,
  statusCodeName,
  type BlockMeta,
  type BlockRow,
  type ObjectStore,
  type StoredSpan,
} from '../storage/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { BlockCatalog } from './block-catalog.js';

/** Where spans not yet in an uploaded block can be read (the ingest pipeline). */
export interface PendingSpans {
  pendingRows(): StoredSpan[];
}

/** A search as the API takes it, already validated and bounded. */
export interface SearchQuery {
  readonly service?: string;
  readonly variant?: string;
  readonly name?: string;
  readonly errorsOnly?: boolean;
  readonly minDurationNs?: bigint;
  readonly maxDurationNs?: bigint;
  /** Unix nanoseconds, inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly limit: number;
  /** Block bytes the search may read before it stops early (`query.max_search_bytes`). */
  readonly maxBytes?: number;
  /** A further test on each decoded span that passed the others (Jaeger's attribute filters). */
  readonly spanFilter?: (span: StoredSpan) => boolean;
}

/** An operation (span name and kind) of one service, as Jaeger lists them. */
export interface ServiceOperation {
  readonly service: string;
  readonly name: string;
  /** The block's `SpanKind` spelling: `Server`, `Client`, ..., `Unspecified`. */
  readonly kind: string;
}

/** One trace in a search result (Tempo's search response shape). */
export interface SearchHit {
  traceID: string;
  rootServiceName: string;
  rootTraceName: string;
  startTimeUnixNano: string;
  durationMs: number;
  spanSet: {
    spans: { spanID: string; startTimeUnixNano: string; durationNanos: string }[];
    matched: number;
  };
}

export interface SearchResult {
  traces: SearchHit[];
  metrics: { inspectedTraces: number; inspectedBytes: string; inspectedBlocks: number; truncated?: boolean };
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

  /** Traces with at least one span matching every condition, newest blocks first, up to `limit`. */
  async search(q: SearchQuery): Promise<SearchResult> {
    const blocks = (await this.options.catalog.blocks())
      .filter((m) => {
        const t = ns(m);
        if (t.end < q.startNs || t.start > q.endNs) return false;
        if (q.service !== undefined && !m.services.includes(q.service)) return false;
        if (q.variant !== undefined && !m.variants.includes(q.variant)) return false;
        return true;
      })
      .sort((a, b) => (BigInt(b.maxEndUnixNano) > BigInt(a.maxEndUnixNano) ? 1 : -1));
    const rowMatches = (row: BlockRow): boolean => {
      const start = row.Timestamp as bigint;
      const duration = row.Duration as bigint;
      if (start + duration < q.startNs || start > q.endNs) return false;
      if (q.service !== undefined && row.ServiceName !== q.service) return false;
      if (q.variant !== undefined && row.DeploymentVariant !== q.variant) return false;
      if (q.name !== undefined && row.SpanName !== q.name) return false;
      if (q.errorsOnly && row.StatusCode !== statusCodeName(2)) return false;
      if (q.minDurationNs !== undefined && duration < q.minDurationNs) return false;
      if (q.maxDurationNs !== undefined && duration > q.maxDurationNs) return false;
      return true;
    };
    const traces = new Map<string, StoredSpan[]>();
    let inspectedBlocks = 0;
    let inspectedBytes = 0;
    const add = (r: StoredSpan) => {
      let list = traces.get(r.span.traceId);
      if (!list) {
        if (traces.size >= q.limit) return;
        traces.set(r.span.traceId, (list = []));
      }
      list.push(r);
    };
    const keep = q.spanFilter ?? (() => true);
    for (const r of this.options.pending?.pendingRows() ?? []) if (rowMatches(toRow(r)) && keep(r)) add(r);
    let truncated = false;
    for (const meta of blocks) {
      if (traces.size >= q.limit) break;
      if (
        q.maxBytes !== undefined &&
        inspectedBytes + meta.parquetBytes > q.maxBytes &&
        inspectedBlocks > 0
      ) {
        truncated = true;
        break;
      }
      inspectedBlocks++;
      inspectedBytes += meta.parquetBytes;
      try {
        this.blocksRead.inc({ query: 'search' });
        for (const r of await scanBlock(this.options.store, meta, rowMatches)) if (keep(r)) add(r);
      } catch (err) {
        this.onBlockError(meta, err);
      }
    }
    const hits: SearchHit[] = [];
    for (const [traceID, spans] of traces) {
      const unique = dedupeSpans(spans);
      let start = unique[0]!.span.startTimeUnixNano;
      let end = unique[0]!.span.endTimeUnixNano;
      for (const { span } of unique) {
        if (span.startTimeUnixNano < start) start = span.startTimeUnixNano;
        if (span.endTimeUnixNano > end) end = span.endTimeUnixNano;
      }
      const root = unique.find((r) => r.span.parentSpanId === '') ?? unique[0]!;
      hits.push({
        traceID,
        rootServiceName: serviceOf(root),
        rootTraceName: root.span.name,
        startTimeUnixNano: start.toString(),
        durationMs: Number((end - start) / 1_000_000n),
        spanSet: {
          spans: unique.map(({ span }) => ({
            spanID: span.spanId,
            startTimeUnixNano: span.startTimeUnixNano.toString(),
            durationNanos: (span.endTimeUnixNano - span.startTimeUnixNano).toString(),
          })),
          matched: unique.length,
        },
      });
    }
    hits.sort((a, b) => (BigInt(b.startTimeUnixNano) > BigInt(a.startTimeUnixNano) ? 1 : -1));
    return {
      traces: hits,
      metrics: {
        inspectedTraces: traces.size,
        inspectedBytes: String(inspectedBytes),
        inspectedBlocks,
        ...(truncated ? { truncated } : {}),
      },
    };
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
    for (const r of this.options.pending?.pendingRows() ?? []) names.add(serviceOf(r));
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
      note({ service: serviceOf(r), name: r.span.name, kind: spanKindName(r.span.kind) });
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

function serviceOf(r: StoredSpan): string {
  for (const kv of r.resource.attributes) {
    if (kv.key === 'service.name' && kv.value.kind === 'string') return kv.value.value;
  }
  return '';
}

/** The cells of a pending row that search filters look at, in block-row form. */
function toRow(r: StoredSpan): BlockRow {
  let variant = '';
  for (const kv of r.resource.attributes) {
    if (kv.key === 'deployment.variant' && kv.value.kind === 'string') variant = kv.value.value;
  }
  return {
    Timestamp: r.span.startTimeUnixNano,
    Duration: r.span.endTimeUnixNano - r.span.startTimeUnixNano,
    ServiceName: serviceOf(r),
    DeploymentVariant: variant,
    SpanName: r.span.name,
    StatusCode: statusCodeName(r.span.status.code),
  };
}
