import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3ObjectStore, openObjectStore, type ObjectStore } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { TestS3 } from './helpers/s3rver.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** The same behaviour is asked of every backend. */
function objectStoreSuite(name: string, open: () => Promise<ObjectStore>) {
  void describe(`object store contract: ${name}`, () => {
    let store: ObjectStore;
    before(async () => {
      store = await open();
    });

    void test('put then get returns the same bytes, and a missing key reads as undefined', async () => {
      await store.put('a/b/one.txt', bytes('hello world'));
      assert.equal(text(await store.get('a/b/one.txt')), 'hello world');
      assert.equal(await store.get('a/b/missing.txt'), undefined);
    });

    void test('getRange returns exactly the requested bytes', async () => {
      await store.put('range/r.bin', bytes('0123456789'));
      assert.equal(text(await store.getRange('range/r.bin', 2, 6)), '2345');
      assert.equal(text(await store.getRange('range/r.bin', 8, 10)), '89');
    });

    void test('put replaces an object whole', async () => {
      await store.put('over/x', bytes('first version, long'));
      await store.put('over/x', bytes('second'));
      assert.equal(text(await store.get('over/x')), 'second');
    });

    void test('list returns every key under a prefix in key order, with sizes', async () => {
      await store.put('list/dt=2024-01-02/hour=03/b.parquet', bytes('bb'));
      await store.put('list/dt=2024-01-02/hour=03/a.parquet', bytes('a'));
      await store.put('list/dt=2024-01-02/hour=04/c.parquet', bytes('ccc'));
      await store.put('listing-other/z', bytes('z'));
      const all = await store.list('list/');
      assert.deepEqual(
        all.map((o) => [o.key, o.size]),
        [
          ['list/dt=2024-01-02/hour=03/a.parquet', 1],
          ['list/dt=2024-01-02/hour=03/b.parquet', 2],
          ['list/dt=2024-01-02/hour=04/c.parquet', 3],
        ],
      );
      const hour = await store.list('list/dt=2024-01-02/hour=03/');
      assert.equal(hour.length, 2);
      const partial = await store.list('list/dt=2024-01-02/hour=0');
      assert.equal(partial.length, 3);
      assert.deepEqual(await store.list('nothing-here/'), []);
    });

    void test('head describes an object, and is undefined for a missing one', async () => {
      await store.put('head/h', bytes('12345'));
      const info = await store.head('head/h');
      assert.equal(info?.size, 5);
      assert.ok(info?.lastModified instanceof Date);
      assert.equal(await store.head('head/missing'), undefined);
    });

    void test('delete removes an object, and deleting a missing one is not an error', async () => {
      await store.put('del/d', bytes('x'));
      await store.delete('del/d');
      assert.equal(await store.get('del/d'), undefined);
      await store.delete('del/d');
    });

    void test('keys that could escape the root are refused', async () => {
      await assert.rejects(store.put('../escape', bytes('x')), TypeError);
      await assert.rejects(store.get('/abs'), TypeError);
    });
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-storage-'));
const s3 = new TestS3();
after(async () => {
  await s3.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

objectStoreSuite('local directory', async () => new LocalObjectStore(join(tmp, 'local')));
objectStoreSuite('S3 (s3rver)', async () => {
  await s3.start();
  return s3.objectStore('prefix/one');
});

void describe('local directory specifics', () => {
  void test('half-written temporary files never show in a listing', async () => {
    const root = join(tmp, 'temps');
    const store = new LocalObjectStore(root);
    await store.put('x/ok', bytes('ok'));
    mkdirSync(join(root, 'x'), { recursive: true });
    writeFileSync(join(root, 'x', 'ok.sentinel-tmp-abc'), 'partial');
    assert.deepEqual(
      (await store.list('x/')).map((o) => o.key),
      ['x/ok'],
    );
  });
});

void describe('openObjectStore', () => {
  void test('file:// URLs open a local directory, absolute or relative', () => {
    const abs = openObjectStore(`file://${tmp}/abs`);
    assert.ok(abs instanceof LocalObjectStore);
    assert.equal(abs.root, `${tmp}/abs`);
    const rel = openObjectStore('file://./data');
    assert.ok(rel instanceof LocalObjectStore);
    assert.equal(rel.root, join(process.cwd(), 'data'));
  });

  void test('s3:// URLs open a bucket and prefix', () => {
    const store = openObjectStore('s3://bucket/some/prefix', { region: 'eu-west-1' });
    assert.ok(store instanceof S3ObjectStore);
    assert.equal(store.url, 's3://bucket/some/prefix');
    store.destroy();
  });

  void test('other URLs are refused with what was expected', () => {
    assert.throws(
      () => openObjectStore('http://x/y'),
      /expected "s3:\/\/bucket\/prefix" or "file:\/\/\/path"/,
    );
    assert.throws(() => openObjectStore('s3://'), /expected "s3:\/\/bucket\/prefix"/);
  });
});
