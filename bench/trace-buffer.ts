/**
 * Issue 13: what does the trace buffer cost per waiting trace, laid out in typed-array columns (now:
 * src/sampling/trace-buffer.ts) against a WireTrace object with two arrays per trace in a Map (before:
 * bench/_trace-buffer-map.ts)?
 *
 * The sampler's work on the buffer at 10k spans/s, on a simulated clock: a 100-span request every 10 ms for 30 s;
 * 20 traces of 5 spans open per request and each gets one span in each of 5 consecutive requests (so a request
 * holds spans of 100 traces and a trace spans 5 requests); every span is looked up by its id (a new string each
 * time, as the scanner makes them) and added; each tick every trace older than decision_wait (10 s) is decided
 * as a latency + status_code policy reads it (the two fast paths) and taken out. About 20,000 traces wait at a
 * time. Each layout runs in a child process of its own: CPU (user + system, GC threads included), GC pauses and
 * old space from the start, heap after a full GC at the end. Then, in fresh children, 20,000 traces of 1 and of
 * 9 spans (one span of 100 traces per request) with no decision: heap per trace and per span after a full GC (the two figures TRACE_OVERHEAD_BYTES
 * and SPAN_OVERHEAD_BYTES stand for; trace ids included, the scanned requests not). And the decision cache
 * full at its default sizes, as two lru-cache LRUs of id strings (before, test/helpers/lru-decision-cache.ts) and
 * in typed-array rows (now). Ratios are now / before.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { WireSpans } from '../src/otlp/index.js';
import { WireTraceView } from '../src/sampling/buffered-trace.js';
import { DecisionCache } from '../src/sampling/decision-cache.js';
import type { TraceDecision } from '../src/sampling/sampling-policy.js';
import { NONE } from '../src/sampling/rows.js';
import * as rows from '../src/sampling/trace-buffer.js';
import * as map from './_trace-buffer-map.js';
import { LruDecisionCache } from '../test/helpers/lru-decision-cache.js';
import {
  type Figure,
  gc,
  gcFigures,
  MIB,
  measureSteps,
  printRatios,
  runChild,
  scannedRequests,
  traceId,
} from './_child-measure.js';

const SPANS_PER_TRACE = 5;
const TRACES_PER_TICK = 20;
const TICK_MS = 10;
const RUN_MS = 30_000;
const WAIT_MS = 10_000;
const OVERHEAD_TRACES = 20_000;
const CODES: ReadonlySet<number> = new Set([2]);

/** What both layouts do for the sampler. */
interface Buffer {
  /** Finds or opens the trace and adds span `i` of `req` (the sampler's consume pass). */
  add(id: string, req: WireSpans, i: number, now: number): void;
  /** Decides (reads latency and status, takes out) every trace due; how many. */
  decideDue(now: number): number;
  readonly stats: { traces: number; spans: number; bytes: number };
}

let sink = 0;
const LAYOUTS: Record<string, () => Buffer> = {
  map: () => {
    const b = new map.TraceBuffer();
    return {
      add(id, req, i, now) {
        const t = b.get(id) ?? b.open(id, now);
        b.addSpan(t, req, i, 1);
      },
      decideDue(now) {
        let n = 0;
        for (let t = b.oldest(); t !== undefined && t.firstSeenMs + WAIT_MS <= now; t = b.oldest(), n++) {
          b.remove(t);
          sink += (map.latencyMs(t) ?? 0) + (map.hasStatusCode(t, CODES) ? 1 : 0);
        }
        return n;
      },
      get stats() {
        return { traces: b.size, spans: b.spanCount, bytes: b.bytes };
      },
    };
  },
  rows: () => {
    const b = new rows.TraceBuffer();
    return {
      add(id, req, i, now) {
        let row = b.find(id);
        if (row === NONE) row = b.open(id, now);
        b.addSpan(row, req, i, 1);
      },
      decideDue(now) {
        let n = 0;
        for (
          let row = b.oldest();
          row !== NONE && b.firstSeenMs(row) + WAIT_MS <= now;
          row = b.oldest(), n++
        ) {
          b.remove(row);
          const view = new WireTraceView(b.trace(row), undefined);
          sink += (view.latencyMs() ?? 0) + (view.hasStatusCode(CODES) ? 1 : 0);
          b.free(row);
        }
        return n;
      },
      get stats() {
        return { traces: b.size, spans: b.spanCount, bytes: b.bytes };
      },
    };
  },
};

const heapNow = (): number => {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

async function steady(make: () => Buffer, reqs: WireSpans[]) {
  let peakTraces = 0;
  let decided = 0;
  const b = make();
  const run = await measureSteps(RUN_MS / TICK_MS, 100, (tick) => {
    const now = tick * TICK_MS;
    const req = reqs[tick % reqs.length]!;
    // Slot j: the k-th span of the m-th trace opened k ticks ago.
    for (let j = 0; j < TRACES_PER_TICK * SPANS_PER_TRACE; j++) {
      const k = j % SPANS_PER_TRACE;
      if (tick < k) continue;
      b.add(traceId((tick - k) * TRACES_PER_TICK + ((j / SPANS_PER_TRACE) | 0)), req, j, now);
    }
    peakTraces = Math.max(peakTraces, b.stats.traces);
    decided += b.decideDue(now);
  });
  const heap = heapNow();
  return {
    ...run,
    heapMiB: heap / MIB,
    peakTraces,
    decided,
    stats: b.stats,
    sink,
  };
}

/** Heap per waiting trace of `spans` spans after a full GC, each span in a different request; and the count. */
function overhead(make: () => Buffer, reqs: WireSpans[], spans: number): { heap: number; counted: number } {
  const before = heapNow();
  const b = make();
  // As requests come: each holds one span of each of 100 traces, and a trace's spans come in `spans` requests.
  for (let n0 = 0; n0 < OVERHEAD_TRACES; n0 += 100)
    for (let k = 0; k < spans; k++) {
      const req = reqs[(n0 / 100 + k) % reqs.length]!;
      for (let m = 0; m < 100; m++) b.add(traceId(n0 + m), req, m, 0);
    }
  const grown = heapNow() - before;
  // The spans' share (1 B each, see add) is not overhead.
  const counted = (b.stats.bytes - b.stats.spans) / OVERHEAD_TRACES;
  const alive = b.stats.traces;
  if (alive !== OVERHEAD_TRACES) throw new Error(`expected ${OVERHEAD_TRACES} traces, got ${alive}`);
  return { heap: grown / OVERHEAD_TRACES, counted };
}

/**
 * Heap per remembered id of the decision cache, full at its default sizes (10,000 kept, 50,000 dropped), each id
 * recorded once more after it is full (so that both evict); ids as the scanner makes them.
 */
function cacheOverhead(name: string): number {
  const kept: TraceDecision = { keep: true, reason: 'rule', policy: 'errors', weight: 1 };
  const dropped: TraceDecision = { keep: false, reason: 'not_sampled', policy: '', weight: 0 };
  const before = heapNow();
  const c = name === 'map' ? new LruDecisionCache(10_000, 50_000) : new DecisionCache(10_000, 50_000);
  for (let n = 0; n < 120_000; n++) c.record(traceId(n), n % 6 === 0 ? kept : dropped);
  const grown = heapNow() - before;
  const { kept: k, dropped: d } = c.size;
  if (k + d !== 60_000) throw new Error(`expected 60,000 ids, got ${k + d}`);
  return grown / 60_000;
}

async function child(name: string, phase: string): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc (npm run bench -- trace-buffer does)');
  const make = LAYOUTS[name]!;
  const reqs = scannedRequests();
  if (phase === 'cache') process.send?.(cacheOverhead(name));
  else process.send?.(phase === 'steady' ? await steady(make, reqs) : overhead(make, reqs, Number(phase)));
}

type Steady = Awaited<ReturnType<typeof steady>>;
interface Result extends Steady {
  cachePerId: number;
  oneSpan: number;
  nineSpans: number;
  perTrace: number;
  perSpan: number;
  countedPerTrace: number;
  countedPerSpan: number;
}

async function run(name: string): Promise<Result> {
  const s = await runChild<Steady>(import.meta.url, name, 'steady');
  const cachePerId = await runChild<number>(import.meta.url, name, 'cache');
  const one = await runChild<{ heap: number; counted: number }>(import.meta.url, name, '1');
  const nine = await runChild<{ heap: number; counted: number }>(import.meta.url, name, '9');
  const perSpan = (nine.heap - one.heap) / 8;
  const countedPerSpan = (nine.counted - one.counted) / 8;
  return {
    ...s,
    cachePerId,
    oneSpan: one.heap,
    nineSpans: nine.heap,
    perSpan,
    perTrace: one.heap - perSpan,
    countedPerSpan,
    countedPerTrace: one.counted - countedPerSpan,
  };
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!);
} else {
  console.log(
    `cores: ${availableParallelism()}, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (the machine is shared: other sessions' work ran beside this)`,
  );
  console.log(
    `${RUN_MS / 1000} s of simulated clock: ${(TRACES_PER_TICK * SPANS_PER_TRACE * 1000) / TICK_MS} spans/s, traces of ${SPANS_PER_TRACE} spans over ${SPANS_PER_TRACE} requests, decision_wait ${WAIT_MS / 1000} s`,
  );
  const before = await run('map');
  const now = await run('rows');
  const table: Array<Figure<Result>> = [
    ['CPU ms (lookups, adds, decisions; GC included)', (r) => r.cpuMs, 0],
    ...gcFigures<Result>(),
    ['heap after a full GC at the end, MiB', (r) => r.heapMiB, 1],
    ['traces waiting at most', (r) => r.peakTraces, 0],
    ['traces decided', (r) => r.decided, 0],
    ['heap per waiting trace of 1 span, B', (r) => r.oneSpan, 0],
    ['heap per waiting trace of 9 spans, B', (r) => r.nineSpans, 0],
    ['heap per waiting trace (its spans apart), B', (r) => r.perTrace, 0],
    ['  counted (TRACE_OVERHEAD_BYTES)', (r) => r.countedPerTrace, 0],
    ['heap per waiting span (before: the arrays start with room for 16), B', (r) => r.perSpan, 1],
    ['  counted (SPAN_OVERHEAD_BYTES)', (r) => r.countedPerSpan, 0],
    ['decision cache: heap per remembered id (10,000 kept + 50,000 dropped), B', (r) => r.cachePerId, 0],
  ];
  printRatios(['object + arrays, Map', 'columns'], table, before, now);
}
