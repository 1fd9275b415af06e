/**
 * Search over 1,000 blocks (local directory): a selective TraceQL query (one service, errors), a needle (an
 * attribute value in one block), and broad ones, with blocks, row groups and bytes read; beside the same
 * queries with no skipping (every block in the window read whole and filtered: the store's search before
 * issue 15), and trace by id in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { av, type KeyValue, type ResourceSpans, type TraceData } from '../src/otlp/index.js';
import {
  buildSearchSummary,
  encodeBlock,
  flattenTraceData,
  scanBlock,
  uploadBlock,
  type BlockMeta,
  type StoredSpan,
} from '../src/storage/index.js';
import { CountingObjectStore } from '../src/storage/object-store.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { BlockCatalog } from '../src/store/block-catalog.js';
import { QueryEngine } from '../src/store/query-engine.js';
import { evaluateTrace } from '../src/store/traceql/evaluate.js';
import { parseTraceQL } from '../src/store/traceql/parse.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeTraces, rng } from '../test/helpers/store-spans.js';
import { median } from './_stats.js';

const BLOCKS = 1000;
const TRACES_PER_BLOCK = 60;
const SPANS_PER_TRACE = 5;
const ROW_GROUP = 100;
const SERVICES = 40;
const T0 = Date.UTC(2026, 5, 1, 0, 0, 0);
/** Six days of blocks, inside the 168 h search window. */
const SPREAD_MS = 6 * 86_400_000;
const RUNS = 5;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `# search: node ${process.version}, ${availableParallelism()} cores (shared machine: other sessions ran at the same time)`,
);

/**
 * One block per sidecar agent flush: the spans of one service's pod (the agents write their own blocks), 60
 * traces of 5 spans, 1 % error spans, row groups of 100 rows.
 */
function blockData(b: number): TraceData {
  const random = rng(9000 + b);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const service = `svc-${String(b % SERVICES).padStart(2, '0')}`;
  const startMs = T0 + Math.floor((b * SPREAD_MS) / BLOCKS);
  const rs: ResourceSpans = {
    resource: {
      attributes: [
        { key: 'service.name', value: av.string(service) },
        { key: 'k8s.pod.name', value: av.string(`${service}-7d9f-${b % 3}`) },
      ],
      droppedAttributesCount: 0,
    },
    scopeSpans: [
      {
        scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 },
        spans: [],
        schemaUrl: '',
      },
    ],
    schemaUrl: '',
  };
  for (let t = 0; t < TRACES_PER_BLOCK; t++) {
    const traceId = hex(32);
    let parent = '';
    for (let i = 0; i < SPANS_PER_TRACE; i++) {
      const start = BigInt(startMs + t * 100 + i) * 1_000_000n;
      const error = random() < 0.01;
      const attributes: KeyValue[] = [
        { key: 'http.request.method', value: av.string(i % 2 ? 'GET' : 'POST') },
        { key: 'http.response.status_code', value: av.int(error ? 500 : 200) },
        // An order id per trace: too many values for the meta summary to list.
        { key: 'order.id', value: av.string(hex(12)) },
      ];
      if (b === 123 && t === 7) attributes.push({ key: 'feature.flag', value: av.string('needle') });
      const spanId = hex(16);
      rs.scopeSpans[0]!.spans.push({
        traceId,
        spanId,
        traceState: '',
        parentSpanId: parent,
        flags: 1,
        name: `${i % 2 ? 'GET' : 'POST'} /${service}/${i}`,
        kind: i === 0 ? 2 : 3,
        startTimeUnixNano: start,
        endTimeUnixNano: start + BigInt(Math.floor(random() * 80_000_000)),
        attributes,
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: error ? 2 : 0, message: '' },
      });
      parent = spanId;
    }
  }
  return { resourceSpans: [rs] };
}

// What the search summary costs the ingest path: encodeBlock now builds it (the hot path of the store).
{
  const rows = flattenTraceData(makeTraces({ traces: 5_000, spansPerTrace: 6, seed: 3 }));
  encodeBlock(rows.slice(0, 2_000)); // warm up
  buildSearchSummary(rows.slice(0, 2_000));
  const enc: number[] = [];
  const sum: number[] = [];
  for (let i = 0; i < 3; i++) {
    let s = performance.now();
    encodeBlock(rows);
    enc.push(performance.now() - s);
    s = performance.now();
    buildSearchSummary(rows);
    sum.push(performance.now() - s);
  }
  const e = median(enc);
  const m = median(sum);
  console.log(
    `\nencodeBlock of ${fmt(rows.length)} spans: ${fmt(e)} ms, of which the search summary ${m.toFixed(1)} ms ` +
      `(${((m / e) * 100).toFixed(1)} %): ${fmt(rows.length / ((e - m) / 1000))} spans/s without it, ${fmt(rows.length / (e / 1000))} with it`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-search-'));
const local = new LocalObjectStore(join(dir, 'blocks'));
const traceIds: string[] = [];
const t = performance.now();
for (let b = 0; b < BLOCKS; b++) {
  const rows = flattenTraceData(blockData(b));
  if (b % 10 === 0) traceIds.push(rows[0]!.span.traceId);
  await uploadBlock(local, encodeBlock(rows, { rowGroupSize: ROW_GROUP }));
}
const writeMs = performance.now() - t;
const catalog = new BlockCatalog({
  store: local,
  logger: silentLogger(),
  metrics: new Metrics(),
  refreshIntervalMs: 1e12,
});
await catalog.refresh();
const metas = await catalog.blocks();
const totalBytes = metas.reduce((n, m) => n + m.parquetBytes, 0);
console.log(
  `\n${BLOCKS} blocks of ${TRACES_PER_BLOCK * SPANS_PER_TRACE} spans (${SERVICES} services, one per block; row groups of ${ROW_GROUP}), ` +
    `${fmt(totalBytes / 1024)} KiB of Parquet, written in ${fmt(writeMs)} ms`,
);

const counting = new CountingObjectStore(local);
const engine = new QueryEngine({ store: counting, catalog, logger: silentLogger(), metrics: new Metrics() });
const startNs = BigInt(T0) * 1_000_000n;
const endNs = BigInt(T0 + SPREAD_MS + 60_000) * 1_000_000n;

/** The baseline: newest block first, each read whole (one GET) and every trace evaluated, until `limit`. */
async function fullScan(q: string, limit: number): Promise<{ hits: number; blocks: number }> {
  const query = parseTraceQL(q);
  const blocks = [...metas].sort((a: BlockMeta, b: BlockMeta) =>
    BigInt(b.maxEndUnixNano) > BigInt(a.maxEndUnixNano) ? 1 : -1,
  );
  let hits = 0;
  let read = 0;
  for (const meta of blocks) {
    if (hits >= limit) break;
    read++;
    const byTrace = new Map<string, StoredSpan[]>();
    for (const r of await scanBlock(counting, meta)) {
      const l = byTrace.get(r.span.traceId) ?? [];
      l.push(r);
      byTrace.set(r.span.traceId, l);
    }
    for (const spans of byTrace.values()) if (hits < limit && evaluateTrace(query, spans)) hits++;
  }
  return { hits, blocks: read };
}

interface Figure {
  ms: number;
  hits: number;
  blocks: number;
  rowGroups?: string;
  bytes: number;
  gets: number;
}
async function measure(fn: () => Promise<Omit<Figure, 'ms' | 'bytes' | 'gets'>>): Promise<Figure> {
  await fn(); // warm up
  const times: number[] = [];
  let last: Omit<Figure, 'ms' | 'bytes' | 'gets'> | undefined;
  let bytes = 0;
  let gets = 0;
  for (let i = 0; i < RUNS; i++) {
    counting.resetStats();
    const s = performance.now();
    last = await fn();
    times.push(performance.now() - s);
    bytes = counting.stats.bytesRead;
    gets = counting.totalGets;
  }
  return { ms: median(times), bytes, gets, ...last! };
}

const QUERIES: [string, string, number][] = [
  ['selective: one service, errors', '{ resource.service.name = "svc-07" && status = error }', 20],
  ['needle: a value in one block', '{ span.feature.flag = "needle" }', 20],
  ['broad: every trace, limit 20', '{}', 20],
  ['broad: GET spans, limit 500', '{ span.http.request.method = "GET" }', 500],
  ['nothing matches', '{ name = "no such span" }', 20],
];
console.log(
  '\n| query | skipping: p50 | blocks read | row groups read / skipped | bytes read | GETs | no skipping (baseline): p50 | blocks | bytes | speed-up |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [label, q, limit] of QUERIES) {
  const query = parseTraceQL(q);
  const skip = await measure(async () => {
    const r = await engine.search({ query, startNs, endNs, limit, spansPerSpanSet: 3 });
    return {
      hits: r.traces.length,
      blocks: r.metrics.inspectedBlocks,
      rowGroups: `${r.metrics.inspectedRowGroups} / ${r.metrics.skippedRowGroups}`,
    };
  });
  const base = await measure(() => fullScan(q, limit));
  if (skip.hits !== base.hits)
    throw new Error(`${label}: ${skip.hits} hits with skipping, ${base.hits} without`);
  console.log(
    `| ${label} (\`${q}\`, ${skip.hits} traces) | ${skip.ms.toFixed(1)} ms | ${skip.blocks} | ${skip.rowGroups} | ${fmt(skip.bytes / 1024)} KiB | ${skip.gets} | ` +
      `${base.ms.toFixed(1)} ms | ${base.blocks} | ${fmt(base.bytes / 1024)} KiB | ${(base.ms / skip.ms).toFixed(1)}x |`,
  );
}

// Trace by id in the same run, over the same blocks.
const lat: number[] = [];
counting.resetStats();
for (const id of traceIds) await engine.findTrace(id); // warm up
counting.resetStats();
for (const id of traceIds) {
  const s = performance.now();
  const spans = await engine.findTrace(id);
  lat.push(performance.now() - s);
  if (spans.length !== SPANS_PER_TRACE)
    throw new Error(`trace ${id}: expected ${SPANS_PER_TRACE} spans, got ${spans.length}`);
}
console.log(
  `\ntrace by id over the same ${BLOCKS} blocks: p50 ${median(lat).toFixed(1)} ms, ${(counting.totalGets / traceIds.length).toFixed(2)} GETs and ` +
    `${fmt(counting.stats.bytesRead / traceIds.length / 1024)} KiB per lookup (${traceIds.length} lookups)`,
);
rmSync(dir, { recursive: true, force: true });
