/**
 * The trace buffer's rows (src/sampling/trace-buffer.ts, issue 13): traces in typed-array columns, spans and log
 * records as chains of entry rows, counted requests, the first-seen order as an intrusive list. What the sampler
 * reads of it must be what it put in, in the order it came, with the byte count `max_buffered_bytes` bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WireLogs, WireSpans } from '../src/otlp/index.js';
import { NONE } from '../src/sampling/rows.js';
import {
  LOG_OVERHEAD_BYTES as LOG,
  SPAN_OVERHEAD_BYTES as SPAN,
  TRACE_OVERHEAD_BYTES as TRACE,
  TraceBuffer,
} from '../src/sampling/trace-buffer.js';
import { scannedLogs, scannedSpans } from './helpers/held-spans.js';

/** A trace id as the scanner gives it, for short names: 32 lower-case hex digits. */
const tid = (name: string): string => Buffer.from(name).toString('hex').padStart(32, '0');

/** What a test expects of one trace: its entries as [request, index] in arrival order. */
interface ModelTrace {
  firstSeenMs: number;
  spans: Array<[WireSpans, number]>;
  logs: Array<[WireLogs, number]>;
  bytes: number;
  logBytes: number;
}

/** The buffer as a plain Map in insertion order: the model the rows must agree with. */
class Model {
  readonly traces = new Map<string, ModelTrace>();
  get bytes(): number {
    let n = 0;
    for (const t of this.traces.values())
      n +=
        TRACE + t.bytes + t.spans.length * SPAN + (t.logs.length > 0 ? t.logBytes + t.logs.length * LOG : 0);
    return n;
  }
}

/** Everything the buffer says of its traces, oldest first, read the ways the sampler reads it. */
function contents(b: TraceBuffer): Map<string, ModelTrace> {
  const out = new Map<string, ModelTrace>();
  const rows = b.rows();
  let walked = 0;
  for (let row = b.oldest(); row !== NONE; row = b.younger(row)) assert.equal(row, rows[walked++]);
  assert.equal(walked, rows.length);
  for (const row of rows) {
    const trace = b.trace(row);
    assert.equal(b.find(trace.traceId), row);
    const spans = trace.spanEntries();
    const logs = trace.logEntries();
    assert.equal(spans.indexes.length, trace.spanCount);
    assert.equal(logs.indexes.length, trace.logCount);
    out.set(trace.traceId, {
      firstSeenMs: trace.firstSeenMs,
      spans: spans.requests.map((r, k) => [r, spans.indexes[k]!]),
      logs: logs.requests.map((r, k) => [r, logs.indexes[k]!]),
      bytes: trace.bytes,
      logBytes: trace.logBytes,
    });
  }
  return out;
}

function assertAgrees(b: TraceBuffer, m: Model, step = ''): void {
  assert.deepEqual([...contents(b)], [...m.traces], `traces ${step}`);
  let spans = 0;
  let logs = 0;
  for (const t of m.traces.values()) {
    spans += t.spans.length;
    logs += t.logs.length;
  }
  assert.equal(b.size, m.traces.size, `size ${step}`);
  assert.equal(b.spanCount, spans, `spans ${step}`);
  assert.equal(b.logCount, logs, `logs ${step}`);
  assert.ok(Math.abs(b.bytes - m.bytes) < 1e-6, `bytes ${step}: ${b.bytes} != ${m.bytes}`);
  assert.equal(b.rowStats.traces, m.traces.size);
  assert.equal(b.rowStats.entries, spans + logs);
}

function decide(b: TraceBuffer, m: Model, traceId: string): void {
  const row = b.find(traceId);
  assert.notEqual(row, NONE);
  b.remove(row);
  b.free(row);
  m.traces.delete(traceId);
}

void describe('TraceBuffer rows', () => {
  void test('counts every step and keeps the first-seen order when traces leave from the middle', () => {
    const b = new TraceBuffer();
    const m = new Model();
    const req = scannedSpans([10, 20, 30, 40, 50, 60]);
    assertAgrees(b, m, 'empty');
    for (const [id, at] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ] as const) {
      b.open(tid(id), at);
      m.traces.set(tid(id), { firstSeenMs: at, spans: [], logs: [], bytes: 0, logBytes: 0 });
      assertAgrees(b, m, `open ${id}`);
    }
    for (const [id, i] of [
      ['a', 0],
      ['c', 1],
      ['a', 2],
      ['d', 3],
      ['b', 4],
      ['c', 5],
    ] as const) {
      b.addSpan(b.find(tid(id)), req, i, 7.5);
      const t = m.traces.get(tid(id))!;
      t.spans.push([req, i]);
      t.bytes += 7.5;
      assertAgrees(b, m, `add ${id}/${i}`);
    }
    assert.equal(b.bytes, 4 * TRACE + 6 * (7.5 + SPAN));
    decide(b, m, tid('b')); // from the middle
    assert.equal(b.find(tid('b')), NONE, 'not found once taken out, right after it was found');
    assertAgrees(b, m, 'b left');
    decide(b, m, tid('d')); // the newest
    assertAgrees(b, m, 'd left');
    b.open(tid('e'), 5);
    m.traces.set(tid('e'), { firstSeenMs: 5, spans: [], logs: [], bytes: 0, logBytes: 0 });
    assertAgrees(b, m, 'e after a, c');
    decide(b, m, tid('a')); // the oldest
    assert.equal(b.traceId(b.oldest()), tid('c'));
    assertAgrees(b, m, 'a left');
    decide(b, m, tid('c'));
    decide(b, m, tid('e'));
    assertAgrees(b, m, 'all left');
    assert.equal(b.oldest(), NONE);
    assert.equal(b.bytes, 0);
    assert.deepEqual(b.rowStats, { traces: 0, entries: 0, requests: 0 });
  });

  void test('a trace handle moved to another row (WireTrace.at) reads that row: its id, spans and bytes', () => {
    const b = new TraceBuffer();
    const req = scannedSpans([10, 20, 30, 40]);
    const first = b.open('0123456789abcdef0123456789abcdef', 0);
    b.addSpan(first, req, 0, 10);
    const second = b.open('fedcba9876543210fedcba9876543210', 5);
    b.addSpan(second, req, 1, 20);
    b.addSpan(second, req, 3, 40);
    const handle = b.trace(first);
    assert.equal(handle.traceId, '0123456789abcdef0123456789abcdef');
    assert.equal(handle.at(second), handle);
    assert.equal(handle.row, second);
    assert.equal(handle.traceId, 'fedcba9876543210fedcba9876543210');
    assert.equal(handle.firstSeenMs, 5);
    assert.equal(handle.spanCount, 2);
    assert.deepEqual(handle.spanEntries(), b.trace(second).spanEntries());
    assert.equal(handle.bytes, b.trace(second).bytes);
  });

  void test('a trace whose spans came in many requests reads them back in arrival order', () => {
    const b = new TraceBuffer();
    const requests = Array.from({ length: 12 }, (_, k) => scannedSpans([10 + k, 20, 30], { fill: k }));
    const row = b.open('t', 0);
    const expected: Array<[WireSpans, number]> = [];
    for (let k = 0; k < 12; k++)
      for (const i of [2, 0]) {
        b.addSpan(row, requests[k]!, i, 1);
        expected.push([requests[k]!, i]);
      }
    const { requests: got, indexes } = b.trace(row).spanEntries();
    assert.deepEqual(
      got.map((r, k) => [r, indexes[k]]),
      expected,
    );
    assert.equal(b.rowStats.requests, 12);
    b.remove(row);
    // Taken out, but readable until freed: the decision reads it after it left the order.
    assert.equal(b.find('t'), NONE);
    assert.equal(b.size, 0);
    assert.equal(b.trace(row).spanCount, 24);
    assert.equal(b.trace(row).spanEntries().requests[23], requests[11]);
    b.free(row);
    assert.deepEqual(b.rowStats, { traces: 0, entries: 0, requests: 0 });
  });

  void test('a request whose spans belong to many traces is held until its last span leaves', () => {
    const b = new TraceBuffer();
    const req = scannedSpans(Array.from({ length: 50 }, () => 10));
    for (let i = 0; i < 50; i++) b.addSpan(b.open(tid(`t${i}`), i), req, i, 10);
    assert.deepEqual(b.rowStats, { traces: 50, entries: 50, requests: 1 });
    for (let i = 0; i < 49; i++) {
      const row = b.find(tid(`t${i}`));
      b.remove(row);
      b.free(row);
      assert.equal(b.rowStats.requests, 1, `after t${i}`);
    }
    const last = b.find(tid('t49'));
    assert.equal(b.trace(last).spanEntries().requests[0], req);
    assert.equal(b.trace(last).spanEntries().indexes[0], 49);
    b.remove(last);
    b.free(last);
    assert.deepEqual(b.rowStats, { traces: 0, entries: 0, requests: 0 });
    // The same request again (its row was let go, the buffer must not reuse a stale one).
    const row = b.open('again', 100);
    b.addSpan(row, req, 3, 10);
    const other = scannedSpans([5]);
    b.addSpan(row, other, 0, 5);
    b.addSpan(row, req, 4, 10);
    assert.deepEqual(b.trace(row).spanEntries(), { requests: [req, other, req], indexes: [3, 0, 4] });
    // Into arrays reused from a longer trace: the count, the same entries first, the rest left as they were.
    const requests = [other, other, other, other, other];
    const indexes = [9, 9, 9, 9, 9];
    assert.equal(b.trace(row).spanEntriesInto(requests, indexes), 3);
    assert.deepEqual(requests, [req, other, req, other, other]);
    assert.deepEqual(indexes, [3, 0, 4, 9, 9]);
    assert.equal(b.rowStats.requests, 3);
  });

  void test('log records wait in rows of their own, counted apart from the spans', () => {
    const b = new TraceBuffer();
    const m = new Model();
    const logs = scannedLogs([10, 20, 30]);
    const spans = scannedSpans([40, 50]);
    const row = b.open('t', 0);
    m.traces.set('t', { firstSeenMs: 0, spans: [], logs: [], bytes: 0, logBytes: 0 });
    const t = m.traces.get('t')!;
    b.addLog(row, logs, 1, 20);
    t.logs.push([logs, 1]);
    t.logBytes += 20;
    assertAgrees(b, m, 'one log, no span');
    assert.equal(b.bytes, TRACE + 20 + LOG);
    b.addSpan(row, spans, 0, 40);
    t.spans.push([spans, 0]);
    t.bytes += 40;
    b.addLog(row, logs, 2, 30);
    t.logs.push([logs, 2]);
    t.logBytes += 30;
    b.addSpan(row, spans, 1, 50);
    t.spans.push([spans, 1]);
    t.bytes += 50;
    assertAgrees(b, m, 'spans and logs interleaved');
    assert.equal(b.bytes, TRACE + 90 + 2 * SPAN + 50 + 2 * LOG);
    assert.equal(b.rowStats.requests, 4, 'a request row per run of entries of one request');
    decide(b, m, 't');
    assertAgrees(b, m, 'decided');
    assert.deepEqual(b.rowStats, { traces: 0, entries: 0, requests: 0 });
  });

  void test('freed rows are reused: traces passing through a small window never grow the columns', () => {
    const b = new TraceBuffer();
    const req = scannedSpans([10, 10, 10, 10]);
    const seen = new Set<number>();
    for (let n = 0; n < 10_000; n++) {
      const row = b.open(tid(`t${n}`), n);
      seen.add(row);
      for (let i = 0; i < 4; i++) b.addSpan(row, req, i, 10);
      if (b.size > 10) {
        const oldest = b.oldest();
        assert.equal(b.traceId(oldest), tid(`t${n - 10}`));
        b.remove(oldest);
        b.free(oldest);
      }
    }
    assert.equal(b.size, 10);
    assert.ok(seen.size <= 11, `rows used: ${seen.size}`);
    // One request row all along: the request was never let go, since some span of it always waited.
    assert.deepEqual(b.rowStats, { traces: 10, entries: 40, requests: 1 });
    const row = b.oldest();
    assert.equal(b.traceId(row), tid('t9990'));
    assert.deepEqual(b.trace(row).spanEntries().indexes, [0, 1, 2, 3]);
  });

  void test('agrees with a Map model over 5,000 random steps', () => {
    let s = 12345;
    const random = (n: number): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return Math.floor((s / 2 ** 32) * n);
    };
    const b = new TraceBuffer();
    const m = new Model();
    const requests = Array.from({ length: 6 }, (_, k) => scannedSpans([10, 20, 30, 40], { fill: k }));
    const logRequests = Array.from({ length: 3 }, (_, k) => scannedLogs([15, 25], { fill: k }));
    let nextId = 0;
    let now = 0;
    for (let step = 0; step < 5000; step++) {
      const ids = [...m.traces.keys()];
      const op = random(10);
      now += random(3);
      if (op < 2 || ids.length === 0) {
        // Ids come back after they left, as a late trace's would; now and then one not from a scanner.
        const n = nextId++ % 40;
        const id = n % 10 === 9 ? `odd${n}` : tid(`t${n}`);
        if (m.traces.has(id)) continue;
        b.open(id, now);
        m.traces.set(id, { firstSeenMs: now, spans: [], logs: [], bytes: 0, logBytes: 0 });
      } else if (op < 6) {
        const id = ids[random(ids.length)]!;
        const req = requests[random(requests.length)]!;
        const i = random(4);
        const share = random(100) / 4;
        b.addSpan(b.find(id), req, i, share);
        const t = m.traces.get(id)!;
        t.spans.push([req, i]);
        t.bytes += share;
      } else if (op < 7) {
        const id = ids[random(ids.length)]!;
        const logs = logRequests[random(logRequests.length)]!;
        const i = random(2);
        b.addLog(b.find(id), logs, i, 15);
        const t = m.traces.get(id)!;
        t.logs.push([logs, i]);
        t.logBytes += 15;
      } else if (op < 9) {
        decide(b, m, ids[random(ids.length)]!);
      } else {
        const oldest = b.oldest();
        assert.equal(b.traceId(oldest), ids[0]);
        decide(b, m, ids[0]!);
      }
      assertAgrees(b, m, `step ${step}`);
    }
  });
});
