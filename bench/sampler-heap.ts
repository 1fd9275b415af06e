/**
 * Issue 13: the whole TailSampler at 10k spans/s in one process, the code as it is now against the code of a
 * baseline commit (default 529d4f1, main before this change: the trace buffer as a WireTrace object with two arrays per trace in a Map,
 * the decision cache as two lru-cache maps of id strings), extracted with `git archive` and run in a child of
 * its own, fed the same requests.
 *
 * Load, on a simulated clock: a 100-span OTLP request every 10 ms for 40 s, encoded and scanned as the
 * receivers do; 20 traces of 5 spans open per request and get one span in each of 5 consecutive requests; 2 % of
 * traces have an error span. Policy: errors kept, 10 % probabilistic, decision_wait 10 s, completion off. About
 * 20,000 traces wait at a time and, after 40 s, the decision cache is full (50,000 dropped ids). Per child: CPU
 * (user + system, GC threads included), GC pauses (PerformanceObserver), old space, and the heap the sampler
 * holds at the end after a full GC (waiting traces with their requests, decision cache), per waiting trace.
 *
 * Phase `agent` (bench/_agent-path.ts; baseline main at the start of session 6): the agent's whole byte path with
 * the chart's policy and completion under bench/agent-footprint.ts's load, as CPU and JS heap allocated per span
 * (v8.GCProfiler: heap used before each GC less after the one before). BENCH_SAMPLER_PHASES=steady,agent picks
 * the phases (both by default); BENCH_BASELINE_REV replaces both baselines.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Figure,
  gc,
  gcFigures,
  MIB,
  measureSteps,
  printRatios,
  runChild,
  samplerTree,
  type RunFigures,
} from './_child-measure.js';
import { AGENT_PATH_SPANS_PER_SECOND, measureAgentPath, type AgentPathResult } from './_agent-path.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BASELINE = '529d4f1';
/** The agent phase's baseline: main at the start of session 6 (BENCH_BASELINE_REV replaces both). */
const AGENT_BASELINE = '6f7ba23';
const SPANS_PER_TRACE = 5;
const TRACES_PER_TICK = 20;
const TICK_MS = 10;
const RUN_MS = 40_000;
const POLICY = `
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 10}}
`;

interface Result extends RunFigures {
  heldMiB: number;
  waiting: number;
  cachedIds: number;
  countedMiB: number;
}

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, '0');

/** The sampler of the tree at `root` under the load above. */
async function measure(root: string): Promise<Result> {
  const {
    otlp,
    parsePolicyText,
    compilePolicy,
    staticPolicySource,
    TailSampler,
    Metrics,
    silentLogger,
    ManualClock,
  } = await samplerTree(root);
  const parsed = parsePolicyText(POLICY);
  if (!parsed.ok) throw new Error('policy');
  const startNs = 1_767_000_000_000_000_000n;
  /** The 100 spans of request `tick`: slot j is span k of the m-th trace opened k ticks earlier. */
  const request = (tick: number): Uint8Array => {
    const spans = [];
    for (let j = 0; j < TRACES_PER_TICK * SPANS_PER_TRACE; j++) {
      const k = j % SPANS_PER_TRACE;
      if (tick < k) continue;
      const n = (tick - k) * TRACES_PER_TICK + ((j / SPANS_PER_TRACE) | 0);
      const start = startNs + BigInt(tick * TICK_MS) * 1_000_000n;
      spans.push({
        traceId: hex(n + 1, 32),
        spanId: hex(n * SPANS_PER_TRACE + k + 1, 16),
        traceState: '',
        parentSpanId: k === 0 ? '' : hex(n * SPANS_PER_TRACE + 1, 16),
        flags: 1,
        name: k === 0 ? 'GET /api/orders' : 'SELECT orders',
        kind: k === 0 ? 2 : 3,
        startTimeUnixNano: start,
        endTimeUnixNano: start + BigInt(1_000_000 + ((n * 7919) % 50_000_000)),
        attributes: [
          { key: 'http.request.method', value: { stringValue: 'GET' } },
          { key: 'url.path', value: { stringValue: `/api/orders/${n}` } },
        ],
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: k === 1 && n % 50 === 0 ? 2 : 0, message: '' },
      });
    }
    return otlp.encodeTraceRequest({
      resourceSpans: [
        {
          resource: {
            attributes: [{ key: 'service.name', value: { stringValue: 'orders' } }],
            droppedAttributesCount: 0,
          },
          scopeSpans: [
            {
              scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 },
              spans,
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    });
  };
  const clock = new ManualClock();
  gc!();
  gc!();
  const m0 = process.memoryUsage();
  const base = m0.heapUsed + m0.arrayBuffers;
  const sampler = new TailSampler({
    next: {
      consume: async () => {},
      bufferedBytes: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    },
    policySource: staticPolicySource(compilePolicy(parsed.config)),
    metrics: new Metrics(),
    logger: silentLogger(),
    decisionWaitMs: 10_000,
    maxTraces: 50_000,
    maxBufferedBytes: 2 ** 40,
    clock,
  });
  const run = await measureSteps(RUN_MS / TICK_MS, 100, async (tick) => {
    await sampler.consume(otlp.wireBatch(otlp.scanTraceRequest(request(tick)).spans));
    clock.advance(TICK_MS);
  });
  const m1 = process.memoryUsage();
  const stats = sampler.stats();
  const result: Result = {
    ...run,
    heldMiB: (m1.heapUsed + m1.arrayBuffers - base) / MIB,
    waiting: stats.traces,
    cachedIds: stats.cached.kept + stats.cached.dropped,
    countedMiB: stats.bytes / MIB,
  };
  await sampler.shutdown();
  return result;
}

/** Each numeric field's median over rounds. */
function medianOf<R extends object>(rounds: R[]): R {
  const out: Record<string, unknown> = { ...rounds[0] };
  for (const [k, v] of Object.entries(out))
    if (typeof v === 'number') {
      const xs = rounds.map((r) => (r as Record<string, number>)[k]!).sort((a, b) => a - b);
      out[k] = xs[Math.floor(xs.length / 2)];
    }
  return out as R;
}

/**
 * Extracts `rev`'s src into a temp dir (node_modules linked) and runs `phase` there and in this tree, `rounds`
 * times alternately; each figure is the median of its rounds.
 */
async function beforeAndNow<R extends object>(rev: string, phase: string, rounds = 1): Promise<[R, R]> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-baseline-'));
  try {
    const files = 'src tsconfig.json package.json';
    const archive = spawnSync('sh', ['-c', `git archive ${rev} ${files} | tar -x -C '${dir}'`], {
      cwd: ROOT,
    });
    if (archive.status !== 0) throw new Error(`git archive ${rev} failed: ${String(archive.stderr)}`);
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const before: R[] = [];
    const now: R[] = [];
    for (let i = 0; i < rounds; i++) {
      before.push(await runChild<R>(import.meta.url, dir, phase));
      now.push(await runChild<R>(import.meta.url, ROOT, phase));
    }
    return [medianOf(before), medianOf(now)];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function steadyPhase(): Promise<void> {
  const rev = process.env['BENCH_BASELINE_REV'] ?? BASELINE;
  console.log(
    `\n### steady: ${RUN_MS / 1000} s of simulated clock, ${(TRACES_PER_TICK * SPANS_PER_TRACE * 1000) / TICK_MS} spans/s, traces of ${SPANS_PER_TRACE} spans over ${SPANS_PER_TRACE} requests; baseline ${rev}`,
  );
  const [before, now] = await beforeAndNow<Result>(rev, 'steady');
  const figures: Array<Figure<Result>> = [
    ['CPU ms (scan, sampler, decisions; GC included)', (r) => r.cpuMs, 0],
    ['JS heap allocated, MiB', (r) => r.allocatedMiB, 0],
    ...gcFigures<Result>(),
    ['traces waiting at the end', (r) => r.waiting, 0],
    ['ids in the decision cache at the end', (r) => r.cachedIds, 0],
    ['heap the sampler holds after a full GC, MiB', (r) => r.heldMiB, 1],
    ['  per waiting trace (requests and cache included), B', (r) => (r.heldMiB * MIB) / r.waiting, 0],
    ['the buffer count (stats.bytes), MiB', (r) => r.countedMiB, 1],
  ];
  printRatios([rev, 'this tree'], figures, before, now);
}

async function agentPhase(): Promise<void> {
  const rev = process.env['BENCH_BASELINE_REV'] ?? AGENT_BASELINE;
  console.log(
    `\n### agent: the byte path (scan, enrich, span metrics, sampler with the chart's policy and completion, release), ${AGENT_PATH_SPANS_PER_SECOND} spans/s for 40 s of simulated clock, the agent-footprint request; baseline ${rev}; medians of ${process.env['BENCH_ROUNDS'] ?? 5} alternating rounds`,
  );
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
  const [before, now] = await beforeAndNow<AgentPathResult>(rev, 'agent', rounds);
  const figures: Array<Figure<AgentPathResult>> = [
    ['CPU ms per 1,000 spans (GC included)', (r) => (r.cpuMs / r.spans) * 1000, 2],
    ['JS heap allocated per span, B', (r) => (r.allocatedMiB * MIB) / r.spans, 0],
    ...gcFigures<AgentPathResult>(),
    ['spans kept (exported)', (r) => r.keptSpans, 0],
  ];
  printRatios([rev, 'this tree'], figures, before, now);
}

if (process.argv[2] === '--child') {
  if (!gc) throw new Error('run with --expose-gc (npm run bench -- sampler-heap does)');
  const root = process.argv[3]!;
  process.send?.(process.argv[4] === 'agent' ? await measureAgentPath(root) : await measure(root));
} else {
  console.log(
    `cores: ${availableParallelism()}, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (the machine is shared: other sessions' work ran beside this)`,
  );
  const phases = (process.env['BENCH_SAMPLER_PHASES'] ?? 'steady,agent').split(',');
  if (phases.includes('steady')) await steadyPhase();
  if (phases.includes('agent')) await agentPhase();
}
