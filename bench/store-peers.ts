/**
 * Session 19: what a trace lookup pays for asking the other store replicas (query.peers, src/store/peer-spans.ts).
 * Three stores in this process over one bucket (a directory): `other` holds half of each recent trace in no block
 * yet; `front` and `alone` hold the other half, and `front` also asks `other` over HTTP (keep-alive). The bucket
 * holds 40 blocks of older traces, so a lookup also reads blocks as it would in a cluster. Alternating rounds of
 * lookups of recent traces on `alone` (the baseline: what a lookup cost before) and on `front`: wall time per
 * lookup (median of the round's) and this process's CPU per lookup (both replicas' work: the cluster's cost).
 * Then the same for searches (`{ resource.service.name =~ ".+" }`, limit 20, over the recent traces' hour).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenTraceData, toTraceData } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { consume, startTestStore } from '../test/helpers/store-harness.js';
import { makeTraces } from '../test/helpers/store-spans.js';
import { median } from './_stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const LOOKUPS = 100;
const SEARCHES = 30;
const RECENT_TRACES = 200;
const BLOCKS = 40;
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-peers-'));
const bucket = () => new LocalObjectStore(join(dir, 'data'));
const block = { max_age: '1h' };
const other = await startTestStore({ objectStore: bucket(), overrides: { block } });
// The block list re-read every 10 s (the default) on both fronts, not at each lookup (the test harness's 0 s).
const query = { endpoint: '127.0.0.1:0', refresh_interval: '10s' };
const alone = await startTestStore({ objectStore: bucket(), overrides: { block, query } });
const front = await startTestStore({
  objectStore: bucket(),
  overrides: {
    block,
    query: { ...query, peers: { urls: [`http://127.0.0.1:${other.store.ports.query}`] } },
  },
});

try {
  // Older traces in blocks (written by `other`, seen by all three through the bucket).
  for (let b = 0; b < BLOCKS; b++) {
    await consume(
      other.store,
      makeTraces({ traces: 50, spansPerTrace: 6, seed: 1000 + b, startMs: T0 - 3_600_000 }),
    );
    await other.store.pipeline.forceFlush();
  }
  await Promise.all([front.store.catalog.refresh(), alone.store.catalog.refresh()]);
  // Recent traces: spans 0-2 on front and alone, 3-5 on other, in no block.
  const rows = flattenTraceData(
    makeTraces({ traces: RECENT_TRACES, spansPerTrace: 6, seed: 7, startMs: T0 }),
  );
  const byTrace = new Map<string, typeof rows>();
  for (const r of rows) byTrace.set(r.span.traceId, [...(byTrace.get(r.span.traceId) ?? []), r]);
  const ids = [...byTrace.keys()];
  for (const spans of byTrace.values()) {
    const first = toTraceData(spans.slice(0, 3));
    await consume(front.store, first);
    await consume(alone.store, first);
    await consume(other.store, toTraceData(spans.slice(3)));
  }

  type Figures = { ms: number; cpuMs: number; found: number };
  type Harness = typeof front;
  /** `n` requests of `path(i)`: median wall ms, CPU ms per request, and what `count` finds in an answer. */
  const timed = async (
    h: Harness,
    n: number,
    path: (i: number) => string,
    count: (body: unknown) => number,
  ): Promise<Figures> => {
    const times: number[] = [];
    let found = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${h.store.ports.query}${path(i)}`);
      const body: unknown = await res.json();
      times.push(performance.now() - t);
      found += count(body);
    }
    const cpu = process.cpuUsage(cpu0);
    return { ms: median(times), cpuMs: (cpu.user + cpu.system) / 1000 / n, found: found / n };
  };
  const spansIn = (body: unknown): number => {
    let spans = 0;
    for (const b of (body as { batches: Array<{ scopeSpans: Array<{ spans: unknown[] }> }> }).batches)
      for (const ss of b.scopeSpans) spans += ss.spans.length;
    return spans;
  };
  const lookups = (h: Harness, round: number) =>
    timed(h, LOOKUPS, (i) => `/api/traces/${ids[(round * LOOKUPS + i) % ids.length] as string}`, spansIn);
  const q = encodeURIComponent('{ resource.service.name =~ ".+" }');
  const window = `start=${Math.floor(T0 / 1000) - 60}&end=${Math.floor(T0 / 1000) + 3600}`;
  const searches = (h: Harness) =>
    timed(
      h,
      SEARCHES,
      () => `/api/search?q=${q}&${window}&limit=20`,
      (body) => (body as { traces: unknown[] }).traces.length,
    );

  console.log(
    `node ${process.version}, ${availableParallelism()} cores; ${BLOCKS} blocks of 50 traces in the bucket, ${RECENT_TRACES} recent traces split 3 + 3 spans; ${ROUNDS} alternating rounds`,
  );
  const compare = async (
    what: string,
    unit: string,
    run: (h: Harness, round: number) => Promise<Figures>,
  ) => {
    console.log(
      `\n${what}\n\n| round | alone: ms (CPU ms), ${unit} | front with a peer: ms (CPU ms), ${unit} | front / alone (wall) |`,
    );
    console.log('|---|---|---|---|');
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    await run(alone, 0);
    await run(front, 0);
    for (let r = 1; r <= ROUNDS; r++) {
      const a = await run(alone, r);
      const f = await run(front, r);
      ratios.push(f.ms / a.ms);
      cpuRatios.push(f.cpuMs / a.cpuMs);
      console.log(
        `| ${r} | ${a.ms.toFixed(2)} (${a.cpuMs.toFixed(2)}), ${a.found} | ${f.ms.toFixed(2)} (${f.cpuMs.toFixed(2)}), ${f.found} | ${(f.ms / a.ms).toFixed(2)}x |`,
      );
    }
    console.log(
      `\nmedian front / alone: ${median(ratios).toFixed(2)}x wall, ${median(cpuRatios).toFixed(2)}x CPU (both replicas' work, one process)`,
    );
  };
  await compare(`Trace lookups (${LOOKUPS} a round)`, 'spans', lookups);
  await compare(`Searches (${SEARCHES} a round, limit 20)`, 'traces', (h) => searches(h));
} finally {
  await Promise.all([front.dispose(), alone.dispose(), other.dispose()]);
  rmSync(dir, { recursive: true, force: true });
}
