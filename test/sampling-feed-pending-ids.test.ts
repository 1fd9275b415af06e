/**
 * The decision feed's pending ids (issue 13): kept as the bytes of the next POST body instead of hex strings
 * encoded again at each POST; the same order, bound and put-back as the list they replace.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDecisionIds, encodeDecisionIds } from '../src/decision-feed/feed-protocol.js';
import { PendingIds } from '../src/decision-feed/pending-ids.js';

const id = (n: number): string => n.toString(16).padStart(32, '0');

test('ids come out oldest first as the POST body encodeDecisionIds would write, at most n per take', () => {
  const p = new PendingIds(100);
  const ids = [id(1), 'ABCDEF0123456789ABCDEF0123456789', id(3)];
  for (const i of ids) assert.equal(p.add(i), 0);
  assert.equal(p.count, 3);
  const first = p.take(2);
  assert.deepEqual(first, Buffer.from(encodeDecisionIds(ids.slice(0, 2))));
  assert.deepEqual(decodeDecisionIds(p.take(10)), [id(3)]);
  assert.equal(p.count, 0);
  assert.equal(p.take(10).length, 0);
});

test('what is not a trace id is refused and changes nothing', () => {
  const p = new PendingIds(10);
  p.add(id(7));
  for (const bad of ['abc', 'zz'.repeat(16), id(1) + '00', `${'0'.repeat(30)}g1`])
    assert.equal(p.add(bad), -1, bad);
  assert.deepEqual(decodeDecisionIds(p.take(10)), [id(7)]);
});

test('beyond the bound the oldest are dropped and counted; a body put back goes in front, trimmed from the front', () => {
  const p = new PendingIds(5);
  let dropped = 0;
  for (let i = 0; i < 8; i++) dropped += p.add(id(i));
  assert.equal(dropped, 3);
  assert.deepEqual(decodeDecisionIds(p.take(2)), [id(3), id(4)]);
  const body = Buffer.from(encodeDecisionIds([id(3), id(4)]));
  p.add(id(8));
  // 4 pending + 2 put back = 6 > 5: the oldest of the body goes.
  assert.equal(p.putBack(body), 1);
  assert.deepEqual(decodeDecisionIds(p.take(100)), [id(4), id(5), id(6), id(7), id(8)]);
});

test('agrees with a plain list over 20,000 random adds, takes and put-backs', () => {
  let seed = 42;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (const max of [1, 3, 7, 100]) {
    const p = new PendingIds(max);
    let model: string[] = [];
    let next = 0;
    for (let step = 0; step < 5000; step++) {
      const r = random();
      if (r < 0.6) {
        const dropped = p.add(id(next));
        model.push(id(next++));
        const over = Math.max(0, model.length - max);
        model = model.slice(over);
        assert.equal(dropped, over);
      } else {
        const n = 1 + Math.floor(random() * 4);
        const body = p.take(n);
        const taken = model.slice(0, n);
        model = model.slice(n);
        assert.deepEqual(decodeDecisionIds(body), taken);
        if (random() < 0.3) {
          const dropped = p.putBack(body);
          model = taken.concat(model);
          const over = Math.max(0, model.length - max);
          model = model.slice(over);
          assert.equal(dropped, over);
        }
      }
      assert.equal(p.count, model.length);
    }
    assert.deepEqual(decodeDecisionIds(p.take(max + 10)), model);
  }
});
