/**
 * FifoMap (bench/_fifo-map.ts): the trace and completion buffers took their oldest entry through one kept
 * iterator, because `values().next()` after many deletions from the front is O(holes) in V8 (the buffers turned
 * quadratic under a flood of one-span traces; bench/fifo-map.ts measures it). Here: that the kept iterator gives
 * exactly what a plain Map's first entry would, through every kind of change.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FifoMap } from '../bench/_fifo-map.js';

const firstOf = (m: Map<number, string>) => m.values().next().value;

void describe('FifoMap', () => {
  void test('oldest follows deletions from the front, the middle and the end, and additions after emptying', () => {
    const f = new FifoMap<number, string>();
    assert.equal(f.oldest(), undefined);
    for (let i = 0; i < 5; i++) f.set(i, `v${i}`);
    assert.equal(f.oldest(), 'v0');
    f.delete(2); // middle, not the head
    assert.equal(f.oldest(), 'v0');
    f.delete(0);
    assert.equal(f.oldest(), 'v1');
    f.delete(1);
    assert.equal(f.oldest(), 'v3', 'skips the entry deleted earlier');
    f.delete(3);
    f.delete(4);
    assert.equal(f.oldest(), undefined);
    assert.equal(f.size, 0);
    f.set(9, 'v9');
    assert.equal(f.oldest(), 'v9', 'an entry added after the map emptied');
    f.set(10, 'v10');
    f.delete(9);
    assert.equal(f.oldest(), 'v10');
  });

  void test('a key deleted and added again goes to the end; set on a present key keeps its place and new value', () => {
    const f = new FifoMap<string, number>();
    f.set('a', 1);
    f.set('b', 2);
    assert.equal(f.oldest(), 1);
    f.delete('a');
    f.set('a', 3);
    assert.equal(f.oldest(), 2);
    f.set('b', 4);
    assert.equal(f.oldest(), 4, 'b is still the oldest, with its new value');
    f.delete('b');
    assert.equal(f.oldest(), 3);
  });

  void test('matches a plain Map through 20,000 random operations', () => {
    const f = new FifoMap<number, string>();
    const m = new Map<number, string>();
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const op = rand(10);
      const key = rand(300);
      if (op < 4) {
        f.set(key, `v${i}`);
        m.set(key, `v${i}`);
      } else if (op < 7) {
        const oldest = firstOf(m);
        if (oldest !== undefined) {
          const k = [...m.keys()][0]!;
          f.delete(k);
          m.delete(k);
        }
      } else if (op < 9) {
        assert.equal(f.delete(key), m.delete(key));
      } else if (rand(50) === 0) {
        f.clear();
        m.clear();
      }
      assert.equal(f.oldest(), firstOf(m), `step ${i}`);
      assert.equal(f.size, m.size);
    }
  });
});
