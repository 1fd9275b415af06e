/**
 * The trace buffer's id table (src/sampling/id-table.ts, issue 13): trace ids as four words per row in an
 * open-addressing table. Every id must find its own row and no other, through growth, deletions from the middle
 * of a probe run and rows reused; ids that are not 32 lower-case hex digits too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdTable } from '../src/sampling/id-table.js';
import { NONE } from '../src/sampling/rows.js';

const hexId = (n: number, word = 3): string => {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(n >>> 0, word * 4);
  return b.toString('hex');
};

test('ids that differ in one word only each find their own row, and read back as they came', () => {
  for (const word of [0, 1, 2, 3]) {
    const t = new IdTable();
    for (let n = 0; n < 1000; n++) t.add(hexId(n, word), n);
    assert.equal(t.size, 1000);
    for (let n = 0; n < 1000; n++) {
      assert.equal(t.find(hexId(n, word)), n);
      assert.equal(t.idOf(n), hexId(n, word));
    }
    assert.equal(t.find(hexId(1000, word)), NONE);
  }
});

test('a deleted id is not found, its id reads back until forgotten, the others stay found', () => {
  const t = new IdTable();
  for (let n = 0; n < 200; n++) t.add(hexId(n * 7919), n);
  for (let n = 0; n < 200; n += 3) {
    t.delete(n);
    assert.equal(t.idOf(n), hexId(n * 7919), 'readable after delete');
    t.forget(n);
  }
  for (let n = 0; n < 200; n++) assert.equal(t.find(hexId(n * 7919)), n % 3 === 0 ? NONE : n, `id ${n}`);
  assert.equal(t.size, 200 - 67);
  // Rows come back under other ids.
  for (let n = 0; n < 200; n += 3) t.add(hexId(100_000 + n), n);
  for (let n = 0; n < 200; n++)
    assert.equal(t.find(n % 3 === 0 ? hexId(100_000 + n) : hexId(n * 7919)), n, `id ${n} after reuse`);
});

test('ids that are not 32 lower-case hex digits are kept as they are', () => {
  const t = new IdTable();
  const odd = ['t1', 'A'.repeat(32), 'g'.repeat(32), '', 'é'.repeat(32)];
  odd.forEach((id, row) => t.add(id, row));
  t.add('a'.repeat(32), 9);
  assert.equal(t.size, 6);
  odd.forEach((id, row) => {
    assert.equal(t.find(id), row);
    assert.equal(t.idOf(row), id);
  });
  assert.equal(t.find('a'.repeat(32)), 9, 'the lower-case one is its own id');
  t.delete(1);
  assert.equal(t.find('A'.repeat(32)), NONE);
  assert.equal(t.idOf(1), 'A'.repeat(32));
  t.forget(1);
  assert.equal(t.size, 5);
});

test('agrees with a Map over 20,000 random adds and deletes, in clustered runs too', () => {
  let s = 777;
  const random = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  const t = new IdTable();
  const model = new Map<string, number>();
  const rowsFree: number[] = [];
  let top = 0;
  for (let step = 0; step < 20_000; step++) {
    if (model.size === 0 || random(5) < 3) {
      // Few distinct ids, so that the same id leaves and comes back.
      const id = hexId(random(3000), random(4));
      if (model.has(id)) continue;
      const row = rowsFree.pop() ?? top++;
      t.add(id, row);
      model.set(id, row);
    } else {
      const ids = [...model.keys()];
      const id = ids[random(ids.length)]!;
      const row = model.get(id)!;
      t.delete(row);
      t.forget(row);
      model.delete(id);
      rowsFree.push(row);
    }
    if (step % 97 === 0 || step > 19_900)
      for (const [id, row] of model) assert.equal(t.find(id), row, `step ${step}`);
    assert.equal(t.size, model.size);
  }
  for (let n = 0; n < 3000; n++)
    for (let w = 0; w < 4; w++) assert.equal(t.find(hexId(n, w)), model.get(hexId(n, w)) ?? NONE);
});

test('an id half parsed before a bad digit does not leave its words to the id parsed before it', () => {
  const t = new IdTable();
  const a = '0af7651916cd43dd8448eb211c80319c';
  const b = 'b7ad6b7169203331b7ad6b7169203331';
  t.add(a, 1);
  t.add(b, 2);
  assert.equal(t.find(b), 2);
  // The first two words are a's, then a character that is not lower-case hex.
  assert.equal(t.find(a.slice(0, 16) + 'X'.repeat(16)), NONE);
  assert.equal(t.find(b), 2, 'b found again after the failed parse');
  assert.equal(t.find(a), 1);
  assert.equal(t.find(''), NONE);
});
