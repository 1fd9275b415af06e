import {
  dedupeSpans,
  readBlockRowGroups,
  type BlockMeta,
  type ObjectStore,
  type StoredSpan,
} from '../storage/index.js';
import { attributesOf, spansetsOf, type Field, type TraceQuery } from './traceql/ast.js';
import { evaluateTrace, fieldValue, serviceName, traceFacts, type TraceFacts } from './traceql/evaluate.js';
import { blockMayMatch, rowGroupMayMatch } from './traceql/prune.js';

/** A TraceQL search, validated and bounded by the API. */
export interface TraceSearchRequest {
  readonly query: TraceQuery;
  /** Unix nanoseconds; a trace is in range when it overlaps [startNs, endNs]. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly limit: number;
  /** Matched spans shown per spanset (Tempo's `spss`). */
  readonly spansPerSpanSet: number;
  /** Trace duration bounds (Tempo's `minDuration` / `maxDuration`). */
  readonly minTraceDurationNs?: bigint;
  readonly maxTraceDurationNs?: bigint;
  /** Block bytes the search may read before it stops early (`query.max_search_bytes`). */
  readonly maxBytes?: number;
}

/** A span in a search result, as Tempo's search API shows it. */
export interface SearchSpan {
  spanID: string;
  name: string;
  startTimeUnixNano: string;
  durationNanos: string;
  attributes: OtlpJsonKeyValue[];
}
export interface OtlpJsonKeyValue {
  key: string;
  value: { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
}
export interface SearchSpanSet {
  spans: SearchSpan[];
  matched: number;
}

/** One trace in a search result (Tempo's TraceSearchMetadata, as its JSON API writes it). */
export interface SearchHit {
  traceID: string;
  rootServiceName: string;
  rootTraceName: string;
  startTimeUnixNano: string;
  durationMs: number;
  /** The first spanset (Tempo keeps this deprecated field beside `spanSets`). */
  spanSet: SearchSpanSet;
  spanSets: SearchSpanSet[];
}

/** What the search read and skipped (Tempo's SearchMetrics, plus the skipping figures). */
export interface SearchMetrics {
  inspectedTraces: number;
  inspectedSpans: number;
  inspectedBytes: string;
  inspectedBlocks: number;
  totalBlocks: number;
  skippedBlocks: number;
  inspectedRowGroups: number;
  skippedRowGroups: number;
  truncated?: boolean;
}

export interface SearchResult {
  traces: SearchHit[];
  metrics: SearchMetrics;
}

export interface TraceSearchSource {
  readonly store: ObjectStore;
  readonly blocks: readonly BlockMeta[];
  readonly pending: readonly StoredSpan[];
  readonly concurrency: number;
  readonly onBlockRead: () => void;
  readonly onBlockError: (meta: BlockMeta, err: unknown) => void;
}

function groupByTrace(spans: readonly StoredSpan[]): Map<string, StoredSpan[]> {
  const out = new Map<string, StoredSpan[]>();
  for (const r of spans) {
    let list = out.get(r.span.traceId);
    if (!list) out.set(r.span.traceId, (list = []));
    list.push(r);
  }
  return out;
}

const times = new WeakMap<BlockMeta, { start: bigint; end: bigint }>();
/** A meta's time range as numbers, parsed once per meta (the catalog keeps the same objects between queries). */
function timesOf(meta: BlockMeta): { start: bigint; end: bigint } {
  let t = times.get(meta);
  if (!t) times.set(meta, (t = { start: BigInt(meta.minStartUnixNano), end: BigInt(meta.maxEndUnixNano) }));
  return t;
}

/** Row groups to read: those that may match, plus neighbours sharing a boundary trace with one of them. */
function withBoundaryNeighbours(meta: BlockMeta, chosen: number[]): number[] {
  const set = new Set(chosen);
  const groups = meta.rowGroups;
  const stack = [...chosen];
  while (stack.length > 0) {
    const g = stack.pop()!;
    const here = groups[g];
    if (!here) continue;
    for (const n of [g - 1, g + 1]) {
      const other = groups[n];
      if (!other || set.has(n)) continue;
      const shares = n < g ? other.maxTraceId === here.minTraceId : other.minTraceId === here.maxTraceId;
      if (shares) {
        set.add(n);
        stack.push(n);
      }
    }
  }
  return [...set].sort((a, b) => a - b);
}

function jsonValue(v: ReturnType<typeof fieldValue>): OtlpJsonKeyValue['value'] | undefined {
  switch (v?.t) {
    case 'string':
      return { stringValue: v.v };
    case 'number':
      return Number.isInteger(v.v) ? { intValue: String(v.v) } : { doubleValue: v.v };
    case 'bool':
      return { boolValue: v.v };
    default:
      return undefined;
  }
}

function describeSpan(r: StoredSpan, facts: TraceFacts, shown: readonly Field[]): SearchSpan {
  const attributes: OtlpJsonKeyValue[] = [];
  const seen = new Set<string>();
  const add = (key: string, value: OtlpJsonKeyValue['value'] | undefined) => {
    if (value === undefined || seen.has(key)) return;
    seen.add(key);
    attributes.push({ key, value });
  };
  for (const f of shown) if (f.kind === 'attribute') add(f.name, jsonValue(fieldValue(r, facts, f)));
  add('service.name', { stringValue: serviceName(r) });
  return {
    spanID: r.span.spanId,
    name: r.span.name,
    startTimeUnixNano: r.span.startTimeUnixNano.toString(),
    durationNanos: (r.span.endTimeUnixNano - r.span.startTimeUnixNano).toString(),
    attributes,
  };
}

/** The hit for one trace's spans, or undefined when the trace does not match the request. */
function traceHit(
  req: TraceSearchRequest,
  shown: readonly Field[],
  traceId: string,
  spans: StoredSpan[],
): SearchHit | undefined {
  const unique = dedupeSpans(spans);
  const facts = traceFacts(unique);
  if (facts.endNs < req.startNs || facts.startNs > req.endNs) return undefined;
  const duration = facts.endNs - facts.startNs;
  if (req.minTraceDurationNs !== undefined && duration < req.minTraceDurationNs) return undefined;
  if (req.maxTraceDurationNs !== undefined && duration > req.maxTraceDurationNs) return undefined;
  const sets = evaluateTrace(req.query, unique, facts);
  if (!sets) return undefined;
  const spanSets = sets.map((s) => ({
    spans: s.slice(0, req.spansPerSpanSet).map((r) => describeSpan(r, facts, shown)),
    matched: s.length,
  }));
  return {
    traceID: traceId,
    rootServiceName: facts.rootServiceName,
    rootTraceName: facts.rootName,
    startTimeUnixNano: facts.startNs.toString(),
    durationMs: Number(duration / 1_000_000n),
    spanSet: spanSets[0] ?? { spans: [], matched: 0 },
    spanSets,
  };
}

/** One search in progress: the hits so far, what was read, and the bytes it has cost. */
interface SearchRun {
  readonly hits: Map<string, SearchHit>;
  readonly metrics: SearchMetrics;
  bytes: number;
}

/**
 * The next blocks to read. Waves grow 1, 2, 4, ... up to `concurrency`: a broad query is often answered by the
 * newest blocks, and a full first wave would read `concurrency` blocks for it. Once blocks have matched, a wave
 * reads about as many as the missing traces need at the rate seen so far. Stops at `maxBytes`.
 */
function nextWave(
  run: SearchRun,
  req: TraceSearchRequest,
  candidates: readonly BlockMeta[],
  from: number,
  waveSize: number,
): BlockMeta[] {
  const { metrics, hits } = run;
  const wave: BlockMeta[] = [];
  const perBlock = metrics.inspectedBlocks > 0 ? hits.size / metrics.inspectedBlocks : 0;
  const size =
    perBlock > 0 ? Math.min(waveSize, Math.max(1, Math.ceil((req.limit - hits.size) / perBlock))) : waveSize;
  for (let next = from; next < candidates.length && wave.length < size; next++) {
    const meta = candidates[next]!;
    if (
      req.maxBytes !== undefined &&
      run.bytes + meta.parquetBytes > req.maxBytes &&
      metrics.inspectedBlocks > 0
    ) {
      metrics.truncated = true;
      break;
    }
    run.bytes += meta.parquetBytes; // reserved; the real figure replaces it once read
    metrics.inspectedBlocks++;
    wave.push(meta);
  }
  return wave;
}

/** Reads a wave's blocks at once, only the row groups that may match (and their boundary neighbours). */
function readWave(src: TraceSearchSource, req: TraceSearchRequest, wave: readonly BlockMeta[]) {
  return Promise.all(
    wave.map(async (meta) => {
      src.onBlockRead();
      try {
        return await readBlockRowGroups(src.store, meta, (stats) =>
          withBoundaryNeighbours(
            meta,
            stats.flatMap((st, i) => (rowGroupMayMatch(st, req.query, meta) ? [i] : [])),
          ),
        );
      } catch (err) {
        src.onBlockError(meta, err);
        return undefined;
      }
    }),
  );
}

/** Runs one TraceQL search: blocks newest first, skipping blocks and row groups that cannot match. */
export async function searchTraces(src: TraceSearchSource, req: TraceSearchRequest): Promise<SearchResult> {
  const shown = spansetsOf(req.query).flatMap((c) => [...attributesOf(c).values()]);
  const inWindow = src.blocks.filter((m) => timesOf(m).end >= req.startNs && timesOf(m).start <= req.endNs);
  const candidates = inWindow
    .filter((m) => blockMayMatch(m, req.query))
    .sort((a, b) => (timesOf(b).end > timesOf(a).end ? 1 : timesOf(b).end < timesOf(a).end ? -1 : 0));
  const run: SearchRun = {
    hits: new Map(),
    bytes: 0,
    metrics: {
      inspectedTraces: 0,
      inspectedSpans: 0,
      inspectedBytes: '0',
      inspectedBlocks: 0,
      totalBlocks: inWindow.length,
      skippedBlocks: inWindow.length - candidates.length,
      inspectedRowGroups: 0,
      skippedRowGroups: 0,
    },
  };
  const { hits, metrics } = run;
  const pending = groupByTrace(src.pending);
  const consider = (traceId: string, spans: StoredSpan[]) => {
    if (hits.has(traceId) || hits.size >= req.limit) return;
    metrics.inspectedTraces++;
    const hit = traceHit(req, shown, traceId, spans);
    if (hit) hits.set(traceId, hit);
  };

  for (const [id, spans] of pending) consider(id, spans);
  let next = 0;
  let waveSize = 1;
  while (next < candidates.length && hits.size < req.limit) {
    const wave = nextWave(run, req, candidates, next, waveSize);
    waveSize = Math.min(waveSize * 2, Math.max(1, src.concurrency));
    next += wave.length;
    if (wave.length === 0) break;
    const reads = await readWave(src, req, wave);
    for (let i = 0; i < wave.length; i++) {
      const read = reads[i];
      run.bytes -= wave[i]!.parquetBytes;
      if (!read) continue;
      run.bytes += read.bytesRead;
      metrics.inspectedRowGroups += read.rowGroupsRead;
      metrics.skippedRowGroups += read.rowGroupsTotal - read.rowGroupsRead;
      metrics.inspectedSpans += read.spans.length;
      for (const [id, spans] of groupByTrace(read.spans)) {
        const extra = pending.get(id);
        consider(id, extra ? [...spans, ...extra] : spans);
      }
    }
    if (metrics.truncated) break;
  }
  metrics.inspectedBytes = String(run.bytes);
  const traces = [...hits.values()].sort(newestFirst);
  return { traces, metrics };
}

/** Hits by start time, the newest first (Tempo's order). */
const newestFirst = (a: SearchHit, b: SearchHit): number =>
  BigInt(b.startTimeUnixNano) > BigInt(a.startTimeUnixNano) ? 1 : -1;

/**
 * This replica's search result merged with the other replicas' (query.peers: theirs cover only their spans not
 * in a block yet). A trace found on several is one hit: its start the earliest, its end the latest, its root
 * names from the part that starts first (what `traceFacts` takes without a root span), its spansets' spans once
 * each. Newest first, cut at `limit`; the metrics add up.
 */
export function mergeSearchResults(
  local: SearchResult,
  others: readonly SearchResult[],
  limit: number,
  spansPerSpanSet: number,
): SearchResult {
  if (others.length === 0) return local;
  const hits = new Map<string, SearchHit>();
  for (const hit of local.traces) hits.set(hit.traceID, hit);
  const metrics = { ...local.metrics };
  for (const other of others) {
    metrics.inspectedTraces += other.metrics.inspectedTraces;
    metrics.inspectedSpans += other.metrics.inspectedSpans;
    for (const hit of other.traces) {
      const seen = hits.get(hit.traceID);
      hits.set(hit.traceID, seen ? mergeHits(seen, hit, spansPerSpanSet) : hit);
    }
  }
  const traces = [...hits.values()].sort(newestFirst).slice(0, limit);
  return { traces, metrics };
}

function mergeHits(a: SearchHit, b: SearchHit, spansPerSpanSet: number): SearchHit {
  const startA = BigInt(a.startTimeUnixNano);
  const startB = BigInt(b.startTimeUnixNano);
  const first = startB < startA ? b : a;
  const endMs = (h: SearchHit) => Number(BigInt(h.startTimeUnixNano) / 1_000_000n) + h.durationMs;
  const start = startB < startA ? startB : startA;
  const spanSets: SearchSpanSet[] = [];
  const ids = new Set<string>();
  const count = Math.max(a.spanSets.length, b.spanSets.length);
  for (let i = 0; i < count; i++) {
    const spans: SearchSpan[] = [];
    let matched = 0;
    for (const set of [a.spanSets[i], b.spanSets[i]]) {
      if (!set) continue;
      matched += set.matched;
      for (const s of set.spans) {
        if (ids.has(s.spanID) || spans.length >= spansPerSpanSet) continue;
        ids.add(s.spanID);
        spans.push(s);
      }
    }
    spanSets.push({ spans, matched });
  }
  return {
    traceID: a.traceID,
    rootServiceName: first.rootServiceName,
    rootTraceName: first.rootTraceName,
    startTimeUnixNano: start.toString(),
    durationMs: Math.max(endMs(a), endMs(b)) - Number(start / 1_000_000n),
    spanSet: spanSets[0] ?? { spans: [], matched: 0 },
    spanSets,
  };
}
