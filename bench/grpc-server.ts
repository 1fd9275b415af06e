/**
 * Is grpc-js's Server the receiver's bottleneck (issue 13)? Two servers that decode nothing answer OTLP
 * TraceService/Export with an empty response: (a) a @grpc/grpc-js Server and (b) a minimal unary gRPC server on
 * node:http2 (bench/_grpc-null-server.ts), each in its own process, loaded by the same grpc-js client in another
 * process (bench/_footprint-load.ts: pre-encoded 100-span requests, 8 in flight, as fast as the server answers).
 * Rounds alternate a, b, a, b; figures are the server's CPU per request and requests/s, (b) as a ratio of (a).
 * BENCH_GRPC_ROUNDS (default 2), BENCH_DURATION_S (default 10 per server per round).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { FootprintLoadJob, FootprintLoadResult } from './_footprint-load.js';

const ROUNDS = Number(process.env['BENCH_GRPC_ROUNDS'] ?? 2);
const DURATION_MS = Number(process.env['BENCH_DURATION_S'] ?? 10) * 1000;
const IN_FLIGHT = 8;
const PACED_SPANS_PER_S = 10_000;
type Impl = 'grpc-js' | 'http2';

interface Figures {
  requests: number;
  refused: number;
  perSecond: number;
  cpuUsPerRequest: number;
  p99Ms: number;
}

function forkTs(file: string, args: string[] = []): ChildProcess {
  return fork(fileURLToPath(new URL(file, import.meta.url)), args, { execArgv: ['--import', 'tsx'] });
}

async function serverCpuUs(child: ChildProcess): Promise<number> {
  child.send('cpu');
  const [m] = (await once(child, 'message')) as [{ cpuUs: number }];
  return m.cpuUs;
}

async function runLoad(job: FootprintLoadJob): Promise<FootprintLoadResult> {
  const child = forkTs('./_footprint-load.ts');
  child.send(job);
  const [m] = (await once(child, 'message')) as [FootprintLoadResult];
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return m;
}

/** `full`: as fast as the server answers; `paced`: 10k spans/s (100 requests/s), the reference rate. */
type Mode = 'full' | 'paced';

function job(mode: Mode, port: number, durationMs: number, idPrefix: number): FootprintLoadJob {
  return mode === 'full'
    ? { port, mode, inFlight: IN_FLIGHT, durationMs, idPrefix }
    : { port, mode, spansPerSecond: PACED_SPANS_PER_S, durationMs, idPrefix };
}

async function measure(impl: Impl, mode: Mode, idPrefix: number): Promise<Figures> {
  const server = forkTs('./_grpc-null-server.ts', [impl]);
  const exited = once(server, 'exit');
  try {
    const [{ port }] = (await once(server, 'message')) as [{ port: number }];
    // A short warm-up (JIT, connection), not counted.
    await runLoad(job('full', port, 1500, idPrefix + 1000));
    const cpu0 = await serverCpuUs(server);
    const load = await runLoad(job(mode, port, DURATION_MS, idPrefix));
    const cpuUs = (await serverCpuUs(server)) - cpu0;
    if (load.ok === 0) throw new Error(`${impl}: no request answered`);
    return {
      requests: load.ok,
      refused: load.refused,
      perSecond: (load.ok * 1000) / load.elapsedMs,
      cpuUsPerRequest: cpuUs / load.ok,
      p99Ms: load.p99Ms,
    };
  } finally {
    server.disconnect();
    server.kill('SIGTERM');
    await exited;
  }
}

/** Runs `mode` for both servers, alternated over ROUNDS, and prints each round and the ratios of the means. */
async function compare(mode: Mode, prefix: number): Promise<void> {
  console.log(
    mode === 'full'
      ? `\nfull speed: ${IN_FLIGHT} in flight, as fast as the server answers`
      : `\npaced: ${PACED_SPANS_PER_S} spans/s (${PACED_SPANS_PER_S / 100} requests/s)`,
  );
  const all: Record<Impl, Figures[]> = { 'grpc-js': [], http2: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const impl of ['grpc-js', 'http2'] as const) {
      const f = await measure(impl, mode, prefix++);
      all[impl].push(f);
      console.log(
        `round ${round + 1} ${impl.padEnd(7)}: ${f.perSecond.toFixed(0)} requests/s, server CPU ${f.cpuUsPerRequest.toFixed(1)} µs per request, p99 ${f.p99Ms.toFixed(1)} ms`,
      );
      if (f.refused > 0) throw new Error(`${impl}: ${f.refused} requests refused`);
    }
  }
  const mean = (impl: Impl, pick: (f: Figures) => number): number =>
    all[impl].reduce((s, f) => s + pick(f), 0) / all[impl].length;
  const cpuA = mean('grpc-js', (f) => f.cpuUsPerRequest);
  const cpuB = mean('http2', (f) => f.cpuUsPerRequest);
  const rateA = mean('grpc-js', (f) => f.perSecond);
  const rateB = mean('http2', (f) => f.perSecond);
  console.log(
    `mean: grpc-js ${rateA.toFixed(0)} req/s, ${cpuA.toFixed(1)} µs CPU per request; node:http2 ${rateB.toFixed(0)} req/s, ${cpuB.toFixed(1)} µs CPU per request`,
  );
  console.log(
    `${mode}: node:http2 / grpc-js: CPU per request ${(cpuB / cpuA).toFixed(2)}x, requests/s ${(rateB / rateA).toFixed(2)}x`,
  );
}

async function main(): Promise<void> {
  console.log(
    `cores: ${availableParallelism()}, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; 100-span OTLP/gRPC requests from a grpc-js client in its own process, ${DURATION_MS / 1000} s per server, ${ROUNDS} rounds (a, b alternated)`,
  );
  await compare('full', 1);
  await compare('paced', 1000);
}

await main();
