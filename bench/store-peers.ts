/**
 * Session 19: what a trace lookup pays for asking the other store replicas (query.peers, src/store/peer-spans.ts).
 * Three stores in this process over one bucket (a directory): `other` holds half of each recent trace in no block
 * yet; `front` and `alone` hold the other half, and `front` also asks `other` over HTTP (keep-alive). The bucket
 * holds 40 blocks of older traces, so a lookup also reads blocks as it would in a cluster. Alternating rounds of
 * lookups of recent traces on `alone` (the baseline: what a lookup cost before) and on `front`: wall time per
 * lookup (median of the round's) and this process's CPU per lookup (both replicas' work: the cluster's cost).
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

  const lookups = async (
    h: typeof front,
    round: number,
  ): Promise<{ ms: number; cpuMs: number; spans: number }> => {
    const times: number[] = [];
    let spans = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < LOOKUPS; i++) {
      const id = ids[(round * LOOKUPS + i) % ids.length] as string;
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${h.store.ports.query}/api/traces/${id}`);
      const body = (await res.json()) as { batches: Array<{ scopeSpans: Array<{ spans: unknown[] }> }> };
      times.push(performance.now() - t);
      for (const b of body.batches) for (const ss of b.scopeSpans) spans += ss.spans.length;
    }
    const cpu = process.cpuUsage(cpu0);
    return { ms: median(times), cpuMs: (cpu.user + cpu.system) / 1000 / LOOKUPS, spans: spans / LOOKUPS };
  };

  console.log(
    `node ${process.version}, ${availableParallelism()} cores; ${BLOCKS} blocks of 50 traces in the bucket, ${RECENT_TRACES} recent traces split 3 + 3 spans; ${ROUNDS} alternating rounds of ${LOOKUPS} lookups`,
  );
  console.log(
    '\n| round | alone: ms / lookup (CPU ms), spans | front with a peer: ms / lookup (CPU ms), spans | front / alone (wall) |',
  );
  console.log('|---|---|---|---|');
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  await lookups(alone, 0);
  await lookups(front, 0);
  for (let r = 1; r <= ROUNDS; r++) {
    const a = await lookups(alone, r);
    const f = await lookups(front, r);
    ratios.push(f.ms / a.ms);
    cpuRatios.push(f.cpuMs / a.cpuMs);
    console.log(
      `| ${r} | ${a.ms.toFixed(2)} (${a.cpuMs.toFixed(2)}), ${a.spans} | ${f.ms.toFixed(2)} (${f.cpuMs.toFixed(2)}), ${f.spans} | ${(f.ms / a.ms).toFixed(2)}x |`,
    );
  }
  console.log(
    `\nmedian front / alone: ${median(ratios).toFixed(2)}x wall, ${median(cpuRatios).toFixed(2)}x CPU (both replicas' work, one process)`,
  );
} finally {
  await Promise.all([front.dispose(), alone.dispose(), other.dispose()]);
  rmSync(dir, { recursive: true, force: true });
}
