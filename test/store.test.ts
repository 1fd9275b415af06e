import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock, ScaledClock } from '../src/clock.js';
import { storeConfigSchema, validateConfig } from '../src/config/index.js';
import { decodeTraceRequestJson, encodeTraceRequest } from '../src/otlp/index.js';
import {
  BlockEncoder,
  blockMayHoldTrace,
  encodeBlock,
  flattenTraceData,
  uploadBlock,
  type BlockMeta,
  type ObjectStore,
} from '../src/storage/index.js';
import { CountingObjectStore } from '../src/storage/object-store.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { writeBlock } from '../src/storage/block-writer.js';
import { BlockCatalog } from '../src/store/block-catalog.js';
import { Compactor } from '../src/store/compactor.js';
import { QueryEngine } from '../src/store/query-engine.js';
import { WriteAheadLog } from '../src/store/write-ahead-log.js';
import { compactionLeadership, startStore } from '../src/store/store.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { capturingLogger, consume, startTestStore, testStoreConfig } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-store-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(tmp, String(n++));

void describe('write-ahead log', () => {
  const decode = (p: Uint8Array) => ({ item: Buffer.from(p).toString(), spans: 1 });

  void test('an append is on disk when it resolves, and a reopened log replays it', async () => {
    const dir = freshDir();
    const { wal } = await WriteAheadLog.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), decode });
    await Promise.all(['a', 'b', 'c'].map((s) => wal.append(Buffer.from(s), s, 1)));
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.wal'));
    assert.equal(onDisk.length, 1);
    assert.equal(readFileSync(join(dir, onDisk[0]!)).length, 3 * 9);
    // No close: as after a crash.
    const again = await WriteAheadLog.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), decode });
    assert.equal(again.replayed.length, 1);
    assert.deepEqual(again.replayed[0]!.items, ['a', 'b', 'c']);
    assert.equal(again.wal.id, wal.id);
    await again.wal.close();
  });

  void test('replay stops at a torn tail or a record that fails its checksum, keeping the records before it', async () => {
    const dir = freshDir();
    const { wal } = await WriteAheadLog.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), decode });
    await wal.append(Buffer.from('good'), 'good', 1);
    await wal.append(Buffer.from('also'), 'also', 1);
    await wal.close();
    const file = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.wal'))!,
    );
    appendFileSync(file, Buffer.from([9, 0, 0, 0, 1, 2])); // a torn header
    let corrupt = 0;
    const r1 = await WriteAheadLog.open({ dir, maxBytes: 1 << 20, logger: silentLogger(), decode });
    assert.deepEqual(r1.replayed[0]!.items, ['good', 'also']);
    await r1.wal.close();
    const bytes = readFileSync(file);
    bytes[8 + 4 + 8] = 0x58; // flip a byte of the second payload
    writeFileSync(file, bytes);
    const r2 = await WriteAheadLog.open({
      dir,
      maxBytes: 1 << 20,
      logger: silentLogger(),
      decode,
      onCorrupt: () => corrupt++,
    });
    assert.deepEqual(r2.replayed[0]!.items, ['good']);
    assert.equal(corrupt, 1);
    await r2.wal.close();
  });

  void test('appends beyond the bound are refused with SENTINEL_ERR_WAL_FULL until a segment is removed', async () => {
    const dir = freshDir();
    const { wal } = await WriteAheadLog.open({ dir, maxBytes: 100, logger: silentLogger(), decode });
    await wal.append(Buffer.alloc(80), 'x', 1);
    await assert.rejects(wal.append(Buffer.alloc(20), 'y', 1), { code: 'SENTINEL_ERR_WAL_FULL' });
    const sealed = await wal.rotate();
    assert.ok(sealed);
    await wal.remove(sealed);
    await wal.append(Buffer.alloc(20), 'y', 1);
    await wal.close();
  });
});

void describe('store pipeline', () => {
  void test('a block is cut at max_spans, uploaded, and its WAL segment deleted afterwards', async () => {
    const h = await startTestStore({ overrides: { block: { max_spans: 50, max_age: '1h' } } });
    try {
      await consume(h.store, makeTraces({ traces: 6, spansPerTrace: 10, seed: 1 }));
      await h.store.pipeline.forceFlush();
      const blocks = await h.store.catalog.blocks({ fresh: true });
      assert.equal(
        blocks.reduce((s, b) => s + b.spanCount, 0),
        60,
      );
      assert.equal(readdirSync(join(h.dir, 'wal')).filter((f) => f.endsWith('.wal')).length <= 1, true);
      assert.equal(await h.metrics.value('store_spans_written_total'), 60);
    } finally {
      await h.dispose();
    }
  });

  void test('blocks are encoded on the worker thread from the sealed WAL segment, with no fallback', async () => {
    const { logger, lines } = capturingLogger();
    const h = await startTestStore({ logger, overrides: { block: { max_age: '1h' } } });
    try {
      await consume(h.store, makeTraces({ traces: 30, seed: 31 }));
      await h.store.pipeline.forceFlush();
      assert.equal(await h.metrics.value('store_spans_written_total'), 300);
      const warnings = lines.filter((l) => Number(l.level) >= 40).map((l) => String(l.msg));
      assert.deepEqual(warnings, []);
    } finally {
      await h.dispose();
    }
  });

  void test('a block is cut when the oldest span in it reaches max_age (injected clock)', async () => {
    const clock = new ManualClock(1_000_000);
    const h = await startTestStore({ overrides: { block: { max_age: '30s' } }, clock });
    try {
      await consume(h.store, makeTraces({ traces: 2, seed: 3 }));
      assert.equal(h.store.pipeline.pendingSpans(), 20);
      clock.advance(29_000);
      h.store.pipeline.checkAge();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.store.pipeline.pendingSpans(), 20);
      clock.advance(2_000);
      h.store.pipeline.checkAge();
      for (let i = 0; i < 1000 && h.store.pipeline.pendingSpans() > 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(h.store.pipeline.pendingSpans(), 0);
    } finally {
      await h.dispose();
    }
  });

  void test('a segment replayed after its block was uploaded rewrites the same block, not a copy', async () => {
    const dir = freshDir();
    const overrides = { block: { max_age: '1h' } };
    const first = await startTestStore({ dir, overrides });
    await consume(first.store, makeTraces({ traces: 5, seed: 21 }));
    const wal = join(dir, 'wal');
    const segment = readdirSync(wal).find((f) => f.endsWith('.wal'))!;
    const saved = readFileSync(join(wal, segment));
    await first.store.pipeline.forceFlush();
    await first.dispose();
    // As if the process died after uploading the block and before deleting the segment.
    writeFileSync(join(wal, segment), saved);
    const second = await startTestStore({ dir, overrides });
    try {
      await second.store.pipeline.forceFlush();
      const objects = await second.objects.list('blocks/');
      assert.equal(objects.length, 2, objects.map((o) => o.key).join(', '));
      assert.equal((await second.store.catalog.blocks({ fresh: true }))[0]!.spanCount, 50);
      assert.equal(readdirSync(wal).filter((f) => f.endsWith('.wal') && f === segment).length, 0);
    } finally {
      await second.dispose();
    }
  });

  void test('abort() ends a storage backoff at once instead of waiting it out (it waited up to max_interval)', async () => {
    const dir = freshDir();
    const failing = new LocalObjectStore(join(dir, 'data'));
    failing.put = () => Promise.reject(new Error('S3 is down'));
    // A clock that never moves, so a backoff never ends by itself: only abort() can end it.
    const h = await startTestStore({
      dir,
      objectStore: failing,
      clock: new ManualClock(Date.now()),
      overrides: { block: { max_age: '1h' } },
    });
    await consume(h.store, makeTraces({ traces: 3, seed: 41 }));
    void h.store.pipeline.forceFlush();
    while ((await h.metrics.value('store_upload_retries_total')) < 1)
      await new Promise((r) => setTimeout(r, 10));
    const aborted = await Promise.race([
      h.store.abort().then(() => 'aborted'),
      new Promise((r) => setTimeout(() => r('still waiting after 20 s'), 20_000).unref()),
    ]);
    assert.equal(aborted, 'aborted');
    // The WAL keeps the spans for the next start.
    assert.equal(readdirSync(join(dir, 'wal')).filter((f) => f.endsWith('.wal')).length >= 1, true);
  });

  void test('spans not yet in a block are already served by trace id', async () => {
    const h = await startTestStore({ overrides: { block: { max_age: '1h' } } });
    try {
      const data = makeTraces({ traces: 3, seed: 4 });
      await consume(h.store, data);
      const id = data.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
      const res = await h.query(`/api/traces/${id}`);
      assert.equal(res.status, 200);
      const back = decodeTraceRequestJson(
        JSON.stringify({ resourceSpans: (res.body as { batches: unknown[] }).batches }),
      );
      assert.equal(flattenTraceData(back).length, 10);
    } finally {
      await h.dispose();
    }
  });
});

void describe('store config and backpressure', () => {
  void test('an empty config gives the contract defaults', () => {
    const c = validateConfig(storeConfigSchema(), {}, 'test');
    assert.equal(c.receivers.otlp.grpc.endpoint, '0.0.0.0:4317');
    assert.equal(c.receivers.otlp.http.endpoint, '0.0.0.0:4318');
    assert.equal(c.receivers.otlp.max_request_bytes, 16 * 1024 * 1024);
    assert.equal(c.admin.endpoint, '0.0.0.0:8888');
    assert.equal(c.storage.url, 'file://./data');
    assert.deepEqual(c.storage.s3, { endpoint: '', region: 'us-east-1', force_path_style: false });
    assert.equal(c.wal_dir, './wal');
    assert.deepEqual(
      [c.block.max_bytes, c.block.max_spans, c.block.max_age],
      [64 * 1024 * 1024, 1_000_000, 60_000],
    );
    assert.deepEqual([c.compaction.enabled, c.compaction.interval], [true, 300_000]);
    assert.equal(c.retention, 336 * 3_600_000);
    assert.equal(c.query.endpoint, '0.0.0.0:3200');
    assert.deepEqual(c.tls, { cert_file: '', key_file: '', client_ca_file: '' });
    assert.deepEqual(c.auth, {
      required: false,
      token_files: [],
      reader_token_files: [],
      token_review: { enabled: false, audience: 'sentinel', cache_ttl: 60_000, kubeconfig: '' },
    });
    assert.deepEqual(c.policy, { file: '' });
  });

  void test('a bad key is named with what was expected', () => {
    assert.throws(
      () => validateConfig(storeConfigSchema(), { block: { max_age: 'soon' } }, 'test'),
      /block\.max_age/,
    );
    assert.throws(() => validateConfig(storeConfigSchema(), { wal: {} }, 'test'), /wal: unknown key/);
  });

  void test('a full WAL refuses new batches with a retryable status until uploads make room', async () => {
    const gate = { open: false };
    const inner = new LocalObjectStore(freshDir());
    const blocking: ObjectStore = {
      url: inner.url,
      get: (k) => inner.get(k),
      getRange: (k, a, b) => inner.getRange(k, a, b),
      list: (p) => inner.list(p),
      delete: (k) => inner.delete(k),
      head: (k) => inner.head(k),
      put: async (k, b) => {
        if (!gate.open) throw new Error('S3 is away');
        await inner.put(k, b);
      },
    };
    const h = await startTestStore({
      objectStore: blocking,
      // Upload backoff 200 times faster: 1 s..30 s in 5..150 ms (max_age 1 h is 18 s, past the test).
      clock: new ScaledClock(200),
      overrides: { wal_max_bytes: 20_000, block: { max_age: '1h' } },
    });
    try {
      const post = (seed: number) =>
        fetch(`http://127.0.0.1:${h.store.ports.http}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body: encodeTraceRequest(makeTraces({ traces: 5, seed })),
        });
      let res = await post(100);
      let seed = 101;
      while (res.status === 200 && seed < 200) res = await post(seed++);
      // A full WAL is backpressure, like a full memory budget: 429 with Retry-After (RESOURCE_EXHAUSTED on gRPC).
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.ok((await h.metrics.value('store_wal_full_refusals_total')) > 0);
      gate.open = true;
      await h.store.pipeline.forceFlush();
      assert.equal((await post(500)).status, 200);
    } finally {
      await h.dispose();
    }
  });
});

void describe('reading blocks', () => {
  void test('a lookup over 1,000 blocks reads only the blocks whose index may hold the id', async () => {
    const objects = new CountingObjectStore(new LocalObjectStore(freshDir()));
    const ids: string[] = [];
    const metas: BlockMeta[] = [];
    for (let b = 0; b < 1000; b++) {
      const data = makeTraces({ traces: 2, spansPerTrace: 2, seed: 1000 + b });
      ids.push(data.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId);
      metas.push(await uploadBlock(objects, encodeBlock(flattenTraceData(data))));
    }
    const catalog = new BlockCatalog({
      store: objects,
      logger: silentLogger(),
      metrics: new Metrics(),
      refreshIntervalMs: 1e9,
    });
    await catalog.refresh();
    assert.equal((await catalog.blocks()).length, 1000);
    const engine = new QueryEngine({
      store: objects,
      catalog,
      logger: silentLogger(),
      metrics: new Metrics(),
    });
    for (const id of [ids[0]!, ids[500]!, ids[999]!, '0123456789abcdef'.repeat(2)]) {
      objects.resetStats();
      const spans = await engine.findTrace(id);
      const candidates = metas.filter((m) => blockMayHoldTrace(m, id)).length;
      // One GET per candidate block (small blocks are read whole); nothing for the others.
      assert.equal(objects.totalGets, candidates);
      assert.ok(candidates <= 6, `blocks opened: ${candidates}`);
      assert.equal(objects.stats.lists, 0);
      if (id !== ids[0] && id !== ids[500] && id !== ids[999]) assert.equal(spans.length, 0);
      else assert.equal(spans.length, 2);
    }
  });

  void test('malformed or foreign objects under the prefix are skipped with a log line, never a crash', async () => {
    const { logger, lines } = capturingLogger();
    const dir = freshDir();
    const objects = new LocalObjectStore(dir);
    const data = makeTraces({ traces: 5, seed: 7 });
    const good = await writeBlock(objects, [data]);
    const id = data.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
    const enc = (s: string) => new TextEncoder().encode(s);
    await objects.put('blocks/README.txt', enc('hello'));
    await objects.put('blocks/dt=2026-01-15/hour=10/foreign.csv', enc('a,b'));
    await objects.put('blocks/dt=2026-01-15/hour=10/bad1.meta.json', enc('{not json'));
    await objects.put('blocks/dt=2026-01-15/hour=10/bad2.meta.json', enc('{"format":"other"}'));
    await objects.put('blocks/dt=2026-01-15/hour=10/bad2.parquet', enc('PAR1garbagePAR1'));
    // A valid meta whose Parquet object is garbage, and that claims to hold every trace id.
    const liar = { ...good, blockId: 'liar', parquetKey: 'blocks/dt=2026-01-15/hour=10/liar.parquet' };
    liar.traceIdBloom = { bits: 8, hashes: 1, data: Buffer.from([255]).toString('base64') };
    liar.minTraceId = '0'.repeat(32);
    liar.maxTraceId = 'f'.repeat(32);
    await objects.put(liar.parquetKey, enc('PAR1 this is not parquet at all PAR1'));
    await objects.put('blocks/dt=2026-01-15/hour=10/liar.meta.json', enc(JSON.stringify(liar)));
    await objects.put('elsewhere/unrelated.bin', new Uint8Array([1, 2, 3]));

    const metrics = new Metrics();
    const catalog = new BlockCatalog({ store: objects, logger, metrics, refreshIntervalMs: 0 });
    const engine = new QueryEngine({ store: objects, catalog, logger, metrics });
    const spans = await engine.findTrace(id);
    assert.equal(spans.length, 10);
    const search = await engine.search({ startNs: 0n, endNs: 2n ** 62n, limit: 100 });
    assert.equal(search.traces.length, 5);
    const warned = lines.filter((l) => l.level === 40).map((l) => String(l.key));
    for (const key of ['README.txt', 'foreign.csv', 'bad1.meta.json', 'bad2.meta.json', 'liar.parquet']) {
      assert.ok(
        warned.some((k) => k.endsWith(key)),
        `a log line for ${key}: ${warned.join(', ')}`,
      );
    }
    assert.ok((await metrics.value('store_skipped_objects_total')) >= 5);
  });

  void test('spans written by several agents into several blocks come back once each', async () => {
    const objects = new LocalObjectStore(freshDir());
    const data = makeTraces({ traces: 4, seed: 9 });
    const rows = flattenTraceData(data);
    await writeBlock(objects, rows.slice(0, 25));
    await writeBlock(objects, rows.slice(15));
    await writeBlock(objects, rows); // a retried upload of everything
    const catalog = new BlockCatalog({
      store: objects,
      logger: silentLogger(),
      metrics: new Metrics(),
      refreshIntervalMs: 0,
    });
    const engine = new QueryEngine({
      store: objects,
      catalog,
      logger: silentLogger(),
      metrics: new Metrics(),
    });
    for (const id of new Set(rows.map((r) => r.span.traceId))) {
      const back = await engine.findTrace(id);
      assert.equal(back.length, 10);
      assert.equal(new Set(back.map((r) => r.span.spanId)).size, 10);
    }
  });
});

void describe('compaction and retention', () => {
  async function setup(now: number, encoder?: BlockEncoder) {
    const objects: ObjectStore = new LocalObjectStore(freshDir());
    const metrics = new Metrics();
    const catalog = new BlockCatalog({
      store: objects,
      logger: silentLogger(),
      metrics,
      refreshIntervalMs: 0,
    });
    const compactor = new Compactor({
      ...(encoder ? { encoder } : {}),
      store: objects,
      catalog,
      logger: silentLogger(),
      metrics,
      compaction: true,
      maxBlockSpans: 1000,
      minAgeMs: 60_000,
      retentionMs: 14 * 86_400_000,
      clock: new ManualClock(now),
    });
    return {
      objects,
      catalog,
      compactor,
      engine: new QueryEngine({ store: objects, catalog, logger: silentLogger(), metrics }),
    };
  }

  void test('small blocks of the same hour merge into one (on the encoder thread), every span readable once', async () => {
    const start = Date.UTC(2026, 0, 15, 10, 0, 0);
    const log = capturingLogger();
    const encoder = new BlockEncoder({ logger: log.logger, useWorker: true });
    after(() => encoder.close());
    const { objects, catalog, compactor, engine } = await setup(start + 3_600_000, encoder);
    const all = [];
    for (let i = 0; i < 5; i++) {
      const data = makeTraces({ traces: 10, seed: 50 + i, startMs: start + i * 1000 });
      all.push(...flattenTraceData(data));
      await writeBlock(objects, [data], { nowMs: start + i * 1000 });
    }
    // An agent retried one block: the same spans twice.
    await writeBlock(objects, all.slice(0, 10), { nowMs: start });
    const report = await compactor.runOnce();
    assert.equal(report.merged, 6);
    assert.equal(report.created, 1);
    const blocks = await catalog.blocks({ fresh: true });
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]!.spanCount, 500);
    assert.equal(blocks[0]!.compactionLevel, 1);
    assert.equal((await objects.list('blocks/')).length, 2);
    const id = all[123]!.span.traceId;
    assert.equal((await engine.findTrace(id)).length, 10);
    assert.deepEqual(
      log.lines.filter((l) => Number(l.level) >= 40).map((l) => l.msg),
      [],
    );
  });

  void test('a Parquet object whose meta never came is deleted once it is an hour old, not before', async () => {
    const now = Date.UTC(2026, 0, 15, 12, 0, 0);
    const { objects, compactor } = await setup(now);
    const meta = await writeBlock(objects, [makeTraces({ traces: 2, seed: 70 })]);
    const orphan = 'blocks/dt=2026-01-15/hour=10/orphan-1.parquet';
    await objects.put(orphan, new Uint8Array([1, 2, 3]));
    // The local directory dates it now (real time), far after `now`: too young to delete.
    assert.equal((await compactor.runOnce()).cleaned, 0);
    const later = await setup(Date.now() + 2 * 3_600_000);
    const moved = later.objects;
    await moved.put(orphan, new Uint8Array([1, 2, 3]));
    await writeBlock(moved, [makeTraces({ traces: 2, seed: 71 })], { nowMs: Date.now() + 2 * 3_600_000 });
    const report = await later.compactor.runOnce();
    assert.equal(report.cleaned, 1);
    assert.equal(await moved.head(orphan), undefined);
    assert.ok(await objects.head(meta.parquetKey));
  });

  void test('blocks whose newest span is older than retention are deleted, meta first', async () => {
    const old = Date.UTC(2026, 0, 1, 0, 0, 0);
    const now = old + 15 * 86_400_000;
    const { objects, catalog, compactor } = await setup(now);
    await writeBlock(objects, [makeTraces({ traces: 2, seed: 60, startMs: old })], { nowMs: old });
    await writeBlock(objects, [makeTraces({ traces: 2, seed: 61, startMs: now - 3_600_000 })], {
      nowMs: now,
    });
    const report = await compactor.runOnce();
    assert.equal(report.expired, 1);
    const left = await catalog.blocks({ fresh: true });
    assert.equal(left.length, 1);
    assert.ok(BigInt(left[0]!.minStartUnixNano) > BigInt(old) * 1_000_000n);
  });

  /**
   * Starts a store whose storage holds three small blocks of one hour (mergeable) and one block past retention,
   * with `compaction.leader` and the given pod environment; returns what one compaction pass did.
   */
  async function passWithLeader(leader: string, env: Record<string, string>) {
    const dir = freshDir();
    const objects = new LocalObjectStore(join(dir, 'data'));
    const now = Date.now();
    const hourAgo = now - 3_600_000;
    for (let i = 0; i < 3; i++) {
      await writeBlock(objects, [makeTraces({ traces: 2, seed: 80 + i, startMs: hourAgo + i * 1000 })], {
        nowMs: hourAgo + i * 1000,
      });
    }
    const old = now - 20 * 86_400_000;
    await writeBlock(objects, [makeTraces({ traces: 2, seed: 90, startMs: old })], { nowMs: old });
    const { logger, lines } = capturingLogger();
    const store = await startStore(
      testStoreConfig(dir, { compaction: { enabled: true, interval: '0s', min_age: '1m', leader } }),
      { logger, metrics: new Metrics(), objectStore: objects, env },
    );
    try {
      const report = await store.compactor.runOnce();
      const blocks = await store.catalog.blocks({ fresh: true });
      const said = lines.filter((l) => String(l.msg).includes('compaction')).map((l) => String(l.msg));
      return { report, blocks: blocks.length, said };
    } finally {
      await store.abort();
    }
  }

  void test('a store whose pod is not compaction.leader neither merges blocks nor applies retention, and says so', async () => {
    const { report, blocks, said } = await passWithLeader('sentinel-store-0', {
      POD_NAME: 'sentinel-store-1',
      HOSTNAME: 'sentinel-store-0',
    });
    assert.deepEqual(report, { merged: 0, created: 0, expired: 0, cleaned: 0 });
    assert.equal(blocks, 4);
    assert.deepEqual(said, ['compaction and retention run in compaction.leader, not in this store']);
  });

  void test('the store whose pod is compaction.leader merges and applies retention (POD_NAME, else HOSTNAME)', async () => {
    for (const env of [{ POD_NAME: 'sentinel-store-0' }, { HOSTNAME: 'sentinel-store-0' }]) {
      const { report, blocks, said } = await passWithLeader('sentinel-store-0', env);
      assert.deepEqual([report.merged, report.created, report.expired], [3, 1, 1], JSON.stringify(env));
      assert.equal(blocks, 1);
      assert.deepEqual(said, ['this store runs compaction and retention', 'compaction pass']);
    }
  });

  void test('an empty compaction.leader compacts in every store; a leader with no pod name to compare compacts nowhere', () => {
    assert.deepEqual(compactionLeadership('', {}), { here: true, self: '' });
    assert.deepEqual(compactionLeadership('', { POD_NAME: 'a' }), { here: true, self: 'a' });
    assert.deepEqual(compactionLeadership('a', { POD_NAME: '', HOSTNAME: 'a' }), { here: true, self: 'a' });
    assert.deepEqual(compactionLeadership('a', {}), { here: false, self: '' });
    assert.equal(validateConfig(storeConfigSchema(), {}, 'test').compaction.leader, '');
  });
});
