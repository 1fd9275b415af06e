/**
 * The store's three questions: how many spans per second one core turns into Parquet blocks, how many bytes
 * a stored span costs, and how long a trace lookup by id takes over 1,000 blocks (local directory and S3).
 * Each figure is printed beside a baseline measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { countSpans, encodeTraceRequest, traceDataToJson } from '../src/otlp/index.js';
import { BlockCatalog } from '../src/store/block-catalog.js';
import { BlockPipeline } from '../src/store/block-pipeline.js';
import { QueryEngine } from '../src/store/query-engine.js';
import { encodeBlock, flattenTraceData, uploadBlock, type ObjectStore } from '../src/storage/index.js';
import { CountingObjectStore } from '../src/storage/object-store.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { TestS3 } from '../test/helpers/s3rver.js';
import { makeTraces } from '../test/helpers/store-spans.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-store-'));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
console.log(
  `# store: node ${process.version}, ${availableParallelism()} cores (figures are one core: everything runs on the main thread)`,
);

// 1. Spans per second into Parquet (one core), beside JSON.stringify of the same spans.
const SPANS = 100_000;
const data = makeTraces({ traces: SPANS / 10 });
const rows = flattenTraceData(data);
encodeBlock(rows.slice(0, 2000)); // warm up
let t = performance.now();
const block = encodeBlock(rows);
const encodeMs = performance.now() - t;
t = performance.now();
const json = JSON.stringify(traceDataToJson(data));
const jsonMs = performance.now() - t;
console.log(`\n## spans/s into Parquet (${fmt(SPANS)} spans, one block)`);
console.log(
  `encodeBlock (sort, columns, GZIP Parquet, meta) ${fmt(SPANS / (encodeMs / 1000)).padStart(10)} spans/s`,
);
console.log(
  `baseline: OTLP JSON.stringify of the same spans  ${fmt(SPANS / (jsonMs / 1000)).padStart(10)} spans/s`,
);

// The whole ingest path: WAL append + fdatasync, block cut, encode, upload to a local directory.
const pipeStore = new LocalObjectStore(join(dir, 'pipeline'));
const pipeline = new BlockPipeline({
  store: pipeStore,
  walDir: join(dir, 'wal'),
  walMaxBytes: 1 << 30,
  maxBlockBytes: 64 << 20,
  maxBlockSpans: 50_000,
  maxBlockAgeMs: 3_600_000,
  retryInitialMs: 100,
  retryMaxMs: 1000,
  logger: silentLogger(),
  metrics: new Metrics(),
  tickMs: 0,
});
await pipeline.start();
const batches = Array.from({ length: 100 }, (_, i) => makeTraces({ traces: 100, seed: 1000 + i }));
t = performance.now();
await Promise.all(batches.map((b) => pipeline.consume({ data: b, spanCount: countSpans(b), bytes: 1 })));
await pipeline.forceFlush();
const pipeMs = performance.now() - t;
await pipeline.shutdown();
t = performance.now();
for (const b of batches) encodeTraceRequest(b);
const protoMs = performance.now() - t;
console.log(
  `store pipeline (WAL fsync + blocks + upload)     ${fmt(SPANS / (pipeMs / 1000)).padStart(10)} spans/s`,
);
console.log(
  `baseline: OTLP protobuf encode of the same spans ${fmt(SPANS / (protoMs / 1000)).padStart(10)} spans/s`,
);

// 2. Bytes per stored span.
const proto = encodeTraceRequest(data);
console.log(`\n## bytes per span`);
console.log(
  `Parquet block (GZIP)          ${(block.parquet.byteLength / SPANS).toFixed(1).padStart(7)} B/span  (meta ${(JSON.stringify(block.meta).length / SPANS).toFixed(2)} B/span)`,
);
console.log(`baseline: OTLP protobuf       ${(proto.byteLength / SPANS).toFixed(1).padStart(7)} B/span`);
console.log(
  `baseline: OTLP protobuf gzip  ${(gzipSync(proto).byteLength / SPANS).toFixed(1).padStart(7)} B/span`,
);
console.log(`baseline: OTLP JSON           ${(json.length / SPANS).toFixed(1).padStart(7)} B/span`);

// 3. Trace by id over 1,000 blocks.
const BLOCKS = 1000;
const s3 = new TestS3('bench');
await s3.start();
const s3Store = s3.objectStore('traces', 3);
const local = new LocalObjectStore(join(dir, 'blocks'));
const ids: string[] = [];
t = performance.now();
for (let b = 0; b < BLOCKS; b += 10) {
  const encoded = Array.from({ length: 10 }, (_, i) => {
    const d = makeTraces({ traces: 10, spansPerTrace: 10, seed: 5000 + b + i });
    ids.push(d.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId);
    return encodeBlock(flattenTraceData(d));
  });
  await Promise.all(encoded.flatMap((enc) => [uploadBlock(local, enc), uploadBlock(s3Store, enc)]));
}
console.log(
  `\n## trace by id over ${BLOCKS} blocks of 100 spans (written in ${fmt(performance.now() - t)} ms)`,
);
// The catalog is listed from the local copy (same keys and metas): s3rver 3.7 answers InternalError to
// any listing of more than 1,000 keys, which real S3 pages through.
const catalog = new BlockCatalog({
  store: local,
  logger: silentLogger(),
  metrics: new Metrics(),
  refreshIntervalMs: 1e12,
});
t = performance.now();
await catalog.refresh();
const listMs = performance.now() - t;
async function lookups(name: string, store: ObjectStore) {
  const counting = new CountingObjectStore(store);
  const engine = new QueryEngine({
    store: counting,
    catalog,
    logger: silentLogger(),
    metrics: new Metrics(),
  });
  const lat: number[] = [];
  const raw: number[] = [];
  const sample = ids.filter((_, i) => i % 5 === 0);
  for (const id of sample.slice(0, 20)) await engine.findTrace(id); // warm up
  counting.resetStats();
  for (const id of sample) {
    const s = performance.now();
    const spans = await engine.findTrace(id);
    lat.push(performance.now() - s);
    if (spans.length !== 10) throw new Error(`expected 10 spans, got ${spans.length}`);
  }
  const gets = counting.totalGets / sample.length;
  const blocks = await catalog.blocks();
  for (const meta of blocks.slice(0, 100)) {
    const s = performance.now();
    await store.get(meta.parquetKey);
    raw.push(performance.now() - s);
  }
  console.log(
    `${name.padEnd(6)} lookup p50 ${pct(lat, 0.5).toFixed(1)} ms, p99 ${pct(lat, 0.99).toFixed(1)} ms, ${gets.toFixed(2)} GETs/lookup` +
      ` | baseline: one raw GET of a block p50 ${pct(raw, 0.5).toFixed(1)} ms, p99 ${pct(raw, 0.99).toFixed(1)} ms`,
  );
}
console.log(
  `catalog load (list + ${BLOCKS} meta GETs, once per process, then refreshed incrementally): ${fmt(listMs)} ms`,
);
await lookups('local', local);
await lookups('s3rver', s3Store);
s3Store.destroy();
await s3.dispose();
rmSync(dir, { recursive: true, force: true });
