/**
 * What does each optional stage of the chart's agent cost at full speed (issue 13)?
 *
 * Runs bench/agent-footprint.ts's full-speed figure (the chart's config, gateway load, 8 requests in flight, the
 * no-decode grpc-js server first as the floor) once per variant, the variants alternated in BENCH_STAGE_ROUNDS
 * rounds (default 1), each variant the chart's config with one part turned off through BENCH_AGENT_CONFIG:
 * the completion buffer, span metrics, the exporter's gzip, and all three. Prints the agent's CPU per 1,000 spans,
 * the floor's from the same child, their ratio, and what turning the part off saved against the chart's config
 * in the same round (these machines are noisy: compare within a round).
 *
 * What it answers: whether any one stage holds the gap between the agent and a server that decodes nothing
 * (session 17: none does; all three together were about 30 % of the agent's CPU at full speed).
 *
 * Env: BENCH_STAGE_ROUNDS, BENCH_FULL_SPEED_S (default 20), BENCH_STAGE_VARIANTS (comma-separated names, default
 * all). The footprint bench's own env (BENCH_AGENT_NODE_ARGS, BENCH_PIN, ...) passes through.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readFootprintResult } from './_footprint-result.js';
import { median } from './_stats.js';

const OFF = {
  completion: { sampling: { completion: { enabled: false } } },
  'span metrics': { measure: { enabled: false } },
  'exporter gzip': { exporters: [{ compression: 'none' }] },
};
const VARIANTS: ReadonlyArray<readonly [string, object]> = [
  ['chart config', {}],
  ['completion off', OFF.completion],
  ['span metrics off', OFF['span metrics']],
  ['exporter gzip off', OFF['exporter gzip']],
  ['all three off', { ...OFF.completion, ...OFF['span metrics'], ...OFF['exporter gzip'] }],
];
const ROUNDS = Number(process.env['BENCH_STAGE_ROUNDS'] ?? 1);
const FULL_SPEED_S = process.env['BENCH_FULL_SPEED_S'] ?? '20';
const wanted = process.env['BENCH_STAGE_VARIANTS']?.split(',').map((s) => s.trim());
const variants = VARIANTS.filter(([name]) => name === 'chart config' || !wanted || wanted.includes(name));

interface Reading {
  agent: number;
  floor: number;
  refused: number;
}

/** The footprint bench's full-speed figures: CPU ms per 1,000 spans of the agent and of the no-decode server. */
function parse(out: string): Reading | undefined {
  const full = readFootprintResult(out)?.fullSpeed;
  if (!full) return undefined;
  return { agent: full.agentCpuPerK, floor: full.floorCpuPerK, refused: full.refusedRequests };
}

const footprint = fileURLToPath(new URL('./agent-footprint.ts', import.meta.url));
const results = new Map<string, Reading[]>(variants.map(([name]) => [name, []]));
const saved = new Map<string, number[]>(variants.map(([name]) => [name, []]));
console.log(
  `cores: ${availableParallelism()}, node ${process.version}; ${ROUNDS} round(s) of ${variants.length} variants, ${FULL_SPEED_S} s of full speed each`,
);
let failed = false;
for (let round = 1; round <= ROUNDS && !failed; round++) {
  let chart: number | undefined;
  for (const [name, patch] of variants) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', footprint], {
      encoding: 'utf8',
      env: {
        ...process.env,
        BENCH_RATES: '',
        BENCH_FULL_SPEED_S: FULL_SPEED_S,
        BENCH_AGENT_CONFIG: JSON.stringify(patch),
      },
      maxBuffer: 64 * 2 ** 20,
    });
    const reading = run.status === 0 ? parse(run.stdout) : undefined;
    if (!reading) {
      console.log(`round ${round}, ${name}: the footprint bench failed (exit ${run.status ?? run.signal})`);
      console.log(run.stdout.slice(-2000), run.stderr.slice(-2000));
      failed = true;
      break;
    }
    results.get(name)!.push(reading);
    if (name === 'chart config') chart = reading.agent;
    else if (chart !== undefined) saved.get(name)!.push(1 - reading.agent / chart);
    console.log(
      `round ${round}, ${name}: agent ${reading.agent.toFixed(1)} ms / 1,000 spans, no-decode ${reading.floor.toFixed(1)}, ${(reading.floor / reading.agent).toFixed(2)}x${reading.refused > 0 ? `, ${reading.refused} requests refused` : ''}`,
    );
  }
}

if (!failed) {
  console.log(
    `\n| variant | agent CPU ms / 1,000 spans (median) | no-decode server | agent / no-decode by CPU per span | saved against the chart's config, same round |\n|---|---|---|---|---|`,
  );
  for (const [name] of variants) {
    const rs = results.get(name)!;
    const agent = median(rs.map((r) => r.agent));
    const floor = median(rs.map((r) => r.floor));
    const s = saved.get(name)!;
    console.log(
      `| ${name} | ${agent.toFixed(1)} | ${floor.toFixed(1)} | ${(floor / agent).toFixed(2)}x | ${s.length ? `${(median(s) * 100).toFixed(0)} %` : '-'} |`,
    );
  }
}
process.exit(failed ? 1 : 0);
