/**
 * The decision cache (src/sampling/decision-cache.ts) in typed-array rows (issue 13) answers as the two
 * lru-cache LRUs it replaced: the same sizes, least recently used first out, a lookup that finds an id making
 * it the most recent, a kept decision forgetting a dropped one of the same id and the other way round.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecisionCache } from '../src/sampling/decision-cache.js';
import { IdTimes } from '../src/sampling/id-lru.js';
import type { TraceDecision } from '../src/sampling/sampling-policy.js';
import { LruDecisionCache as LruModel } from './helpers/lru-decision-cache.js';

const DECISIONS: TraceDecision[] = [
  { keep: true, reason: 'rule', policy: 'errors', weight: 1 },
  { keep: true, reason: 'probabilistic', policy: 'ten', weight: 10 },
  { keep: false, reason: 'not_sampled', policy: '', weight: 0 },
  { keep: false, reason: 'dropped', policy: 'health', weight: 0 },
];

const hexId = (n: number): string => n.toString(16).padStart(32, '0');

test('a lookup makes an id the most recent: the least recently used one is evicted', () => {
  const c = new DecisionCache(2, 2);
  const [keep, , hold, drop] = DECISIONS as [TraceDecision, TraceDecision, TraceDecision, TraceDecision];
  c.record(hexId(1), keep);
  c.record(hexId(2), keep);
  assert.equal(c.lookup(hexId(1)), keep); // 1 is now more recent than 2
  c.record(hexId(3), keep);
  assert.equal(c.lookup(hexId(2)), undefined, 'the least recently used went');
  assert.equal(c.lookup(hexId(1)), keep);
  assert.equal(c.lookup(hexId(3)), keep);
  c.record(hexId(4), hold);
  c.record(hexId(5), drop);
  assert.deepEqual(c.size, { kept: 2, dropped: 2 });
  assert.equal(c.lookup(hexId(4)), 'held');
  assert.equal(c.lookup(hexId(5)), 'dropped');
  c.record(hexId(4), keep); // kept after all (the feed): forgotten as dropped
  assert.equal(c.lookup(hexId(4)), keep);
  assert.deepEqual(c.size, { kept: 2, dropped: 1 });
});

test('a size of 0 turns that half off', () => {
  const c = new DecisionCache(0, 3);
  c.record(hexId(1), DECISIONS[0]!);
  c.record(hexId(2), DECISIONS[2]!);
  assert.equal(c.lookup(hexId(1)), undefined);
  assert.equal(c.lookup(hexId(2)), 'held');
  assert.deepEqual(c.size, { kept: 0, dropped: 1 });
});

test('agrees with the two lru-cache LRUs over 30,000 random records and lookups', () => {
  let s = 4242;
  const random = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  for (const [kept, dropped] of [
    [50, 200],
    [7, 0],
    [1, 1],
  ] as const) {
    const c = new DecisionCache(kept, dropped);
    const m = new LruModel(kept, dropped);
    for (let step = 0; step < 10_000; step++) {
      // Few ids, so that they are evicted, come back and move between the halves; some not from a scanner.
      const n = random(400);
      const id = n % 50 === 7 ? `odd-${n}` : hexId(n * 2654435761);
      if (random(2) === 0) {
        const d = DECISIONS[random(DECISIONS.length)]!;
        c.record(id, d);
        m.record(id, d);
      } else assert.equal(c.lookup(id), m.lookup(id), `step ${step}, sizes ${kept}/${dropped}`);
      assert.deepEqual(c.size, m.size);
    }
  }
});

test('the feed ids keep their times, least recently used first out, and forget an id once taken', () => {
  const t = new IdTimes(3);
  t.set(hexId(1), 10);
  t.set(hexId(2), 20);
  t.set(hexId(3), 30);
  t.set(hexId(1), 11); // named again: the most recent, its time updated
  t.set(hexId(4), 40); // full: 2 goes
  assert.equal(t.size, 3);
  assert.equal(t.take(hexId(2)), undefined);
  assert.equal(t.take(hexId(1)), 11);
  assert.equal(t.take(hexId(1)), undefined, 'taken once');
  assert.equal(t.take('not-hex'), undefined);
  t.set('not-hex', 50);
  assert.equal(t.take('not-hex'), 50);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.take(hexId(3)), undefined);
  t.set(hexId(3), 60);
  assert.equal(t.take(hexId(3)), 60);
});
