/**
 * Where does the idle agent's memory go (issue 13: idle RSS at most 55 MiB)?
 *
 * The agent as bench/agent-footprint.ts starts it (compiled `node dist/cli.js agent`, the config the chart
 * renders, the NODE_OPTIONS the injector gives it, in front of a `sentinel store` child), but no load: each
 * variant is started BENCH_IDLE_SAMPLES times (default 3), the variants alternated, and read at each of
 * BENCH_IDLE_AT_S (default 10,40) seconds after its start line: VmRSS, and from /proc/<pid>/smaps_rollup the
 * file-backed (the node binary's pages) and anonymous parts; the V8 heap and its spaces from its /metrics, once
 * after the last reading (a scrape allocates). Node alone (an empty event loop) of each binary, read at the last
 * time, is the baseline, measured in the same run.
 *
 * Why two times: agent-footprint's idle figure is read 10 s after start, and V8's memory reducer shrinks the young
 * generation (grown to its 2 x --max-semi-space-size while the agent started) only some 15-20 s after start, so a
 * reading at 10 s holds up to 7 MiB more than the agent's steady idle.
 *
 * Env: BENCH_IDLE_SAMPLES, BENCH_IDLE_AT_S, BENCH_IDLE_VARIANTS: a JSON array of
 * `{ "name", "node"?: binary, "dist"?: folder with cli.js, "nodeOptions"?: string, "env"?: {...} }`
 * (default: one variant, this checkout's dist with this node). `nodeOptions` replaces the injector's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { scrapeMetrics } from './_scrape-metrics.js';
import { startSentinel } from '../test/helpers/child.js';
import { buildDist, chartAgentSetup, procRss, ROOT, stopChild } from './_footprint-setup.js';
import { median } from './_stats.js';

const MiB = 2 ** 20;
const SAMPLES = Number(process.env['BENCH_IDLE_SAMPLES'] ?? 3);
const AT_MS = (process.env['BENCH_IDLE_AT_S'] ?? '10,40').split(',').map((s) => Number(s) * 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Variant {
  name: string;
  node?: string;
  dist?: string;
  nodeOptions?: string;
  env?: Record<string, string>;
}

/** Anonymous and file-backed resident bytes, from smaps_rollup. */
function smaps(pid: number): { anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { anon: kb('Anonymous'), file: kb('Rss') - kb('Anonymous') };
}

async function nodeAlone(node: string): Promise<number> {
  const child = spawn(node, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  await sleep(Math.max(...AT_MS));
  const rss = procRss(child.pid!);
  child.kill('SIGKILL');
  await exited;
  return rss;
}

const f = (bytes: number) => (bytes / MiB).toFixed(1);

async function main(): Promise<void> {
  console.log(
    `cores: ${availableParallelism()}, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  buildDist();
  const variants = JSON.parse(
    process.env['BENCH_IDLE_VARIANTS'] ?? '[{"name":"this checkout"}]',
  ) as Variant[];
  const setup = await chartAgentSetup();
  console.log(`agent NODE_OPTIONS (injector): ${setup.nodeOptions || '(none)'}`);
  type Reading = { rss: number; anon: number; file: number; heapUsed: number; heapTotal: number };
  // rows.get(`${variant}@${seconds}`): one reading per sample.
  const rows = new Map<string, Reading[]>();
  try {
    for (let i = 0; i < SAMPLES; i++) {
      for (const v of variants) {
        const agent = startSentinel(
          ['agent', '--config', setup.agentConfigFile],
          {
            ...setup.agentEnv,
            ...setup.processEnv,
            NODE_OPTIONS: v.nodeOptions ?? setup.nodeOptions,
            ...v.env,
          },
          [join(v.dist ?? join(ROOT, 'dist'), 'cli.js')],
          v.node,
        );
        const started = await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
        const t0 = Date.now();
        const pid = agent.child.pid!;
        const readings: Reading[] = [];
        for (const at of AT_MS) {
          await sleep(t0 + at - Date.now());
          readings.push({ rss: procRss(pid), ...smaps(pid), heapUsed: 0, heapTotal: 0 });
        }
        // The heap is read once, after the last reading: a scrape allocates, and would weigh on a later one.
        const m = await scrapeMetrics((started['ports'] as { admin: number }).admin);
        const last = readings[readings.length - 1]!;
        last.heapUsed = m.get('nodejs_heap_size_used_bytes') ?? 0;
        last.heapTotal = m.get('nodejs_heap_size_total_bytes') ?? 0;
        // Every space V8 reports with something in it (Node 24 adds `trusted`: bytecode and other trusted objects).
        const spaces = [...m]
          .filter(([k, bytes]) => k.startsWith('nodejs_heap_space_size_total_bytes{') && bytes > 0)
          .map(([k, bytes]) => `${/space="([^"]+)"/.exec(k)?.[1] ?? k} ${f(bytes)}`)
          .join(', ');
        readings.forEach((r, k) => {
          const key = `${v.name}@${AT_MS[k]! / 1000}`;
          rows.set(key, [...(rows.get(key) ?? []), r]);
          console.log(
            `${v.name} #${i + 1} at ${AT_MS[k]! / 1000} s: RSS ${f(r.rss)} MiB (anonymous ${f(r.anon)}, file ${f(r.file)})` +
              (r === last ? `; V8 heap ${f(r.heapUsed)} used of ${f(r.heapTotal)} (${spaces})` : ''),
          );
        });
        await stopChild(agent);
      }
    }
    console.log(`
idle agent, median of ${SAMPLES} starts per variant (MiB):\n`);
    console.log(
      '| variant | node | s after start | RSS (samples) | anonymous | file | V8 heap used / total | Node alone |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    const alone = new Map<string, number>();
    for (const v of variants) {
      const node = v.node ?? process.execPath;
      if (!alone.has(node)) alone.set(node, await nodeAlone(node));
      const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
      for (const at of AT_MS) {
        const list = rows.get(`${v.name}@${at / 1000}`)!;
        const med = (k: keyof Reading) => f(median(list.map((r) => r[k])));
        const heap = at === AT_MS[AT_MS.length - 1] ? `${med('heapUsed')} / ${med('heapTotal')}` : '-';
        console.log(
          `| ${v.name} | ${version} | ${at / 1000} | ${med('rss')} (${list.map((r) => f(r.rss)).join(', ')}) | ${med('anon')} | ${med('file')} | ${heap} | ${f(alone.get(node)!)} |`,
        );
      }
    }
  } finally {
    await setup.stop();
  }
}

await main();
