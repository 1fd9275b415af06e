/**
 * Issue 13: the completion buffer holds its bytes in slabs outside the V8 heap. These tests walk its ring: slabs
 * filled in hold order, holes left by taken traces, a slab emptied and reused, a part too big for a slab, the
 * byte count that `max_bytes` bounds after every step.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WireScope } from '../src/otlp/index.js';
import {
  forEachHeldSpan,
  HELD_PART_OVERHEAD_BYTES as PART,
  HELD_SPAN_OVERHEAD_BYTES as SPAN,
  heldPartBytes,
  HoldBuffer,
  holdLogs,
  holdSpans,
  type EvictedTrace,
  type EvictionReason,
  type HeldTrace,
} from '../src/sampling/completion/hold-buffer.js';
import { scannedLogs, scannedSpans, wireScope } from './helpers/held-spans.js';

const SLAB = 256;

interface Seen {
  scope: WireScope;
  bytes: number[];
  marks: number;
}

/** Every span of a taken trace, part by part, as the sampler re-encodes them. */
function read(trace: HeldTrace | undefined): Seen[][] {
  assert.ok(trace, 'the trace is held');
  return trace.parts.map((p) => {
    const out: Seen[] = [];
    forEachHeldSpan(p, (scope, bytes, start, end, marks) =>
      out.push({ scope, bytes: [...bytes.subarray(start, end)], marks }),
    );
    return out;
  });
}

/** One span of `len` bytes, each `fill`. */
function one(len: number, fill = 1) {
  return holdSpans([scannedSpans([len], { fill })], [0]);
}

/** A buffer whose slabs are not packed (the ring's accounting), or packed (`pack`). */
function setup(maxBytes = 100_000, windowMs = 1000, slabBytes = SLAB, pack = false) {
  const evicted: Array<[string, EvictionReason, number]> = [];
  const hold = new HoldBuffer({
    windowMs,
    maxBytes,
    slabBytes,
    pack,
    onEvict: (t, reason) => evicted.push([t.traceId, reason, t.spanCount]),
  });
  return { hold, evicted };
}

describe('HoldBuffer slabs', () => {
  test('copies the spans out of their request: bytes, marks and scopes come back as they were', () => {
    const { hold } = setup();
    const [a, b] = [wireScope('a'), wireScope('b')];
    const req = scannedSpans([3, 2, 4], { scopes: [a, b], scopeIndex: [0, 0, 1], marks: [1, 0, 6], fill: 7 });
    const part = holdSpans([req, req], [0, 2]);
    hold.add('t', part, 0);
    hold.add('t', holdSpans([req], [1]), 0);
    req.buf.fill(0);
    assert.deepEqual(hold.stats, { traces: 1, spans: 3, bytes: heldPartBytes(part) + 2 + SPAN + PART });
    // Two scopes in the first part: each span's header carries its scope's index (8 bytes, not 4).
    assert.equal(heldPartBytes(part), 3 + 4 + 2 * 8 + PART);
    const taken = hold.take('t');
    assert.equal(taken?.bytes, heldPartBytes(part) + 2 + SPAN + PART);
    assert.deepEqual(read(taken), [
      [
        { scope: a, bytes: [7, 7, 7], marks: 1 },
        { scope: b, bytes: [9, 9, 9, 9], marks: 6 },
      ],
      [{ scope: a, bytes: [8, 8], marks: 0 }],
    ]);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });

  test('gives each span its own scope when a part’s spans come from several requests', () => {
    const { hold } = setup();
    const reqs = Array.from({ length: 12 }, (_, k) => scannedSpans([1], { fill: k }));
    hold.add(
      't',
      holdSpans(
        reqs,
        reqs.map(() => 0),
      ),
      0,
    );
    const [spans] = read(hold.take('t'));
    assert.deepEqual(
      spans?.map((s) => s.bytes[0]),
      reqs.map((_, k) => k),
    );
    assert.deepEqual(
      spans?.map((s) => s.scope),
      reqs.map((r) => r.scopes[0]),
    );
  });

  test('holds log records as a logs part: released with the trace, not counted as spans', () => {
    const { hold, evicted } = setup(100_000, 10);
    hold.add('t', one(10), 0);
    const records = scannedLogs([5, 6], { fill: 3 });
    const logs = holdLogs([records, records], [1, 0]);
    hold.add('t', logs, 1);
    assert.deepEqual(hold.stats, {
      traces: 1,
      spans: 1,
      bytes: heldPartBytes(one(10)) + heldPartBytes(logs),
    });
    const taken = hold.take('t');
    assert.deepEqual(
      taken?.parts.map((p) => p.logs),
      [false, true],
    );
    assert.deepEqual(
      read(taken)[1]?.map((s) => s.bytes),
      [
        [4, 4, 4, 4, 4, 4],
        [3, 3, 3, 3, 3],
      ],
    );
    hold.add('u', logs, 2);
    hold.expire(12);
    assert.deepEqual(evicted, [['u', 'age', 0]]);
  });

  test('fills slabs in hold order and counts a sealed slab whole until it empties', () => {
    const { hold } = setup();
    // 96 + 4 = 100 slab bytes a part: two fit in a 256-byte slab, the third starts the next.
    const b = heldPartBytes(one(96));
    assert.equal(b, 100 + PART);
    hold.add('a', one(96, 1), 0);
    assert.deepEqual(hold.stats, { traces: 1, spans: 1, bytes: b });
    hold.add('b', one(96, 2), 1);
    assert.deepEqual(hold.stats, { traces: 2, spans: 2, bytes: 2 * b });
    hold.add('c', one(96, 3), 2);
    // The first slab is sealed: its 56 unwritten bytes count until it empties.
    assert.deepEqual(hold.stats, { traces: 3, spans: 3, bytes: SLAB + 100 + 3 * PART });
    assert.deepEqual(hold.slabStats, { slabs: 2, spares: 0, allocatedBytes: 2 * SLAB });
    assert.equal(hold.take('a')?.spanCount, 1);
    // 'a' leaves a hole: dead until 'b' leaves the slab too.
    assert.deepEqual(hold.stats, { traces: 2, spans: 2, bytes: SLAB + 100 + 2 * PART });
    assert.deepEqual(read(hold.take('b'))[0]?.[0]?.bytes, Array(96).fill(2));
    assert.deepEqual(hold.stats, { traces: 1, spans: 1, bytes: b });
    assert.deepEqual(hold.slabStats, { slabs: 1, spares: 1, allocatedBytes: 2 * SLAB });
  });

  test('wraps around: an emptied slab is filled again, and the data of every held trace stays intact', () => {
    const { hold, evicted } = setup(100_000, 10);
    // 60 bytes a span (64 with its header): four parts a slab. Hold 40 traces, one per ms, each held 10 ms.
    for (let i = 0; i < 40; i++) {
      hold.add(`t${i}`, one(60, i), i);
      const live = Math.min(i + 1, 10);
      assert.equal(hold.stats.traces, live);
      // Never more than the slabs the last 10 traces span, plus one spare.
      assert.ok(hold.slabStats.allocatedBytes <= 4 * SLAB, `${hold.slabStats.allocatedBytes} at ${i}`);
    }
    assert.equal(evicted.length, 30);
    assert.deepEqual(evicted[0], ['t0', 'age', 1]);
    for (let i = 30; i < 40; i++)
      assert.deepEqual(read(hold.take(`t${i}`))[0]?.[0]?.bytes, Array(60).fill(i), `t${i}`);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });

  test('appends a late part after other traces’ parts; the trace keeps its age and its parts come out in order', () => {
    const { hold, evicted } = setup(100_000, 10);
    hold.add('a', one(20, 1), 0);
    hold.add('b', one(20, 2), 3);
    hold.add('a', one(30, 3), 5);
    assert.deepEqual(hold.stats, { traces: 2, spans: 3, bytes: 24 * 2 + 34 + 3 * PART });
    assert.equal(hold.nextExpiryMs(), 10);
    assert.deepEqual(
      read(hold.take('a')).map((p) => p[0]?.bytes.length),
      [20, 30],
    );
    // Both of 'a''s parts are holes now, before and after 'b''s, in the slab 'b' keeps.
    assert.deepEqual(hold.stats, { traces: 1, spans: 1, bytes: 24 * 2 + 34 + PART });
    hold.add('a', one(10, 4), 6);
    assert.equal(hold.nextExpiryMs(), 13);
    hold.expire(16);
    assert.deepEqual(evicted, [
      ['b', 'age', 1],
      ['a', 'age', 1],
    ]);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });

  test('evicts the oldest traces past max_bytes, dead space included, a late part not making a trace younger', () => {
    // Parts of 1,004 slab bytes, two to a slab of 2,100; the figures below assume a part's overhead is less.
    assert.ok(PART < 1000);
    const L = 2100;
    const b = heldPartBytes(one(1000));
    const { hold, evicted } = setup(L + 1004 + 3 * PART, 1000, L);
    hold.add('a', one(1000), 0);
    hold.add('b', one(1000), 1);
    hold.add('c', one(1000), 2);
    assert.deepEqual(hold.stats, { traces: 3, spans: 3, bytes: L + 1004 + 3 * PART });
    assert.equal(hold.take('c')?.spanCount, 1);
    // 'c' emptied the second slab; the first, sealed, counts whole.
    assert.deepEqual(hold.stats, { traces: 2, spans: 2, bytes: L + 2 * PART });
    hold.add('a', one(1000), 3);
    assert.deepEqual(evicted, []);
    assert.deepEqual(hold.stats, { traces: 2, spans: 3, bytes: L + 1004 + 3 * PART });
    hold.add('d', one(1000), 4);
    // Over by 'd': 'a' (held first) goes, its late part leaving a hole before 'd''s; still over, as the first
    // slab counts whole while 'b' is in it: 'b' goes, and that slab empties.
    assert.deepEqual(evicted, [
      ['a', 'bytes', 2],
      ['b', 'bytes', 1],
    ]);
    assert.deepEqual(hold.stats, { traces: 1, spans: 1, bytes: b + 1004 });
    assert.deepEqual(hold.slabStats, { slabs: 1, spares: 1, allocatedBytes: 2 * L });
    assert.equal(read(hold.take('d'))[0]?.[0]?.bytes.length, 1000);
  });

  test('gives a part larger than a slab an allocation of its own, let go when it leaves', () => {
    const { hold } = setup();
    hold.add('small', one(10), 0);
    const req = scannedSpans([200, 300], { fill: 5 });
    const big = holdSpans([req, req], [0, 1]);
    hold.add('big', big, 1);
    assert.deepEqual(hold.stats, { traces: 2, spans: 3, bytes: heldPartBytes(one(10)) + heldPartBytes(big) });
    assert.deepEqual(hold.slabStats, { slabs: 2, spares: 0, allocatedBytes: SLAB + 508 });
    // The slab being filled is not sealed by it: the next small part goes after the first.
    hold.add('small2', one(10), 2);
    assert.deepEqual(hold.slabStats, { slabs: 2, spares: 0, allocatedBytes: SLAB + 508 });
    assert.deepEqual(
      read(hold.take('big'))[0]?.map((s) => [s.bytes.length, s.bytes[0]]),
      [
        [200, 5],
        [300, 6],
      ],
    );
    assert.deepEqual(hold.slabStats, { slabs: 1, spares: 0, allocatedBytes: SLAB });
    assert.deepEqual(hold.stats, { traces: 2, spans: 2, bytes: 2 * heldPartBytes(one(10)) });
  });

  test('does not copy a part larger than max_bytes: its trace and every older one are evicted', () => {
    const { hold, evicted } = setup(2000);
    hold.add('a', one(10), 0);
    hold.add('b', one(10), 1);
    hold.add('c', one(10), 2);
    const req = scannedSpans([1000, 1000]);
    hold.add('b', holdSpans([req, req], [0, 1]), 3);
    assert.deepEqual(evicted, [
      ['a', 'bytes', 1],
      ['b', 'bytes', 3],
    ]);
    // 'a' and 'b' left holes before 'c' in its slab.
    assert.deepEqual(hold.stats, { traces: 1, spans: 1, bytes: 3 * (10 + SPAN) + PART });
    hold.add('d', holdSpans([scannedSpans([2000])], [0]), 4);
    assert.deepEqual(evicted.slice(2), [
      ['c', 'bytes', 1],
      ['d', 'bytes', 1],
    ]);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
    assert.equal(hold.nextExpiryMs(), undefined);
  });

  test('a part larger than max_bytes counts in its held trace’s eviction: its spans, not log records, and bytes', () => {
    const evicted: EvictedTrace[] = [];
    const hold = new HoldBuffer({
      windowMs: 1000,
      maxBytes: 2000,
      slabBytes: SLAB,
      pack: false,
      onEvict: (t) => evicted.push(t),
    });
    const records = scannedLogs([5, 6]);
    const logs = holdLogs([records, records], [0, 1]);
    hold.add('a', one(10), 0);
    hold.add('a', logs, 1);
    hold.add('a', one(20), 2);
    hold.add('b', one(10), 3);
    const req = scannedSpans([1000, 1000]);
    const big = holdSpans([req, req], [0, 1]);
    hold.add('a', big, 4);
    const aBytes = heldPartBytes(one(10)) + heldPartBytes(logs) + heldPartBytes(one(20));
    assert.deepEqual(evicted, [
      { traceId: 'a', heldAtMs: 0, parts: [], spanCount: 2 + 2, bytes: aBytes + heldPartBytes(big) },
    ]);
    // 'b', held after 'a', stays; the spans count is what it holds.
    assert.equal(hold.stats.spans, 1);
    const bigLogs = holdLogs([scannedLogs([3000])], [0]);
    hold.add('b', bigLogs, 5);
    assert.deepEqual(evicted.slice(1), [
      {
        traceId: 'b',
        heldAtMs: 3,
        parts: [],
        spanCount: 1,
        bytes: heldPartBytes(one(10)) + heldPartBytes(bigLogs),
      },
    ]);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });

  test('clear drops every trace and slab; the buffer holds again after it', () => {
    const { hold, evicted } = setup();
    for (let i = 0; i < 10; i++) hold.add(`t${i}`, one(50, i), i);
    assert.equal(hold.slabStats.slabs, 3);
    hold.clear();
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
    assert.deepEqual(hold.slabStats, { slabs: 0, spares: 0, allocatedBytes: 0 });
    assert.equal(hold.has('t1'), false);
    assert.equal(hold.nextExpiryMs(), undefined);
    assert.deepEqual(evicted, []);
    hold.add('t1', one(50, 9), 20);
    assert.deepEqual(read(hold.take('t1'))[0]?.[0]?.bytes, Array(50).fill(9));
  });

  test('lets its slabs go once expiry finds nothing held', () => {
    const { hold } = setup(100_000, 10);
    for (let i = 0; i < 6; i++) hold.add(`t${i}`, one(96), i);
    hold.expire(12);
    assert.deepEqual(hold.stats, { traces: 3, spans: 3, bytes: SLAB + 200 + 3 * PART });
    assert.ok(hold.slabStats.allocatedBytes > 0);
    hold.expire(100);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
    assert.deepEqual(hold.slabStats, { slabs: 0, spares: 0, allocatedBytes: 0 });
  });

  test('lets a scope go once no slab holds a span of it, while other traces stay held', () => {
    const { hold } = setup(100_000, 10);
    const [x, y, z] = [wireScope('x'), wireScope('y'), wireScope('z')];
    const two = scannedSpans([5, 5], { scopes: [x, y], scopeIndex: [0, 1] });
    hold.add('a', holdSpans([two, two], [0, 1]), 0);
    hold.add('b', holdSpans([scannedSpans([100], { scopes: [z] })], [0]), 0);
    assert.equal(hold.scopeCount, 3);
    // 'a' leaves, but its slab lives on with 'b': the slab keeps its scopes (leaving never reads a slab).
    assert.deepEqual(
      read(hold.take('a'))[0]?.map((s) => s.scope),
      [x, y],
    );
    assert.equal(hold.scopeCount, 3);
    hold.take('b');
    assert.equal(hold.scopeCount, 0);
    // Each request its own two scopes: parts naming both, and parts of one, over many slabs.
    hold.add('long', holdSpans([two, two], [0, 1]), 0);
    for (let i = 0; i < 200; i++) {
      const req = scannedSpans([30, 30], {
        scopes: [wireScope(`a${i}`), wireScope(`b${i}`)],
        scopeIndex: [0, 1],
      });
      hold.add(`t${i}`, holdSpans([req, req], [0, 1]), 1 + (i % 5));
      hold.add(`u${i}`, holdSpans([req], [1]), 1 + (i % 5));
      hold.take(`t${i}`);
      if (i >= 1) hold.take(`u${i - 1}`);
      // At most the scopes of the slabs still live: 'long''s slab and the last two.
      assert.ok(hold.scopeCount <= 2 + 2 * 2 * 10, `${hold.scopeCount} scopes at ${i}`);
    }
    hold.take('u199');
    assert.equal(hold.stats.traces, 1);
    assert.deepEqual(
      read(hold.take('long'))[0]?.map((s) => s.scope),
      [x, y],
    );
    assert.equal(hold.scopeCount, 0);
  });

  test('gives back what it was given through thousands of adds and takes, slots and slabs reused', () => {
    const { hold } = setup(1 << 30, 1e9);
    const model = new Map<string, Array<[number, number]>>();
    let spans = 0;
    for (let i = 0; i < 5000; i++) {
      const id = `t${(i * 7) % 53}`;
      if (((i * 2654435761) >>> 0) % 5 === 0) {
        const want = model.get(id) ?? [];
        const taken = hold.take(id);
        assert.deepEqual(
          taken ? read(taken).map((p) => [p[0]?.bytes.length, p[0]?.bytes[0]]) : [],
          want,
          `${id} at ${i}`,
        );
        model.delete(id);
        spans -= want.length;
        continue;
      }
      const len = 1 + (i % 90);
      hold.add(id, one(len, i % 256), i);
      model.set(id, [...(model.get(id) ?? []), [len, i % 256]]);
      spans++;
      assert.equal(hold.stats.spans, spans);
    }
    assert.equal(hold.stats.traces, model.size);
    for (const [id, want] of model)
      assert.deepEqual(
        read(hold.take(id)).map((p) => [p[0]?.bytes.length, p[0]?.bytes[0]]),
        want,
      );
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });
});

describe('HoldBuffer packed slabs', () => {
  /** A span of `len` bytes that deflates well: a repeating run from `fill`, as attribute keys repeat. */
  function compressible(len: number, fill: number) {
    const req = scannedSpans([len], { fill });
    for (let k = 0; k < len; k++) req.buf[8 + k] = (fill + (k % 16)) % 256;
    return req;
  }

  test('deflates a full slab, counts its packed bytes, and gives its spans back intact', async () => {
    const { hold } = setup(100_000, 1000, 4096, true);
    const [a, b] = [wireScope('a'), wireScope('b')];
    // 60 traces of two spans from two scopes (headers of 8 bytes): about four slabs of 4 KiB.
    for (let i = 0; i < 60; i++) {
      const req = scannedSpans([100, 120], {
        scopes: [a, b],
        scopeIndex: [0, 1],
        marks: [i % 8, 1],
        fill: i,
      });
      for (let k = 0; k < 220; k++) req.buf[8 + k] = (i + (k % 8)) % 256;
      hold.add(`t${i}`, holdSpans([req, req], [0, 1]), i);
    }
    const unpacked = hold.stats.bytes;
    await hold.packsDone();
    const packs = hold.packStats;
    assert.ok(packs.slabs >= 3, `${packs.slabs} slabs packed`);
    assert.ok(packs.bytes < packs.slabs * 4096 * 0.5, `${packs.bytes} bytes packed`);
    // What max_bytes bounds is now the packed bytes, the slab being filled and the parts' rows.
    assert.equal(hold.stats.bytes, unpacked - packs.slabs * 4096 + packs.bytes);
    for (const i of [0, 17, 59, 33]) {
      const [spans] = read(hold.take(`t${i}`));
      assert.deepEqual(
        spans?.map((s) => [s.scope, s.bytes.length, s.bytes[0], s.bytes[9], s.marks]),
        [
          [a, 100, i % 256, (i + 1) % 256, i % 8],
          [b, 120, (i + 4) % 256, (i + 5) % 256, 1],
        ],
        `t${i}`,
      );
    }
    assert.equal(hold.stats.traces, 56);
  });

  test('holds more of a window in the same max_bytes: evictions for bytes come later than unpacked', async () => {
    const run = async (pack: boolean) => {
      const { hold, evicted } = setup(256 * 1024, 1e9, 16 * 1024, pack);
      let i = 0;
      while (evicted.length === 0 && i < 10_000) {
        hold.add(`t${i}`, holdSpans([compressible(2000, i)], [0]), i);
        i++;
        // The pool packs between requests in the agent; here every few slabs.
        if (i % 8 === 0) await hold.packsDone();
      }
      return i;
    };
    const unpacked = await run(false);
    const packed = await run(true);
    // Each part also counts its rows (HELD_PART_OVERHEAD_BYTES), packed or not.
    assert.ok(packed > 4 * unpacked, `evicted after ${packed} traces packed, ${unpacked} unpacked`);
  });

  test('keeps the slab it inflated for the takes of one release, and lets it go at endTakes', async () => {
    const { hold } = setup(100_000, 1000, 1024, true);
    for (let i = 0; i < 12; i++) hold.add(`t${i}`, holdSpans([compressible(300, i)], [0]), 0);
    await hold.packsDone();
    assert.ok(hold.packStats.slabs >= 2);
    assert.equal(read(hold.take('t0'))[0]?.[0]?.bytes[3], 3);
    assert.equal(hold.keepsInflated, true, 'kept for the next take of the same release');
    assert.equal(read(hold.take('t1'))[0]?.[0]?.bytes[3], 4);
    hold.endTakes();
    assert.equal(hold.keepsInflated, false);
    // A later release inflates again.
    assert.equal(read(hold.take('t2'))[0]?.[0]?.bytes[3], 5);
  });

  test('gives a trace’s late parts, a logs part among them, back in hold order after their slabs were packed', async () => {
    const { hold } = setup(100_000, 1000, 1024, true);
    let n = 0;
    /** Other traces' parts, three to a slab: each late part of 'x' lands in a slab of its own. */
    const others = () => {
      for (let k = 0; k < 4; k++, n++) hold.add(`f${n}`, holdSpans([compressible(300, n)], [0]), 0);
    };
    hold.add('x', holdSpans([compressible(100, 1)], [0]), 0);
    others();
    hold.add('x', holdLogs([scannedLogs([40], { fill: 9 })], [0]), 1);
    others();
    hold.add('x', holdSpans([compressible(120, 2), compressible(130, 3)], [0, 0]), 2);
    others();
    hold.add('x', holdSpans([compressible(140, 4)], [0]), 3);
    await hold.packsDone();
    assert.ok(hold.packStats.slabs >= 3, `${hold.packStats.slabs} slabs packed`);
    const taken = hold.take('x');
    assert.equal(taken?.spanCount, 4);
    assert.deepEqual(
      taken?.parts.map((p) => [p.logs, p.spanCount]),
      [
        [false, 1],
        [true, 1],
        [false, 2],
        [false, 1],
      ],
    );
    assert.deepEqual(
      read(taken).map((p) => p.map((s) => [s.bytes.length, s.bytes[0]])),
      [
        [[100, 1]],
        [[40, 9]],
        [
          [120, 2],
          [130, 3],
        ],
        [[140, 4]],
      ],
    );
    assert.equal(hold.stats.spans, 12);
  });

  test('keeps a slab as it is when deflating would save less than an eighth', async () => {
    const { hold } = setup(100_000, 1000, 1024, true);
    const random = Buffer.from(Array.from({ length: 4000 }, (_, k) => (k * 2654435761) >>> 24));
    for (let i = 0; i < 8; i++) {
      const req = scannedSpans([400], { fill: i });
      random.copy(req.buf, 8, i * 400, i * 400 + 400);
      hold.add(`t${i}`, holdSpans([req], [0]), i);
    }
    await hold.packsDone();
    assert.deepEqual(hold.packStats, { slabs: 0, bytes: 0, retainedBytes: 0 });
    assert.deepEqual(read(hold.take('t3'))[0]?.[0]?.bytes, [...random.subarray(1200, 1600)]);
  });

  test('a slab that empties or a buffer cleared while zlib packs it changes nothing when zlib is done', async () => {
    const { hold } = setup(100_000, 10, 1024, true);
    for (let i = 0; i < 12; i++) hold.add(`t${i}`, holdSpans([compressible(300, i)], [0]), 0);
    // The first slabs are sealed and packing; take their traces before zlib is done.
    for (let i = 0; i < 6; i++) assert.equal(read(hold.take(`t${i}`))[0]?.[0]?.bytes[5], (i + 5) % 256);
    await hold.packsDone();
    for (let i = 6; i < 12; i++) assert.equal(read(hold.take(`t${i}`))[0]?.[0]?.bytes[5], (i + 5) % 256);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
    for (let i = 0; i < 12; i++) hold.add(`u${i}`, holdSpans([compressible(300, i)], [0]), 0);
    hold.clear();
    await hold.packsDone();
    assert.deepEqual(hold.slabStats, { slabs: 0, spares: 0, allocatedBytes: 0 });
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });

  test('gives back what it was given through thousands of adds and takes while slabs pack', async () => {
    const { hold } = setup(1 << 30, 1e9, 1024, true);
    const model = new Map<string, Array<[number, number]>>();
    for (let i = 0; i < 5000; i++) {
      if (i % 97 === 0) await hold.packsDone();
      const id = `t${(i * 7) % 53}`;
      if (((i * 2654435761) >>> 0) % 5 === 0) {
        const taken = hold.take(id);
        assert.deepEqual(
          taken ? read(taken).map((p) => [p[0]?.bytes.length, p[0]?.bytes[15]]) : [],
          model.get(id) ?? [],
          `${id} at ${i}`,
        );
        model.delete(id);
        continue;
      }
      const len = 16 + (i % 300);
      hold.add(id, holdSpans([compressible(len, i % 256)], [0]), i);
      model.set(id, [...(model.get(id) ?? []), [len, (i + 15) % 256]]);
    }
    assert.ok(hold.packStats.slabs > 0);
    for (const [id, want] of model)
      assert.deepEqual(
        read(hold.take(id)).map((p) => [p[0]?.bytes.length, p[0]?.bytes[15]]),
        want,
      );
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });
});
