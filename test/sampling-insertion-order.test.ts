/**
 * InsertionOrderMap (the trace and completion buffers' index, issue 13 follow-up) keeps a Map's order and
 * answers: oldest first, deletes anywhere, a deleted key added again goes to the end, iteration survives
 * deleting the current value, and compaction of its queue changes nothing visible.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InsertionOrderMap } from '../src/sampling/insertion-order.js';

test('behaves as a Map in insertion order under a random FIFO-and-middle workload', () => {
  const m = new InsertionOrderMap<{ id: number }>();
  const ref = new Map<string, { id: number }>();
  let s = 7;
  const random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let step = 0; step < 60_000; step++) {
    const r = random();
    const key = `k${Math.floor(random() * 5000)}`;
    if (r < 0.45) {
      const v = { id: step };
      m.set(key, v);
      ref.set(key, v);
    } else if (r < 0.75) {
      const first = ref.keys().next();
      assert.equal(m.first(), first.done ? undefined : ref.get(first.value));
      if (!first.done) {
        assert.equal(m.delete(first.value), true);
        ref.delete(first.value);
      }
    } else {
      assert.equal(m.delete(key), ref.delete(key));
    }
    assert.equal(m.size, ref.size);
    assert.equal(m.get(key), ref.get(key));
    assert.equal(m.has(key), ref.has(key));
    if (step % 5000 === 0) assert.deepEqual([...m.values()], [...ref.values()]);
  }
  assert.deepEqual([...m.values()], [...ref.values()]);
});

test('a deleted key added again is the newest, and iteration may delete the current value', () => {
  const m = new InsertionOrderMap<string>();
  for (const k of ['a', 'b', 'c']) m.set(k, k);
  m.delete('a');
  m.set('a', 'a2');
  m.set('b', 'b2'); // an existing key keeps its place
  assert.deepEqual([...m.values()], ['b2', 'c', 'a2']);
  const seen: string[] = [];
  for (const v of m.values()) {
    seen.push(v);
    m.delete(v === 'b2' ? 'b' : v === 'c' ? 'c' : 'a');
  }
  assert.deepEqual(seen, ['b2', 'c', 'a2']);
  assert.equal(m.size, 0);
  assert.equal(m.first(), undefined);
  m.set('x', 'x');
  m.clear();
  assert.equal(m.size, 0);
  assert.deepEqual([...m.values()], []);
});
