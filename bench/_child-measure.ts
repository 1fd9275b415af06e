/**
 * What the buffer benches (hold-buffer.ts, trace-buffer.ts) share: each layout and phase runs in a child process
 * of its own, watches its GC pauses and old space, and feeds the same scanned requests and trace ids.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics, getHeapSpaceStatistics } from 'node:v8';
import { encodeTraceRequest, scanTraceRequest, type WireSpans } from '../src/otlp/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

export const MIB = 1024 * 1024;

export const gc = (globalThis as { gc?: () => void }).gc;

export const oldSpace = (): number =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;

/** 50 requests of 100 spans (20 traces of 5 spans), scanned as the receivers scan them. */
export function scannedRequests(): WireSpans[] {
  const out: WireSpans[] = [];
  for (let seed = 1; seed <= 50; seed++)
    out.push(scanTraceRequest(encodeTraceRequest(makeTraces({ traces: 20, spansPerTrace: 5, seed }))).spans);
  return out;
}

const idBytes = Buffer.alloc(16, 0xab);
/** A trace id as the scanner makes it: 32 hex characters, one flat string (a new one per call). */
export function traceId(n: number): string {
  idBytes.writeUInt32BE(n, 12);
  return idBytes.toString('hex');
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The sampler's modules of the tree at `root` (this tree or a baseline's extracted src), for the sampler benches. */
export async function samplerTree(root: string): Promise<Record<string, any>> {
  const src = (path: string) => import(join(root, 'src', path));
  return {
    otlp: await src('otlp/index.ts'),
    // parsePolicyText: from policy-config.ts, where every tree has it (the sampling index stopped exporting it in
    // session 12, when the agent's process stopped loading zod).
    ...(await src('sampling/policy-config.ts')),
    ...(await src('sampling/index.ts')),
    ...(await src('sampling/sampling-policy.ts')),
    ...(await src('sampling/tail-sampler.ts')),
    ...(await src('telemetry/index.ts')),
    ...(await src('clock.ts')),
    src,
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Counts GC pauses from now until `stop()`: how many, their ms, how many were mark-compacts. */
export function watchGc(): { stop(): { gcCount: number; gcMs: number; majorGcs: number } } {
  const r = { gcCount: 0, gcMs: 0, majorGcs: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      r.gcCount++;
      r.gcMs += e.duration;
      if ((e as { detail?: { kind?: number } }).detail?.kind === 4) r.majorGcs++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      obs.disconnect();
      return r;
    },
  };
}

/** CPU, GC and old-space figures of a run (measureSteps). */
export interface RunFigures {
  cpuMs: number;
  gcCount: number;
  gcMs: number;
  majorGcs: number;
  oldSpaceStartMiB: number;
  oldSpaceMaxMiB: number;
  /** JS heap allocated during the run (GCProfiler: heap used before each GC less after the one before). */
  allocatedMiB: number;
}

/** Counts the JS heap allocated from now until `stop()`, from the heap used around each GC (v8.GCProfiler). */
export function watchAllocation(): { stop(): number } {
  const start = getHeapStatistics().used_heap_size;
  const profiler = new GCProfiler();
  profiler.start();
  return {
    stop() {
      const end = getHeapStatistics().used_heap_size;
      let allocated = 0;
      let after = start;
      for (const gc of profiler.stop()?.statistics ?? []) {
        allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - after);
        after = gc.afterGC.heapStatistics.usedHeapSize;
      }
      return allocated + Math.max(0, end - after);
    },
  };
}

/**
 * Runs `step(0 .. steps - 1)` after a full GC, with CPU (user + system, GC threads included), GC pauses and old
 * space from there; every `yieldEvery` steps the event loop turns (as the agent's does between requests: GC
 * entries are delivered then) and the old space is sampled. Ends with a full GC, for the caller's heap figures.
 */
export async function measureSteps(
  steps: number,
  yieldEvery: number,
  step: (i: number) => void | Promise<void>,
): Promise<RunFigures> {
  gc!();
  const oldStart = oldSpace();
  let oldMax = oldStart;
  const gcs = watchGc();
  const allocation = watchAllocation();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    await step(i);
    if (i % yieldEvery === 0) {
      oldMax = Math.max(oldMax, oldSpace());
      await new Promise((r) => setImmediate(r));
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const allocated = allocation.stop();
  await new Promise((r) => setImmediate(r));
  const figures = gcs.stop();
  gc!();
  gc!();
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    ...figures,
    oldSpaceStartMiB: oldStart / MIB,
    oldSpaceMaxMiB: oldMax / MIB,
    allocatedMiB: allocated / MIB,
  };
}

/** Runs `script --child name phase` with --expose-gc and resolves with the one message it sends. */
export function runChild<T>(script: string, name: string, phase: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const c = fork(new URL(script).pathname, ['--child', name, phase], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
    });
    let result: T | undefined;
    c.once('message', (m) => (result = m as T));
    c.once('error', reject);
    c.once('exit', (code) =>
      result !== undefined && code === 0
        ? resolve(result)
        : reject(new Error(`${name} ${phase} child exited with ${code}`)),
    );
  });
}

/** A table row: its label, how to read it from a child's result, its decimals. */
export type Figure<R> = readonly [label: string, read: (r: R) => number, digits: number];

/** The GC and old-space rows every buffer bench prints. */
export function gcFigures<
  R extends {
    gcCount: number;
    gcMs: number;
    majorGcs: number;
    oldSpaceStartMiB: number;
    oldSpaceMaxMiB: number;
  },
>(): Array<Figure<R>> {
  return [
    ['GC pauses', (r) => r.gcCount, 0],
    ['GC pause ms', (r) => r.gcMs, 0],
    ['mark-compacts', (r) => r.majorGcs, 0],
    ['old space after a full GC at the start, MiB', (r) => r.oldSpaceStartMiB, 1],
    ['old space max, MiB', (r) => r.oldSpaceMaxMiB, 1],
  ];
}

/** Prints before and now side by side, with now / before. */
export function printRatios<R>(
  names: readonly [before: string, now: string],
  figures: ReadonlyArray<Figure<R>>,
  before: R,
  now: R,
): void {
  console.log(`\n| figure | before (${names[0]}) | now (${names[1]}) | now / before |`);
  console.log('|---|---|---|---|');
  for (const [label, f, digits] of figures) {
    const a = f(before);
    const b = f(now);
    console.log(
      `| ${label} | ${a.toFixed(digits)} | ${b.toFixed(digits)} | ${a === 0 ? '-' : (b / a).toFixed(2)}x |`,
    );
  }
}
