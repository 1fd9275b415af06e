/**
 * What does one agent cost per pod, with the config the chart gives it (issue 13)?
 *
 * `helm template charts/sentinel` (the real helm binary) renders the agent config, the sampling policy, the store
 * config and the injector config; the bench runs `node dist/cli.js agent` (compiled first, as the image runs it)
 * with that config in front of `node dist/cli.js store` with the chart's store config, both children on loopback.
 * Only what one machine needs is replaced: listen addresses (127.0.0.1, free ports), file paths (a temp dir:
 * podinfo, token, queue, WAL, data, decisions, policy), the exporter endpoint (the store child) and the
 * completion feed's `stores_dns` (the store child's query URL in `stores`). Everything else (decision_wait,
 * buffers, completion window and max_bytes, queue size, the policy) is the chart's.
 *
 * A third process offers 100-span OTLP/gRPC requests (pre-encoded, fresh trace ids, about 2 % error spans) at
 * each rate for BENCH_DURATION_S (default 60) seconds, at most 64 in flight (as 64 SDK clients; beyond, a request
 * is shed and counted) and each given 10 s (an SDK exporter's default timeout; later counts as refused). Per rate: idle and peak RSS (VmHWM, against the chart's
 * agent memory limit), the peak of its anonymous part (RssAnon, sampled every 200 ms: what a pod pays on its own), CPU per 1,000 accepted spans (load plus decision_wait plus 3 s, so the decisions and
 * exports of the last spans count), traces decided before decision_wait (sentinel_sampling_early_decisions_total),
 * completion evictions, sentinel_sampling_completion_held_oldest_seconds; Node alone (an empty event loop) is
 * the idle baseline, measured in the same run. Each rate's CPU also has a baseline from the same run: the
 * no-decode grpc-js server fed the same paced load for up to 20 s before the agent's loads (what receiving the
 * requests costs alone at that rate), and the ratio of the two.
 *
 * A second table gives the load's seconds alone (no decision_wait) for the agent and the no-decode server: CPU
 * ms per second, minor page faults per second and wake-ups per second (voluntary context switches, every thread).
 * Those two are counts, steadier than CPU time on a shared machine, and say what a CPU figure is made of where
 * the machine charges much for each (session 18). The run's last line is its figures as JSON
 * (bench/_footprint-result.ts), which bench/agent-stages.ts reads.
 *
 * Then the full-speed figure: 8 requests in flight for BENCH_FULL_SPEED_S (default 30) seconds against a grpc-js
 * server that decodes nothing, then against the agent, each pinned to CPU 0 and the load and the store to the
 * other CPUs (BENCH_PIN=0: not pinned); spans/s as a ratio, p99, the agent's peak RSS.
 *
 * Env: BENCH_DURATION_S, BENCH_RATES (default 1000,10000,30000), BENCH_FULL_SPEED_S (0 skips it),
 * BENCH_AGENT_NODE_OPTIONS (default: what the injector sets for the chart's limit; "none" for no flags),
 * BENCH_AGENT_NODE_ARGS (node flags on the agent's command line, such as `--cpu-prof --cpu-prof-dir=/tmp/p`),
 * BENCH_AGENT_STDOUT (a file that gets the agent's standard output at the end, e.g. with `--trace-gc`),
 * BENCH_AGENT_CONFIG (JSON merged over the rendered agent config, for experiments: not the chart's figures),
 * BENCH_AGENT_ENV (JSON: replaces the injector's other process env, MALLOC_MMAP_THRESHOLD_; '{}' for none),
 * BENCH_PIN (0: the full-speed servers are not pinned to CPU 0 away from the load and the store),
 * BENCH_TRANSPORT (http: the paced loads over OTLP/HTTP protobuf, what the injector points apps at; default gRPC),
 * BENCH_LOAD (sidecar: one pod's app, one resource and 50 traces of 2 spans per request; default gateway, the
 * issue's load: about 30 resources and 20 whole traces of 5 spans per request; bench/_footprint-request.ts),
 * BENCH_WARMUP_S (default 30, 0 for none: seconds at 1k spans/s before the measured rates, printed on their own).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSentinel, type SentinelChild } from '../test/helpers/child.js';
import type { FootprintLoadJob, FootprintLoadResult } from './_footprint-load.js';
import { loadShape } from './_footprint-request.js';
import { buildDist, chartAgentSetup, pinToCpus, ROOT, type Yaml } from './_footprint-setup.js';
import { RESULT_PREFIX, type CounterRates, type FootprintResult } from './_footprint-result.js';
import { scrapeMetrics } from './_scrape-metrics.js';

const MiB = 2 ** 20;
const DURATION_MS = Number(process.env['BENCH_DURATION_S'] ?? 60) * 1000;
// BENCH_RATES= (empty) runs only the idle and full-speed figures.
const RATES = (process.env['BENCH_RATES'] ?? '1000,10000,30000').split(',').filter(Boolean).map(Number);
const FULL_SPEED_MS = Number(process.env['BENCH_FULL_SPEED_S'] ?? 30) * 1000;
// BENCH_PIN=0: the full-speed servers share every CPU with the load and the store (as before session 6).
const PIN = process.env['BENCH_PIN'] !== '0';
// BENCH_WARMUP_S (default 30; 0 for none): 1k spans/s before the measured rates, reported on its own line.
const WARMUP_MS = Number(process.env['BENCH_WARMUP_S'] ?? 30) * 1000;
// BENCH_TRANSPORT=http: the paced loads (and their floor) over OTLP/HTTP protobuf, as the injector points apps.
const TRANSPORT: 'grpc' | 'http' = process.env['BENCH_TRANSPORT'] === 'http' ? 'http' : 'grpc';
const SETTLE_AFTER_DECISION_WAIT_MS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;

/** Sums the series of one metric, optionally only those whose labels contain `label`. */
function sum(m: Map<string, number>, name: string, label = ''): number {
  let n = 0;
  for (const [k, v] of m) if ((k === name || k.startsWith(name + '{')) && k.includes(label)) n += v;
  return n;
}

/**
 * Merges `patch` into `target`: objects key by key, an array over an array element by element (so
 * `{"exporters":[{"compression":"none"}]}` changes the first exporter and keeps its endpoint); anything else replaces.
 */
function mergeInto(target: Yaml, patch: Yaml): void {
  for (const [k, v] of Object.entries(patch)) {
    const t: unknown = target[k];
    if (v && typeof v === 'object' && t && typeof t === 'object' && Array.isArray(v) === Array.isArray(t))
      mergeInto(t as Yaml, v as Yaml);
    else target[k] = v;
  }
}

/**
 * VmRSS and VmHWM of a process, and RssAnon (its anonymous pages: the heap, buffers, malloc; not the node binary's
 * file pages, which are clean page cache, reclaimed before an OOM kill and charged once to the first container on
 * a node that reads them, not to every pod that runs the same image), from /proc (bytes).
 */
function procMemory(pid: number): { rss: number; hwm: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon') };
}

/** Resets a process's VmHWM to its current RSS (Linux clear_refs 5); false where the kernel refuses. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
/** The fields of /proc/<pid>/stat after the command name (index 0 is field 3, the state). */
function procStatFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds (utime + stime) in `procStatFields`. */
const cpuSecondsOf = (fields: string[]): number => (Number(fields[11]) + Number(fields[12])) / CLK_TCK;

/** User + system CPU seconds of a process, from /proc/<pid>/stat. */
function procCpuSeconds(pid: number): number {
  return cpuSecondsOf(procStatFields(pid));
}

/**
 * What a process has cost so far, from /proc: CPU seconds (user + system, every thread), minor page faults
 * (every thread), and wake-ups: voluntary context switches summed over its threads (a thread that blocked, in
 * epoll_wait, a futex or a read, and was woken). Faults and wake-ups are counts, not times: on a shared machine
 * they move far less from run to run than CPU seconds do, and on a virtual machine each of them is dear (session
 * 18: a first touch of fresh memory cost 1-4 us per KiB here, a reused buffer 0.04).
 */
function procCounters(pid: number): {
  cpuSeconds: number;
  systemSeconds: number;
  minorFaults: number;
  wakeups: number;
} {
  const fields = procStatFields(pid);
  let wakeups = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      wakeups += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return {
    cpuSeconds: cpuSecondsOf(fields),
    systemSeconds: Number(fields[12]) / CLK_TCK,
    minorFaults: Number(fields[7]),
    wakeups,
  };
}

/** Per-second rates of the counters between two readings `seconds` apart. */
function counterRates(
  a: ReturnType<typeof procCounters>,
  b: ReturnType<typeof procCounters>,
  seconds: number,
): CounterRates {
  return {
    cpuMsPerS: ((b.cpuSeconds - a.cpuSeconds) * 1000) / seconds,
    systemMsPerS: ((b.systemSeconds - a.systemSeconds) * 1000) / seconds,
    faultsPerS: (b.minorFaults - a.minorFaults) / seconds,
    wakeupsPerS: (b.wakeups - a.wakeups) / seconds,
  };
}

/** A compiled Sentinel child (`node dist/cli.js ...`, as the image runs it). */
const startCompiled = (args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): SentinelChild =>
  startSentinel(args, env, [...nodeArgs, join(ROOT, 'dist', 'cli.js')]);
/** Node flags for the agent's command line, for those NODE_OPTIONS refuses (`--cpu-prof`, `--heap-prof`). */
const AGENT_NODE_ARGS = (process.env['BENCH_AGENT_NODE_ARGS'] ?? '').split(' ').filter(Boolean);

/** SIGTERM, then SIGKILL when the drain takes longer than `graceMs`. */
async function stop(p: { child: ChildProcess; exited: Promise<unknown> } | undefined, graceMs = 25_000) {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

function runLoad(job: FootprintLoadJob, onStart?: (pid: number) => void): Promise<FootprintLoadResult> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(fileURLToPath(new URL('./_footprint-load.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
    });
    onStart?.(child.pid!);
    child.send(job);
    child.once('message', (m) => resolvePromise(m as FootprintLoadResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
    });
  });
}

/** The paced load over BENCH_TRANSPORT, to the server's port for that transport. */
function runPaced(
  ports: { grpc: number; http: number },
  spansPerSecond: number,
  durationMs: number,
  idPrefix: number,
): Promise<FootprintLoadResult> {
  const port = TRANSPORT === 'http' ? ports.http : ports.grpc;
  return runLoad({ port, transport: TRANSPORT, mode: 'paced', spansPerSecond, durationMs, idPrefix });
}

async function startNullServer(): Promise<{
  child: ChildProcess;
  port: number;
  httpPort: number;
  exited: Promise<unknown>;
}> {
  const child = fork(fileURLToPath(new URL('./_null-otlp-server.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
  });
  const exited = once(child, 'exit');
  const [msg] = (await once(child, 'message')) as [{ port: number; httpPort: number }];
  return { child, port: msg.port, httpPort: msg.httpPort, exited };
}

/**
 * CPU per 1,000 spans of the no-decode grpc-js server (bench/_null-otlp-server.ts) fed the paced load at `rate`
 * for `ms`: what receiving the requests costs alone at that rate (each request's wake-up, HTTP/2, grpc-js),
 * the floor under the agent's figure. Read after a 2 s warm-up.
 */
async function noDecodeCpuPerK(rate: number, ms: number, idPrefix: number): Promise<FloorReading> {
  const server = await startNullServer();
  try {
    await sleep(2000);
    const pid = server.child.pid!;
    const c0 = procCounters(pid);
    const started = Date.now();
    const load = await runPaced({ grpc: server.port, http: server.httpPort }, rate, ms, idPrefix);
    const c1 = procCounters(pid);
    return {
      cpuPerK: ((c1.cpuSeconds - c0.cpuSeconds) * 1e6) / Math.max(1, load.ok * 100),
      steady: counterRates(c0, c1, (Date.now() - started) / 1000),
    };
  } finally {
    await stop(server);
  }
}

/** The no-decode server at one rate: CPU per 1,000 spans, and its counters per second over the load. */
interface FloorReading {
  cpuPerK: number;
  steady: CounterRates;
}

/** Idle RSS of Node alone (an empty event loop, no modules), the same binary, after `ms`. */
async function nodeAloneRss(ms: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  await sleep(ms);
  const { rss } = procMemory(child.pid!);
  child.kill('SIGKILL');
  await exited;
  return rss;
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const result: FootprintResult = { cores, node: process.version, rates: [] };
  console.log(
    `cores: ${cores}, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  buildDist();

  const experiment = process.env['BENCH_AGENT_CONFIG'];
  const setup = await chartAgentSetup((ac) => {
    if (!experiment) return;
    mergeInto(ac, JSON.parse(experiment) as Yaml);
    console.log(`agent config changed for an experiment (not the chart's): ${experiment}`);
  });
  const envOptions = process.env['BENCH_AGENT_NODE_OPTIONS'];
  const nodeOptions = envOptions === 'none' ? '' : (envOptions ?? setup.nodeOptions);
  // BENCH_AGENT_ENV (JSON) replaces the injector's other variables, for experiments: '{}' for none.
  const processEnv = JSON.parse(
    process.env['BENCH_AGENT_ENV'] ?? JSON.stringify(setup.processEnv),
  ) as NodeJS.ProcessEnv;
  console.log(
    `chart: agent resources ${JSON.stringify(setup.agentResources)} (limit as the injector sets it, completion included); agent NODE_OPTIONS: ${nodeOptions || '(none)'}; env ${JSON.stringify(processEnv)}`,
  );
  const chart = { agentLimitMiB: setup.agentLimitMiB };

  let agent: SentinelChild | undefined;
  let nullServer: Awaited<ReturnType<typeof startNullServer>> | undefined;
  try {
    const decisionWaitMs = 10_000; // the config's default (the chart does not set it)
    if (setup.agentConfig['sampling'].decision_wait !== undefined)
      throw new Error('the chart now sets sampling.decision_wait: read it here');

    const baseline = await nodeAloneRss(5000);
    agent = startCompiled(
      ['agent', '--config', setup.agentConfigFile],
      { ...setup.agentEnv, ...processEnv, NODE_OPTIONS: nodeOptions },
      AGENT_NODE_ARGS,
    );
    const started = await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
    const agentPorts = started['ports'] as { grpc: number; http: number; admin: number };
    const pid = agent.child.pid!;
    await sleep(5000);
    const idleCpu0 = procCpuSeconds(pid);
    await sleep(5000);
    const idle = procMemory(pid);
    const idleCpuMsPerS = ((procCpuSeconds(pid) - idleCpu0) * 1000) / 5;
    result.idle10sMiB = idle.rss / MiB;
    const idleMetrics = await scrapeMetrics(agentPorts.admin);
    console.log(
      `\nidle (10 s after start): agent RSS ${mib(idle.rss)}, anonymous ${mib(idle.anon)} (V8 heap used ${mib(sum(idleMetrics, 'nodejs_heap_size_used_bytes'))} of ${mib(sum(idleMetrics, 'nodejs_heap_size_total_bytes'))}), Node alone ${mib(baseline)} (agent / Node alone ${(idle.rss / baseline).toFixed(2)}x), agent idle CPU ${idleCpuMsPerS.toFixed(1)} ms/s`,
    );
    // V8's memory reducer shrinks the young generation grown during start-up only 15-20 s after start
    // (bench/agent-idle.ts): the settled idle figure is read at 40 s, and the steady idle CPU over 30-40 s.
    await sleep(20_000);
    const settledCpu0 = procCpuSeconds(pid);
    await sleep(10_000);
    const settled = procMemory(pid);
    const settledCpuMsPerS = ((procCpuSeconds(pid) - settledCpu0) * 1000) / 10;
    result.idle40sMiB = settled.rss / MiB;
    result.idleCpuMsPerS = settledCpuMsPerS;
    console.log(
      `idle (40 s after start): agent RSS ${mib(settled.rss)}, anonymous ${mib(settled.anon)}, idle CPU ${settledCpuMsPerS.toFixed(1)} ms/s (30-40 s)`,
    );

    console.log(
      `\nload: 100-span ${TRANSPORT === 'http' ? 'OTLP/HTTP protobuf' : 'OTLP/gRPC'} requests shaped as a ${loadShape()}'s (BENCH_LOAD) for ${DURATION_MS / 1000} s per rate; CPU and peak over the load + decision_wait (${decisionWaitMs / 1000} s) + ${SETTLE_AFTER_DECISION_WAIT_MS / 1000} s; chart agent memory limit ${chart.agentLimitMiB} MiB`,
    );
    let prefix = 1;
    // A pod's agent runs for days: the rates are measured on a warm agent. The warm-up (JIT tiers, the
    // buffers' first growth) is printed, not hidden: measured first on a cold agent, the 1k figure had been
    // 46-53 ms per 1,000 spans against 29-33 from 60 s on (s6fixed, per 10 s window).
    if (WARMUP_MS > 0 && RATES.length > 0) {
      const cpuW0 = procCpuSeconds(pid);
      const w = await runPaced(agentPorts, 1000, WARMUP_MS, prefix++);
      await sleep(decisionWaitMs + SETTLE_AFTER_DECISION_WAIT_MS);
      console.log(
        `warm-up (not in the table): 1,000 spans/s for ${WARMUP_MS / 1000} s, ${fmt(w.ok * 100)} spans accepted, CPU ${(((procCpuSeconds(pid) - cpuW0) * 1e6) / Math.max(1, w.ok * 100)).toFixed(1)} ms per 1,000 spans (load + decision_wait + 3 s)`,
      );
    }
    // The same run's baseline for each rate: a grpc-js server that decodes nothing, at the same rate.
    const floor = new Map<number, FloorReading>();
    for (const rate of RATES) {
      floor.set(rate, await noDecodeCpuPerK(rate, Math.min(DURATION_MS, 20_000), prefix++));
    }
    console.log(
      '\n| offered spans/s | accepted spans/s | refused / sent req (shed) | p99 ms | RSS before | peak RSS | peak / limit | peak anonymous RSS | CPU ms / 1,000 spans | no-decode server, same rate: CPU ms / 1,000 spans (agent / it) | traces decided | early (memory) | early (num_traces) | completion evicted spans (bytes / age) | held_oldest s (end of load / max) | exported spans |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const rate of RATES) {
      const before = await scrapeMetrics(agentPorts.admin);
      const rssBefore = procMemory(pid).rss;
      const peakReset = resetPeak(pid);
      let peak = rssBefore;
      // Sampled every 200 ms (the kernel keeps no high-water mark of the anonymous part alone).
      let peakAnon = 0;
      let heldMax = 0;
      let heldEnd = 0;
      let sampling = true;
      const loadStart = procCounters(pid);
      const cpu0 = loadStart.cpuSeconds;
      const loadStarted = Date.now();
      const sampler = (async () => {
        for (let i = 0; sampling; i++) {
          const m = procMemory(pid);
          peak = Math.max(peak, m.rss);
          peakAnon = Math.max(peakAnon, m.anon);
          // Scraped every 10 s, about as often as Prometheus would (every 2 s, the scrapes themselves were a
          // few ms of the agent's CPU each, 1-2 ms per 1,000 spans at 1k spans/s).
          if (i % 50 === 0) {
            const m = await scrapeMetrics(agentPorts.admin).catch(() => undefined);
            if (m) heldMax = Math.max(heldMax, sum(m, 'sentinel_sampling_completion_held_oldest_seconds'));
          }
          await sleep(200);
        }
      })();
      const load = await runPaced(agentPorts, rate, DURATION_MS, prefix++);
      const steady = counterRates(loadStart, procCounters(pid), (Date.now() - loadStarted) / 1000);
      heldEnd = sum(
        await scrapeMetrics(agentPorts.admin),
        'sentinel_sampling_completion_held_oldest_seconds',
      );
      await sleep(decisionWaitMs + SETTLE_AFTER_DECISION_WAIT_MS);
      sampling = false;
      await sampler;
      const cpu = procCpuSeconds(pid) - cpu0;
      const after = await scrapeMetrics(agentPorts.admin);
      if (peakReset) peak = Math.max(peak, procMemory(pid).hwm);
      const d = (name: string, label = '') => sum(after, name, label) - sum(before, name, label);
      const accepted = d('sentinel_receiver_accepted_spans_total');
      const cpuPerK = (cpu * 1e6) / Math.max(1, accepted);
      const acceptedPerS = accepted / (load.elapsedMs / 1000);
      const base = floor.get(rate)!;
      result.rates.push({
        rate,
        acceptedPerS,
        refusedRequests: load.refused,
        p99Ms: load.p99Ms,
        peakMiB: peak / MiB,
        cpuPerK,
        floorCpuPerK: base.cpuPerK,
        earlyDecisions: d('sentinel_sampling_early_decisions_total'),
        steady,
        floorSteady: base.steady,
      });
      console.log(
        `| ${fmt(rate)} | ${fmt(acceptedPerS)} | ${fmt(load.refused)} / ${fmt(load.requests)} (${fmt(load.shed)}) | ${load.p99Ms.toFixed(0)} | ${mib(rssBefore)} | ${mib(peak)} | ${(peak / MiB / chart.agentLimitMiB).toFixed(2)} | ${mib(peakAnon)} | ${cpuPerK.toFixed(1)} | ${base.cpuPerK.toFixed(1)} (${(cpuPerK / base.cpuPerK).toFixed(2)}x) | ${fmt(d('sentinel_sampling_decisions_total'))} | ${fmt(d('sentinel_sampling_early_decisions_total', 'reason="memory"'))} | ${fmt(d('sentinel_sampling_early_decisions_total', 'reason="num_traces"'))} | ${fmt(d('sentinel_sampling_completion_evicted_spans_total', 'reason="bytes"'))} / ${fmt(d('sentinel_sampling_completion_evicted_spans_total', 'reason="age"'))} | ${heldEnd.toFixed(1)} / ${heldMax.toFixed(1)} | ${fmt(d('sentinel_exporter_sent_spans_total'))} |`,
      );
    }
    if (result.rates.length > 0) {
      // The table's CPU also holds the decision_wait after the load; these are the load's seconds alone, with
      // the counts that explain a CPU figure on a machine where each fault and wake-up is dear.
      console.log(
        `\nduring the load only (the no-decode server over its own load at the same rate):\n\n| offered spans/s | agent CPU ms/s (system) | no-decode CPU ms/s (system) | agent minor faults/s | no-decode | agent wake-ups/s (every thread) | no-decode |\n|---|---|---|---|---|---|---|`,
      );
      for (const r of result.rates) {
        const [a, b] = [r.steady, r.floorSteady];
        console.log(
          `| ${fmt(r.rate)} | ${a.cpuMsPerS.toFixed(0)} (${a.systemMsPerS.toFixed(0)}) | ${b.cpuMsPerS.toFixed(0)} (${b.systemMsPerS.toFixed(0)}; agent / it ${(a.cpuMsPerS / b.cpuMsPerS).toFixed(2)}x) | ${fmt(a.faultsPerS)} | ${fmt(b.faultsPerS)} | ${fmt(a.wakeupsPerS)} | ${fmt(b.wakeupsPerS)} |`,
        );
      }
    }
    console.log(`\nagent RSS after the loads: ${mib(procMemory(pid).rss)}`);

    if (FULL_SPEED_MS > 0) {
      // Each server under test gets CPU 0 to itself, and everything else (the load, the store that the agent
      // exports to) the other CPUs: on a shared 2-core machine the store's Parquet work took more CPU than
      // the agent at full speed and starved it. The figure is then spans/s on one core, for both servers.
      const pin = cores >= 2 && PIN;
      const others = cores > 2 ? `1-${cores - 1}` : '1';
      const pinned = pin && pinToCpus(setup.storePid, others) && pinToCpus(pid, '0');
      const pinLoad = pinned ? (loadPid: number) => void pinToCpus(loadPid, others) : undefined;
      nullServer = await startNullServer();
      if (pinned) pinToCpus(nullServer.child.pid!, '0');
      const baseCpu0 = procCpuSeconds(nullServer.child.pid!);
      const base = await runLoad(
        { port: nullServer.port, mode: 'full', inFlight: 8, durationMs: FULL_SPEED_MS, idPrefix: prefix++ },
        pinLoad,
      );
      const baseCpu = procCpuSeconds(nullServer.child.pid!) - baseCpu0;
      await stop(nullServer);
      nullServer = undefined;
      const peakReset = resetPeak(pid);
      let peak = procMemory(pid).rss;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, procMemory(pid).rss);
          await sleep(200);
        }
      })();
      // The store shares the load's CPU and took 80-85 % of it here (session 13), so the load could not keep the
      // agent busy and the agent's spans/s is the load's: CPU per span is the measure (printed below). With the
      // store at nice 19 (every thread) the agent's memory filled as the store lagged, and it refused 10-20 % of
      // the requests instead.
      // Scraped before the CPU reading starts, so that the scrape is not counted as full-speed work.
      const refusedBefore = await scrapeMetrics(agentPorts.admin);
      const cpu0 = procCpuSeconds(pid);
      const full = await runLoad(
        { port: agentPorts.grpc, mode: 'full', inFlight: 8, durationMs: FULL_SPEED_MS, idPrefix: prefix++ },
        pinLoad,
      );
      const cpu = procCpuSeconds(pid) - cpu0;
      sampling = false;
      await sampler;
      if (peakReset) peak = Math.max(peak, procMemory(pid).hwm);
      const rate = (r: FootprintLoadResult) => (r.ok * 100) / (r.elapsedMs / 1000);
      // On a shared machine the rate is what the scheduler gave each server; CPU per span is what they need.
      const cpuPerK = (seconds: number, r: FootprintLoadResult) => (seconds * 1e6) / Math.max(1, r.ok * 100);
      // CPU s over the run's seconds: under 1 (a core), the server waited for the load and its spans/s is the
      // load's rate; spans per CPU second is what it would carry on a core kept busy.
      const busy = (seconds: number, r: FootprintLoadResult) => seconds / (r.elapsedMs / 1000);
      const capacity = (seconds: number, r: FootprintLoadResult) => (r.ok * 100) / Math.max(1e-9, seconds);
      result.fullSpeed = {
        agentCpuPerK: cpuPerK(cpu, full),
        floorCpuPerK: cpuPerK(baseCpu, base),
        agentSpansPerS: rate(full),
        floorSpansPerS: rate(base),
        agentP99Ms: full.p99Ms,
        peakMiB: peak / MiB,
        refusedRequests: full.refused,
      };
      console.log(
        `\nfull speed (8 requests in flight, ${FULL_SPEED_MS / 1000} s each, chart policy; ${pinned ? `each server pinned to CPU 0, the load and the store to CPU ${others}` : 'not pinned'}):\n\n| server | spans/s (ok) | refused req | p50 ms | p99 ms | peak RSS | CPU s | CPU s per s (1 = a core) | CPU ms / 1,000 spans | spans per CPU second |\n|---|---|---|---|---|---|---|---|---|---|`,
      );
      console.log(
        `| grpc-js, decodes nothing | ${fmt(rate(base))} | ${fmt(base.refused)} | ${base.p50Ms.toFixed(1)} | ${base.p99Ms.toFixed(1)} | - | ${baseCpu.toFixed(1)} | ${busy(baseCpu, base).toFixed(2)} | ${cpuPerK(baseCpu, base).toFixed(1)} | ${fmt(capacity(baseCpu, base))} |`,
      );
      console.log(
        `| agent (chart config) | ${fmt(rate(full))} | ${fmt(full.refused)} | ${full.p50Ms.toFixed(1)} | ${full.p99Ms.toFixed(1)} | ${mib(peak)} | ${cpu.toFixed(1)} | ${busy(cpu, full).toFixed(2)} | ${cpuPerK(cpu, full).toFixed(1)} | ${fmt(capacity(cpu, full))} |`,
      );
      if (full.refused > 0) {
        // Why (sentinel_receiver_refused_spans_total by reason): memory_limit when the store lags and the
        // export queue or the trace buffer fills (session 13), queue_full when the queue alone does.
        const refusedAfter = await scrapeMetrics(agentPorts.admin);
        const reasons = [...refusedAfter]
          .filter(([k]) => k.startsWith('sentinel_receiver_refused_spans_total{'))
          .map(([k, v]) => [/reason="([^"]*)"/.exec(k)?.[1] ?? k, v - (refusedBefore.get(k) ?? 0)] as const)
          .filter(([, n]) => n > 0);
        console.log(
          `\nthe agent refused ${fmt(full.refused)} requests at full speed: ${reasons.map(([r, n]) => `${fmt(n)} spans for ${r}`).join(', ') || 'no refusal counted by the agent (client-side timeouts)'}`,
        );
      }
      console.log(
        `\nagent / no-decode server: ${(rate(full) / rate(base)).toFixed(2)}x spans/s; ${(cpuPerK(baseCpu, base) / cpuPerK(cpu, full)).toFixed(2)}x by CPU per span (the ratio of what each carries on a busy core)`,
      );
      const waited = (
        [
          ['the no-decode server', busy(baseCpu, base)],
          ['the agent', busy(cpu, full)],
        ] as const
      ).filter(([, b]) => b < 0.9);
      if (waited.length > 0)
        console.log(
          `${waited.map(([n, b]) => `${n} used ${(b * 100).toFixed(0)} % of a core`).join(', ')}: the load, not the server, set its spans/s; compare by CPU per span.`,
        );
    }
    // One line for scripts (bench/agent-stages.ts reads it), so that they need not parse the tables above.
    console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
  } finally {
    await stop(nullServer);
    await stop(agent);
    const stdoutFile = process.env['BENCH_AGENT_STDOUT'];
    if (stdoutFile && agent)
      writeFileSync(stdoutFile, agent.logs.map((l) => (l['msg'] ?? JSON.stringify(l)) + '\n').join(''));
    await setup.stop();
  }
}

await main();
