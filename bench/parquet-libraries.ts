/**
 * Which Parquet library writes (and reads back) Sentinel's blocks: hyparquet-writer (pure JS) or
 * @duckdb/node-api (native)? Writes the same 100,000 span rows with each and prints time and bytes,
 * beside a baseline from the same run: JSON.stringify of the same rows (and its gzip).
 * Then reads one trace back: hyparquet with row-group pruning versus a DuckDB query of the local file.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  encodeBlock,
  flattenTraceData,
  readTraceFromBlock,
  uploadBlock,
  type BlockCodec,
} from '../src/storage/index.js';
import { CountingObjectStore } from '../src/storage/object-store.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { toColumnData } from '../src/storage/block-columns.js';
import { makeTraces } from '../test/helpers/store-spans.js';

const SPANS = 100_000;
const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-parquet-'));
const rows = flattenTraceData(makeTraces({ traces: SPANS / 10, spansPerTrace: 10 }));
const mib = (n: number) => (n / 1024 / 1024).toFixed(2) + ' MiB';
const ms = (n: number) => n.toFixed(0) + ' ms';

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}
async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

console.log(`# parquet libraries: ${SPANS} spans, ${availableParallelism()} cores, node ${process.version}`);

// Baseline: JSON.stringify of the same column cells, one object per row.
const [cells, cellsMs] = time(() => toColumnData([...rows]));
console.log(
  `cell encoding (typed JSON attributes, shared by both writers; excluded from DuckDB's time) ${ms(cellsMs)}`,
);
const [json, jsonMs] = time(() => {
  const out: string[] = [];
  for (let i = 0; i < rows.length; i++) {
    const o: Record<string, unknown> = {};
    for (const c of cells) o[c.name] = typeof c.data[i] === 'bigint' ? String(c.data[i]) : c.data[i];
    out.push(JSON.stringify(o));
  }
  return out.join('\n');
});
const [jsonGz, jsonGzMs] = time(() => gzipSync(json));
console.log(`baseline JSON.stringify         ${ms(jsonMs).padStart(8)}  ${mib(json.length).padStart(10)}`);
console.log(
  `baseline JSON + gzip            ${ms(jsonMs + jsonGzMs).padStart(8)}  ${mib(jsonGz.length).padStart(10)}`,
);

const results: Record<string, { ms: number; bytes: number }> = {};
for (const codec of ['SNAPPY', 'GZIP'] as BlockCodec[]) {
  encodeBlock(rows.slice(0, 1000), { codec }); // warm up
  const [block, t] = time(() => encodeBlock(rows, { codec }));
  results[`hyparquet-writer ${codec}`] = { ms: t, bytes: block.parquet.byteLength };
}

// DuckDB: Appender into a table, then COPY to Parquet (the probe in the issue did the same). DuckDB is not a
// dependency: this registry carries only its linux-x64 binding, so `npm ci` cannot lock it. Install it by hand
// (`npm install --no-save @duckdb/node-api`) to run this part; the recorded figures are in BENCHMARKS.md.
const DUCKDB = '@duckdb/node-api';
/* eslint-disable @typescript-eslint/no-explicit-any -- an optional module with no types installed */
const duck: any = await import(DUCKDB).catch(() => undefined);
const instance: any = duck ? await duck.DuckDBInstance.create(':memory:') : undefined;
const conn: any = instance ? await instance.connect() : undefined;
/* eslint-enable @typescript-eslint/no-explicit-any */
if (!conn) console.log('duckdb: not installed, skipped (see the comment above)');
const kinds = cells.map((c) => {
  const v = c.data[0];
  if (c.name === 'Timestamp') return 'TIMESTAMP_NS';
  return typeof v === 'bigint' ? 'BIGINT' : typeof v === 'number' ? 'DOUBLE' : 'VARCHAR';
});
for (const codec of conn ? ['zstd', 'snappy', 'zstd'] : []) {
  await conn.run('DROP TABLE IF EXISTS spans');
  await conn.run(`CREATE TABLE spans (${cells.map((c, i) => `"${c.name}" ${kinds[i]}`).join(', ')})`);
  const file = join(dir, `duckdb-${codec}.parquet`);
  const [, t] = await timeAsync(async () => {
    const appender = await conn.createAppender('spans');
    for (let i = 0; i < rows.length; i++) {
      for (let c = 0; c < cells.length; c++) {
        const v = cells[c]!.data[i];
        const k = kinds[c];
        if (k === 'TIMESTAMP_NS')
          appender.appendTimestampNanoseconds(new duck.DuckDBTimestampNanosecondsValue(v as bigint));
        else if (k === 'BIGINT') appender.appendBigInt(v as bigint);
        else if (k === 'DOUBLE') appender.appendDouble(v as number);
        else appender.appendVarchar(v as string);
      }
      appender.endRow();
    }
    appender.closeSync();
    await conn.run(
      `COPY (SELECT * FROM spans ORDER BY "TraceId", "Timestamp") TO '${file}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 10000)`,
    );
  });
  results[`duckdb ${codec}`] = { ms: t, bytes: statSync(file).size };
}
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(30)} ${ms(r.ms).padStart(8)}  ${mib(r.bytes).padStart(10)}  (${(json.length / r.bytes).toFixed(1)}x smaller than JSON, ${(r.ms / jsonMs).toFixed(1)}x JSON's time)`,
  );
}

// Read one trace back. hyparquet: index + one row group by range reads; DuckDB: a query of the local file.
const store = new CountingObjectStore(new LocalObjectStore(join(dir, 'store')));
const meta = await uploadBlock(store, encodeBlock(rows, { codec: 'GZIP' }));
const wanted = rows[Math.floor(rows.length / 2)]!.span.traceId;
store.resetStats();
const [found, readMs] = await timeAsync(() => readTraceFromBlock(store, meta, wanted));
console.log(
  `read 1 trace, hyparquet        ${ms(readMs).padStart(8)}  ${found.length} spans, ${store.totalGets} GETs, ${mib(store.stats.bytesRead)} read`,
);
if (conn) {
  const duckFile = join(dir, 'duckdb-zstd.parquet');
  const [duckRows, duckMs] = await timeAsync(async () => {
    const r = await conn.runAndReadAll(
      `SELECT * FROM read_parquet('${duckFile}') WHERE "TraceId" = '${wanted}'`,
    );
    return r.getRows();
  });
  console.log(
    `read 1 trace, duckdb (local)   ${ms(duckMs).padStart(8)}  ${duckRows.length} spans, whole file on local disk`,
  );
  const [, fullMs] = time(() => readFileSync(duckFile));
  console.log(`baseline: readFileSync of the block ${ms(fullMs)}`);
  conn.closeSync();
}
instance?.closeSync();
rmSync(dir, { recursive: true, force: true });
