/**
 * Issue 13: what does the completion buffer cost, its held bytes in slabs outside the V8 heap (now) against a
 * latin1 string, an index array and a scopes array per held part (before, bench/_hold-buffer-strings.ts)?
 *
 * Dropped traces of 5 spans (makeTraces' spans, scanned as the receivers scan them) are held as the sampler
 * holds them, on a simulated clock: 2,000 traces (10,000 spans) a second, 20 every 10 ms, for 90 s, with the
 * chart's completion config (window 30 s, max_bytes 32 MiB); each tick the feed releases one trace held 5 s
 * earlier (take, then every span read back as the sampler re-encodes it) and the hold timer expires the old
 * ones. Each layout runs in its own child process: CPU (user + system, GC threads included), GC pauses and
 * old-space size from the start, then heap (heapUsed, arrayBuffers) after a full GC, held figures by the
 * buffer's own count. Then, in the same child, 100,000 one-part traces with no bound: heap per held part beyond
 * its span bytes, the figure HELD_PART_OVERHEAD_BYTES stands for. Ratios are now / before, same run. Last, the
 * index's typed arrays' own lengths per held part (exact, not a heap figure) as one-part traces are added,
 * 10,000 to 160,000 of them: the columns grow in steps, so one count (100,000 above) may fall anywhere between
 * just after a step (most slack) and just before one (least).
 */
import { availableParallelism, loadavg } from 'node:os';
import type { WireScope, WireSpans } from '../src/otlp/index.js';
import * as slabs from '../src/sampling/completion/hold-buffer.js';
import * as strings from './_hold-buffer-strings.js';
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
  type RunFigures,
} from './_child-measure.js';

const SPANS_PER_TRACE = 5;
const TRACES_PER_TICK = 20;
const TICK_MS = 10;
const RUN_MS = 90_000;
const WINDOW_MS = 30_000;
const MAX_BYTES = 32 * MIB;
const RELEASE_AGE_MS = 5_000;
const OVERHEAD_TRACES = 100_000;

type Visit = (scope: WireScope, bytes: Buffer, start: number, end: number, marks: number) => void;
/** What both layouts offer the sampler. */
interface Layout {
  make(
    onEvict: () => void,
    maxBytes: number,
  ): {
    add(id: string, requests: WireSpans[], indexes: number[], now: number): void;
    take(id: string): number;
    expire(now: number): void;
    stats: { traces: number; spans: number; bytes: number };
  };
  /** Bytes allocated outside the heap's objects for held bytes (slabs), to take from the heap figure. */
  slabBytes(buffer: unknown): number;
}

function readBack<P>(parts: readonly P[], each: (p: P, visit: Visit) => void): number {
  let n = 0;
  for (const p of parts) each(p, (_s, bytes, start, end) => (n += bytes[start]! + end - start));
  return n;
}

const LAYOUTS: Record<string, Layout> = {
  strings: {
    make: (onEvict, maxBytes) => {
      const b = new strings.HoldBuffer({ windowMs: WINDOW_MS, maxBytes, onEvict });
      return {
        add: (id, r, i, now) => b.add(id, strings.holdSpans(r, i), now),
        take: (id) => readBack(b.take(id)?.parts ?? [], strings.forEachHeldSpan),
        expire: (now) => b.expire(now),
        get stats() {
          return b.stats;
        },
      };
    },
    slabBytes: () => 0,
  },
  slabs: {
    make: (onEvict, maxBytes) => {
      // Unpacked: this compares layouts; packing (session 12) deflates what this bench's spans, a few templates
      // repeated, would give far better than an app's: agent-footprint.ts measures it with a varied load.
      const b = new slabs.HoldBuffer({ windowMs: WINDOW_MS, maxBytes, onEvict, pack: false });
      return {
        add: (id, r, i, now) => b.add(id, slabs.holdSpans(r, i), now),
        take: (id) => readBack(b.take(id)?.parts ?? [], slabs.forEachHeldSpan),
        expire: (now) => b.expire(now),
        get stats() {
          return b.stats;
        },
        slabs: b,
      };
    },
    slabBytes: (buffer) => (buffer as { slabs: slabs.HoldBuffer }).slabs.slabStats.allocatedBytes,
  },
};

interface ChildResult extends RunFigures {
  heapUsedMiB: number;
  arrayBuffersMiB: number;
  rssMiB: number;
  held: { traces: number; spans: number; bytes: number };
  evicted: number;
  released: number;
  heldSpanBytes: number;
  overheadPerPart: number;
}

/** Indexes of trace `n`'s spans in its request (20 traces of 5 spans a request). */
function traceOf(reqs: WireSpans[], n: number): [WireSpans[], number[]] {
  const req = reqs[n % reqs.length]!;
  const first = ((n / reqs.length) | 0) % 20;
  const idx = Array.from({ length: SPANS_PER_TRACE }, (_, k) => first * SPANS_PER_TRACE + k);
  return [Array(SPANS_PER_TRACE).fill(req) as WireSpans[], idx];
}

/** The steady run: hold, release, expire on the simulated clock. */
async function steady(layout: Layout, reqs: WireSpans[]) {
  let evicted = 0;
  let released = 0;
  const hold = layout.make(() => evicted++, MAX_BYTES);
  // The ids of the last RELEASE_AGE_MS, as a ring.
  const ids: string[] = new Array<string>((RELEASE_AGE_MS / TICK_MS) * TRACES_PER_TICK).fill('');
  let n = 0;
  const run = await measureSteps(RUN_MS / TICK_MS, 1000 / TICK_MS, (tick) => {
    const now = tick * TICK_MS;
    const old = ids[n % ids.length] as string;
    if (old !== '' && hold.take(old) > 0) released++;
    for (let t = 0; t < TRACES_PER_TICK; t++) {
      const id = traceId(n);
      ids[n % ids.length] = id;
      const [r, idx] = traceOf(reqs, n++);
      hold.add(id, r, idx, now);
    }
    hold.expire(now);
  });
  const mem = process.memoryUsage();
  return {
    ...run,
    heapUsedMiB: mem.heapUsed / MIB,
    arrayBuffersMiB: mem.arrayBuffers / MIB,
    rssMiB: mem.rss / MIB,
    held: { ...hold.stats },
    evicted,
    released,
  };
}

/** Heap per held part beyond its span bytes: one-part traces, no bound. */
function overheadPerPart(name: string, layout: Layout, reqs: WireSpans[]): number {
  gc!();
  gc!();
  const before = process.memoryUsage();
  const big = layout.make(() => {}, 2 ** 40);
  let data = 0;
  for (let i = 0; i < OVERHEAD_TRACES; i++) {
    const [r, idx] = traceOf(reqs, i);
    for (let k = 0; k < idx.length; k++) data += r[k]!.lengths[idx[k]!]!;
    big.add(traceId(i), r, idx, 0);
  }
  gc!();
  gc!();
  const after = process.memoryUsage();
  const grown =
    after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers - layout.slabBytes(big);
  // The strings' characters are the spans' own bytes, not overhead; the slabs were taken out above (span
  // headers and the unwritten end of the last slab with them).
  return (grown - (name === 'strings' ? data : 0)) / OVERHEAD_TRACES;
}

/** Typed arrays' bytes among an object's fields. */
function typedArrayBytes(o: object): number {
  let n = 0;
  for (const v of Object.values(o)) if (ArrayBuffer.isView(v)) n += v.byteLength;
  return n;
}

/** The index's typed arrays per held one-part trace, at counts 2^(1/15) apart from 10,000 to 160,000. */
function columnsPerPart(reqs: WireSpans[]): { mean: number; min: number; max: number } {
  const b = new slabs.HoldBuffer({ windowMs: WINDOW_MS, maxBytes: 2 ** 40, onEvict: () => {}, pack: false });
  // Its id table, trace rows and part rows (private fields: this reads their arrays' lengths only).
  const index = b as unknown as { ids: object; traces: object; parts: object };
  const perPart: number[] = [];
  let i = 0;
  for (let k = 0; k <= 60; k++) {
    const n = Math.round(10_000 * 2 ** (k / 15));
    for (; i < n; i++) b.add(traceId(i), slabs.holdSpans([reqs[i % reqs.length]!], [0]), 0);
    perPart.push(
      (typedArrayBytes(index.ids) + typedArrayBytes(index.traces) + typedArrayBytes(index.parts)) / n,
    );
  }
  const mean = perPart.reduce((a, x) => a + x, 0) / perPart.length;
  return { mean, min: Math.min(...perPart), max: Math.max(...perPart) };
}

/** One layout, one phase, in a child process of its own (so that one phase's heap does not weigh on the other). */
async function child(name: string, phase: string): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc (npm run bench -- hold-buffer does)');
  const layout = LAYOUTS[name]!;
  const reqs = scannedRequests();
  if (phase === 'overhead') {
    process.send?.(overheadPerPart(name, layout, reqs));
    return;
  }
  if (phase === 'columns') {
    process.send?.(columnsPerPart(reqs));
    return;
  }
  const spanBytes = reqs.reduce((n, r) => n + r.lengths.reduce((a, b) => a + b, 0), 0);
  process.send?.({ ...(await steady(layout, reqs)), heldSpanBytes: spanBytes / (reqs.length * 100) });
}

async function run(name: string): Promise<ChildResult> {
  const steadyResult = await runChild<Omit<ChildResult, 'overheadPerPart'>>(import.meta.url, name, 'steady');
  return { ...steadyResult, overheadPerPart: await runChild<number>(import.meta.url, name, 'overhead') };
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
    `${RUN_MS / 1000} s of simulated clock: ${(TRACES_PER_TICK * 1000) / TICK_MS} dropped traces/s of ${SPANS_PER_TRACE} spans held, window ${WINDOW_MS / 1000} s, max_bytes ${MAX_BYTES / MIB} MiB; one trace released per ${TICK_MS} ms tick`,
  );
  const before = await run('strings');
  const now = await run('slabs');
  console.log(`span bytes: ${before.heldSpanBytes.toFixed(0)} B per span on average`);
  const rows: Array<Figure<ChildResult>> = [
    ['CPU ms (hold, release, expire; GC included)', (r) => r.cpuMs, 0],
    ...gcFigures<ChildResult>(),
    ['heapUsed after full GC, MiB', (r) => r.heapUsedMiB, 1],
    ['arrayBuffers after full GC, MiB', (r) => r.arrayBuffersMiB, 1],
    ['RSS, MiB', (r) => r.rssMiB, 0],
    ['held traces at the end', (r) => r.held.traces, 0],
    ['held bytes (stats.bytes), MiB', (r) => r.held.bytes / MIB, 1],
    ['traces evicted', (r) => r.evicted, 0],
    ['traces released', (r) => r.released, 0],
    ['heap per held part beyond its span bytes, B', (r) => r.overheadPerPart, 0],
  ];
  printRatios(['strings', 'slabs'], rows, before, now);
  const c = await runChild<{ mean: number; min: number; max: number }>(import.meta.url, 'slabs', 'columns');
  console.log(
    `slabs: index typed arrays per held part, 10,000-160,000 one-part traces: mean ${c.mean.toFixed(1)} B, min ${c.min.toFixed(1)}, max ${c.max.toFixed(1)}`,
  );
}
