import { SentinelError } from '../errors.js';
import {
  DEPLOYMENT_VARIANT_ATTRIBUTE,
  SAMPLING_COMPLETED_ATTRIBUTE,
  stringAttribute,
} from '../otlp/index.js';
import {
  listVisibleBlocks,
  sampleWeight,
  scanBlock,
  spanKindName,
  type BlockMeta,
  type BlockRow,
  type ObjectStore,
  type StoredSpan,
} from '../storage/index.js';
import { compareSpans, type CompareReport, type CompareSpan } from './compare-spans.js';
import { describeQuery, parseCompareParams, type CompareQuery } from './compare-query.js';

/** Spans one comparison reads at most: beyond this the window is too wide to hold in memory. */
export const MAX_COMPARE_SPANS = 2_000_000;

/** The cheap column test applied while a block is decoded: service, kind, time window, operation. */
export function compareRowFilter(q: CompareQuery): (row: BlockRow) => boolean {
  const kinds = new Set(q.spanKinds.map(spanKindName));
  return (row) => {
    if (row.ServiceName !== q.service) return false;
    if (!kinds.has(row.SpanKind as string)) return false;
    if (q.operation !== undefined && row.SpanName !== q.operation) return false;
    const start = row.Timestamp as bigint;
    return start >= q.startNs && start <= q.endNs;
  };
}

/** The same test on a decoded span (spans not yet in a block). */
export function storedSpanMatches(q: CompareQuery, r: StoredSpan): boolean {
  return (
    stringAttribute(r.resource.attributes, 'service.name') === q.service &&
    q.spanKinds.includes(r.span.kind) &&
    (q.operation === undefined || r.span.name === q.operation) &&
    r.span.startTimeUnixNano >= q.startNs &&
    r.span.startTimeUnixNano <= q.endNs
  );
}

/** A stored span as the statistics take it: duration, error, `sampling.weight`, variant, name. */
export function toCompareSpan(r: StoredSpan): CompareSpan {
  const ns = r.span.endTimeUnixNano - r.span.startTimeUnixNano;
  return {
    durationNs: ns > 0n ? Number(ns) : 0,
    isError: r.span.status.code === 2,
    weight: sampleWeight(r.span.attributes),
    variant: stringAttribute(r.resource.attributes, DEPLOYMENT_VARIANT_ATTRIBUTE) ?? '',
    operation: r.span.name,
  };
}

function isCompletedSpan(r: StoredSpan): boolean {
  for (const kv of r.span.attributes)
    if (kv.key === SAMPLING_COMPLETED_ATTRIBUTE) return kv.value.kind === 'bool' && kv.value.value;
  return false;
}

/** Collects spans once each (one span may sit in several blocks: retries, many agents, compaction). */
export class CompareSpanCollector {
  readonly spans: CompareSpan[] = [];
  /** More than MAX_COMPARE_SPANS matched: the rest were refused, and `check()` throws. */
  full = false;
  /** Spans left out because they carry `sampling.completed` (issue 9). */
  completedSkipped = 0;
  private readonly seen = new Set<string>();

  add(rows: Iterable<StoredSpan>): void {
    for (const r of rows) {
      // Spans kept only to complete a trace another agent kept (issue 9) are outside the sample the weights
      // describe: counted, they would count those traces twice (once through the sample at 1/p, once here).
      if (isCompletedSpan(r)) {
        this.completedSkipped++;
        continue;
      }
      const key = r.span.traceId + r.span.spanId;
      if (this.seen.has(key)) continue;
      if (this.spans.length >= MAX_COMPARE_SPANS) {
        this.full = true;
        return;
      }
      this.seen.add(key);
      this.spans.push(toCompareSpan(r));
    }
  }

  /** Throws SENTINEL_ERR_QUERY_INVALID when the window held more spans than one comparison reads. */
  check(): void {
    if (this.full)
      throw new SentinelError(
        'SENTINEL_ERR_QUERY_INVALID',
        `the window holds more than ${MAX_COMPARE_SPANS} matching spans; narrow start..end or window`,
      );
  }
}

/** Where the store's query engine delivers the spans of a comparison (QueryEngine.scanSpans). */
export type CompareScan = (
  query: CompareQuery,
  filter: (row: BlockRow) => boolean,
  matches: (r: StoredSpan) => boolean,
  onRows: (rows: StoredSpan[]) => void,
) => Promise<void>;

/**
 * `GET /api/compare` in one call: validates the parameters, has `scan` read the spans, compares them. Throws
 * SENTINEL_ERR_QUERY_INVALID (an HTTP 400) for bad parameters or a window holding too many spans.
 */
export async function compareRequest(
  params: URLSearchParams,
  nowMs: number,
  scan: CompareScan,
): Promise<CompareReport> {
  const { query, options } = parseCompareParams(params, nowMs);
  const collector = new CompareSpanCollector();
  await scan(
    query,
    compareRowFilter(query),
    (r) => storedSpanMatches(query, r),
    (rows) => collector.add(rows),
  );
  collector.check();
  return { ...compareSpans(collector.spans, options), query: describeQuery(query) };
}

/** Whether a block's meta says it may hold spans the query wants. */
export function blockMayMatch(meta: BlockMeta, q: CompareQuery): boolean {
  if (BigInt(meta.maxEndUnixNano) < q.startNs || BigInt(meta.minStartUnixNano) > q.endNs) return false;
  return meta.services.includes(q.service);
}

/**
 * Reads the spans a comparison needs straight from storage (`sentinel compare --storage`), without a store:
 * lists the block metas, skips blocks a compacted block replaces and those outside the service or window, and
 * decodes the rest. An unreadable block is reported through `onSkip` and left out, never fatal.
 */
export async function loadSpansFromStorage(
  store: ObjectStore,
  q: CompareQuery,
  onSkip: (key: string, reason: string) => void = () => undefined,
): Promise<{ spans: CompareSpan[]; blocksRead: number }> {
  const visible = await listVisibleBlocks(store, { onSkip: (o, _reason, message) => onSkip(o.key, message) });
  const wanted = visible.filter((m) => blockMayMatch(m, q));
  const collector = new CompareSpanCollector();
  const filter = compareRowFilter(q);
  for (const meta of wanted) {
    try {
      collector.add(await scanBlock(store, meta, filter));
    } catch (err) {
      onSkip(meta.parquetKey, (err as Error).message);
    }
    collector.check();
  }
  return { spans: collector.spans, blocksRead: wanted.length };
}
