/**
 * Which blocks a reader sees (issue 17): one `listVisibleBlocks` in src/storage, used by the store's block
 * catalog and by `sentinel compare --storage`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { listBlockMetas, listVisibleBlocks, visibleBlocks } from '../src/storage/block-listing.js';
import { metaKeyFor } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { writeBlock } from '../src/storage/block-writer.js';
import { makeTraces } from './helpers/store-spans.js';

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-listing-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

void describe('listVisibleBlocks', () => {
  void test('hides blocks a compacted block replaces, blocks without Parquet, and reports what it skips', async () => {
    const store = new LocalObjectStore(join(tmp, 'a'));
    const a = await writeBlock(store, [makeTraces({ traces: 3, seed: 1 })]);
    const b = await writeBlock(store, [makeTraces({ traces: 3, seed: 2 })]);
    const c = await writeBlock(store, [makeTraces({ traces: 6, seed: 3 })], {
      replaces: [a.blockId, b.blockId],
    });
    const d = await writeBlock(store, [makeTraces({ traces: 2, seed: 4 })]);
    // A meta whose Parquet object is gone is not a block; a stray file and a bad meta are skipped and reported.
    const orphan = await writeBlock(store, [makeTraces({ traces: 1, seed: 5 })]);
    await store.delete(orphan.parquetKey);
    const badMeta = metaKeyFor(d.parquetKey.replace(/[0-9a-f]{16}\.parquet$/, '0123456789abcdef.parquet'));
    await store.put(badMeta, new TextEncoder().encode('{"not":"a meta"}'));
    await store.put('blocks/notes.txt', new TextEncoder().encode('hello'));

    const skipped: string[] = [];
    const visible = await listVisibleBlocks(store, {
      onSkip: (o, reason) => skipped.push(`${reason} ${o.key}`),
    });
    assert.deepEqual(visible.map((m) => m.blockId).sort(), [c.blockId, d.blockId].sort());
    assert.deepEqual(skipped.sort(), [`foreign_object blocks/notes.txt`, `invalid_meta ${badMeta}`].sort());

    const all = await listBlockMetas(store);
    assert.deepEqual(
      [...all.values()].map((m) => m.blockId).sort(),
      [a.blockId, b.blockId, c.blockId, d.blockId].sort(),
    );
    assert.deepEqual(
      visibleBlocks(all.values())
        .map((m) => m.blockId)
        .sort(),
      visible.map((m) => m.blockId).sort(),
    );
  });

  void test('known metas are not fetched again; skipped objects are not fetched', async () => {
    const store = new LocalObjectStore(join(tmp, 'b'));
    const a = await writeBlock(store, [makeTraces({ traces: 2, seed: 6 })]);
    const b = await writeBlock(store, [makeTraces({ traces: 2, seed: 7 })]);
    const fetched: string[] = [];
    const counting = Object.assign(Object.create(store) as LocalObjectStore, {
      get: (key: string) => {
        fetched.push(key);
        return store.get(key);
      },
    });
    const known = new Map([[metaKeyFor(a.parquetKey), a]]);
    const metas = await listBlockMetas(counting, {
      known,
      isSkipped: (o) => o.key === metaKeyFor(b.parquetKey),
    });
    assert.deepEqual([...metas.values()], [a]);
    assert.deepEqual(fetched, []);
  });
});
