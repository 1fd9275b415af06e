import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { av, type KeyValue } from '../src/otlp/index.js';
import {
  blockMayHoldTrace,
  encodeBlock,
  flattenTraceData,
  parseBlockKey,
  readTraceFromBlock,
  toTraceData,
  type ObjectInfo,
  type ObjectStore,
  type StoredSpan,
} from '../src/storage/index.js';
import { BLOCK_COLUMNS } from '../src/storage/block-columns.js';
import { BloomFilter } from '../src/storage/bloom-filter.js';
import { CountingObjectStore } from '../src/storage/object-store.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { decodeAttributes, encodeAttributes } from '../src/storage/typed-json.js';
import { parseBlockMeta } from '../src/storage/block-meta.js';
import { readBlockBytes, SMALL_BLOCK_BYTES } from '../src/storage/block-reader.js';
import { writeBlock } from '../src/storage/block-writer.js';
import { makeTraces, randomTraceId } from './helpers/store-spans.js';

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-blocks-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function sortRows(rows: StoredSpan[]): StoredSpan[] {
  return [...rows].sort((a, b) =>
    a.span.traceId !== b.span.traceId
      ? a.span.traceId < b.span.traceId
        ? -1
        : 1
      : a.span.startTimeUnixNano !== b.span.startTimeUnixNano
        ? a.span.startTimeUnixNano < b.span.startTimeUnixNano
          ? -1
          : 1
        : a.span.spanId < b.span.spanId
          ? -1
          : 1,
  );
}

void describe('typed JSON attributes', () => {
  void test('every AnyValue kind survives encoding, with order and duplicate keys kept', () => {
    const attrs: KeyValue[] = [
      { key: 'z', value: av.string('last letter first') },
      { key: '1', value: av.int(-9223372036854775808n) },
      { key: 'i', value: av.int(9223372036854775807n) },
      { key: 'd', value: av.double(3) },
      { key: 'd2', value: av.double(1e21) },
      { key: 'd3', value: av.double(-0) },
      { key: 'nan', value: av.double(NaN) },
      { key: 'b', value: av.bool(false) },
      { key: 'bytes', value: av.bytes(new Uint8Array([1, 2, 3])) },
      { key: 'arr', value: av.array([av.int(1), av.array([av.kvlist([])]), av.empty()]) },
      { key: 'kv', value: av.kvlist([{ key: 'bytes', value: av.string('not a wrapper') }]) },
      { key: 'z', value: av.bool(true) },
    ];
    const text = encodeAttributes(attrs);
    assert.deepEqual(decodeAttributes(text), attrs);
    // Plain JSON for other engines: ints stay integers, doubles keep a fraction.
    const plain = JSON.parse(text) as Record<string, unknown>;
    assert.equal(plain.d, 3);
    assert.match(text, /"d":3\.0/);
    assert.match(text, /"i":9223372036854775807/);
  });
});

void describe('bloom filter (trace-id index)', () => {
  void test('never misses an added id and rarely claims an absent one', () => {
    const ids = Array.from({ length: 5000 }, randomTraceId);
    const bloom = BloomFilter.forCount(ids.length);
    for (const id of ids) bloom.add(id);
    const back = BloomFilter.fromJSON(bloom.toJSON());
    for (const id of ids) assert.ok(back.mayContain(id));
    let falsePositives = 0;
    for (let i = 0; i < 10_000; i++) if (back.mayContain(randomTraceId())) falsePositives++;
    assert.ok(falsePositives < 300, `false positives: ${falsePositives} of 10000`);
  });
});

void describe('blocks', () => {
  const data = makeTraces({ traces: 300, spansPerTrace: 7, exotic: true });
  const rows = flattenTraceData(data);

  void test('a block read back reproduces every span, resource and scope exactly', async () => {
    const block = encodeBlock(rows, { rowGroupSize: 400 });
    assert.ok(block.meta.rowGroups.length > 1);
    const back = await readBlockBytes(block.parquet, block.meta.parquetKey);
    assert.deepStrictEqual(back, sortRows(rows));
    // Regrouped as OTLP, the same spans nest under the same resources and scopes.
    const regrouped = flattenTraceData(toTraceData(back));
    assert.deepStrictEqual(sortRows(regrouped), sortRows(rows));
  });

  void test('the meta is written after the Parquet object, under the hour partition of the earliest span', async () => {
    const puts: string[] = [];
    const inner = new LocalObjectStore(join(tmp, 'order'));
    const recording: ObjectStore = {
      url: inner.url,
      get: (k) => inner.get(k),
      getRange: (k, s, e) => inner.getRange(k, s, e),
      list: (p): Promise<ObjectInfo[]> => inner.list(p),
      delete: (k) => inner.delete(k),
      head: (k) => inner.head(k),
      put: async (k, b) => {
        puts.push(k);
        await inner.put(k, b);
      },
    };
    const meta = await writeBlock(recording, [data]);
    assert.equal(puts.length, 2);
    assert.match(puts[0]!, /^blocks\/dt=2026-01-15\/hour=10\/[0-9a-z]+-[0-9a-f]{16}\.parquet$/);
    assert.equal(puts[1], puts[0]!.replace('.parquet', '.meta.json'));
    assert.equal(meta.spanCount, rows.length);
    assert.equal(meta.traceCount, 300);
    assert.deepEqual(meta.services, ['cart', 'checkout', 'frontend', 'payment', 'shipping']);
    assert.deepEqual(meta.variants, ['baseline', 'canary']);
    assert.deepEqual(parseBlockKey(meta.parquetKey)?.kind, 'parquet');
    const parsed = parseBlockMeta(puts[1]!, (await inner.get(puts[1]!))!);
    assert.deepEqual(parsed, meta);
  });

  void test('a trace lookup reads the footer and one row group, and nothing for an id the index rules out', async () => {
    const store = new CountingObjectStore(new LocalObjectStore(join(tmp, 'lookup')));
    const big = flattenTraceData(makeTraces({ traces: 3000, spansPerTrace: 10, seed: 8 }));
    const meta = await writeBlock(store, big);
    assert.ok(meta.parquetBytes > SMALL_BLOCK_BYTES);
    const wanted = big[12_345]!.span.traceId;
    store.resetStats();
    const found = await readTraceFromBlock(store, meta, wanted);
    assert.equal(found.length, 10);
    assert.ok(found.every((r) => r.span.traceId === wanted));
    assert.equal(store.stats.rangeGets, 2);
    assert.equal(store.stats.gets, 0);
    assert.ok(
      store.stats.bytesRead < meta.parquetBytes / 5,
      `read ${store.stats.bytesRead} of ${meta.parquetBytes}`,
    );
    store.resetStats();
    let absent = randomTraceId();
    while (blockMayHoldTrace(meta, absent)) absent = randomTraceId();
    assert.deepEqual(await readTraceFromBlock(store, meta, absent), []);
    assert.equal(store.totalGets, 0);
    // A small block is read whole, in one request.
    const some = rows.slice(0, 70);
    const small = await writeBlock(store, some);
    store.resetStats();
    const id = some[0]!.span.traceId;
    assert.equal(
      (await readTraceFromBlock(store, small, id)).length,
      some.filter((r) => r.span.traceId === id).length,
    );
    assert.equal(store.totalGets, 1);
  });

  void test('meta objects that are not Sentinel metas are refused with SENTINEL_ERR_BLOCK_INVALID', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    for (const body of ['not json', '{}', '{"format":"sentinel-block/v1"}', '[1,2]']) {
      assert.throws(() => parseBlockMeta('blocks/x.meta.json', enc(body)), {
        code: 'SENTINEL_ERR_BLOCK_INVALID',
      });
    }
  });

  void test("an independent reader (hyparquet, not Sentinel's reader) sees the documented columns and types", async () => {
    const block = encodeBlock(rows);
    const file = join(tmp, 'independent.parquet');
    writeFileSync(file, block.parquet);
    const bytes = readFileSync(file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const meta = parquetMetadata(buffer);
    const leaves = meta.schema.slice(1).filter((el) => el.num_children === undefined);
    const byName = new Map(leaves.map((el) => [el.name, el]));
    for (const name of BLOCK_COLUMNS)
      assert.ok(
        meta.schema.some((el) => el.name === name),
        `column ${name} is in the file`,
      );
    assert.equal(byName.get('Timestamp')?.type, 'INT64');
    assert.equal(byName.get('Duration')?.type, 'INT64');
    assert.equal(byName.get('SampleWeight')?.type, 'DOUBLE');
    assert.equal(byName.get('TraceId')?.type, 'BYTE_ARRAY');
    assert.equal(byName.get('SpanAttributes')?.type, 'BYTE_ARRAY');
    const ts = byName.get('Timestamp');
    assert.ok(
      ts?.logical_type?.type === 'TIMESTAMP' && ts.logical_type.unit === 'NANOS',
      'Timestamp is TIMESTAMP(NANOS)',
    );
    const objects = (await parquetReadObjects({
      file: buffer,
      columns: ['ServiceName', 'SpanId', 'SampleWeight', 'SpanAttributes', 'Timestamp', 'Duration'],
      compressors: { GZIP: (input: Uint8Array) => gunzipSync(input) },
      // hyparquet turns TIMESTAMP(NANOS) into milliseconds unless told to keep the nanoseconds.
      parsers: { timestampFromNanoseconds: (n: bigint) => n },
    })) as Array<Record<string, unknown>>;
    assert.equal(objects.length, rows.length);
    assert.equal(new Set(objects.map((o) => o['ServiceName'])).size, 5);
    const gets = rows.filter((r) => r.span.name.startsWith('GET')).length;
    const getsRead = objects.filter((o) => {
      const attrs = JSON.parse(String(o['SpanAttributes'])) as Record<string, unknown>;
      return JSON.stringify(attrs['http.request.method'] ?? '').includes('GET');
    }).length;
    assert.equal(getsRead, gets);
    // Every exotic span carries sampling.weight = 4.
    assert.equal(
      objects.reduce((n, o) => n + Number(o['SampleWeight']), 0),
      rows.length * 4,
    );
    const first = objects.find((o) => o['SpanId'] === rows[0]!.span.spanId)!;
    assert.equal(BigInt(first['Timestamp'] as bigint), rows[0]!.span.startTimeUnixNano);
    assert.equal(
      BigInt(first['Duration'] as bigint),
      rows[0]!.span.endTimeUnixNano - rows[0]!.span.startTimeUnixNano,
    );
  });
});
