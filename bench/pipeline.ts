/**
 * How many spans/s does the whole agent carry end to end, and at what memory and CPU?
 * `sentinel agent` runs as a child process (receive -> enrich -> tail sampling with decision_wait 1s ->
 * batch -> persistent queue -> OTLP/gRPC exporter) in front of an in-process `sentinel store` writing
 * blocks to a temp directory. A second child offers 1k, 10k and 50k spans/s over OTLP/gRPC for 8 s each.
 * Figures: spans/s accepted and delivered to the store, agent RSS (peak of 4 samples/s), agent CPU per
 * 1,000 spans, beside the decode-only rate of the same requests measured in this run.
 * BENCH_RATES=20000 (comma-separated) offers other rates.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTraceRequest, encodeTraceRequest } from '../src/otlp/index.js';
import { startSentinel } from '../test/helpers/child.js';
import { startTestStore } from '../test/helpers/store-harness.js';
import { makeTraces } from '../test/helpers/store-spans.js';
import { scrapeMetrics } from './_scrape-metrics.js';

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DURATION_MS = 8000;

const agentMetrics = scrapeMetrics;

function sum(m: Map<string, number>, prefix: string): number {
  let n = 0;
  for (const [k, v] of m) if (k === prefix || k.startsWith(prefix + '{')) n += v;
  return n;
}

function offer(
  port: number,
  spansPerSecond: number,
): Promise<{ requests: number; ok: number; refused: number; late: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./_pipeline-load.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
    });
    child.send({ port, spansPerSecond, durationMs: DURATION_MS });
    child.once('message', (m) =>
      resolve(m as { requests: number; ok: number; refused: number; late: number }),
    );
    child.once('error', reject);
  });
}

function decodeOnlyRate(): number {
  const body = encodeTraceRequest(makeTraces({ traces: 20, spansPerTrace: 5, seed: 7 }));
  for (let i = 0; i < 200; i++) decodeTraceRequest(body);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 1500) {
    for (let i = 0; i < 20; i++) decodeTraceRequest(body);
    n += 20;
  }
  return (n * 100 * 1000) / (performance.now() - start);
}

async function main(): Promise<void> {
  console.log(`cores: ${availableParallelism()}, node ${process.version}`);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-pipeline-'));
  const store = await startTestStore({ dir: join(dir, 'store'), overrides: { block: { max_age: '5s' } } });
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, 'policies:\n  - name: everything\n    type: always_sample\n');
  const config = join(dir, 'agent.yaml');
  writeFileSync(
    config,
    [
      'receivers: { otlp: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } }',
      'admin: { endpoint: 127.0.0.1:0 }',
      'log: { level: info }',
      `sampling: { policy_file: ${JSON.stringify(policy)}, decision_wait: 1s }`,
      'exporters:',
      '  - type: otlp',
      '    name: store',
      `    endpoint: http://127.0.0.1:${store.store.ports.grpc}`,
      '    protocol: grpc',
      `    queue: { dir: ${JSON.stringify(join(dir, 'queue'))} }`,
      '',
    ].join('\n'),
  );
  const agent = startSentinel(['agent', '--config', config], {
    POD_NAME: 'bench-0',
    POD_NAMESPACE: 'bench',
  });
  const started = await agent
    .waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP')
    .catch(() => undefined);
  if (!started) throw new Error('agent did not start');
  const ports = started['ports'] as { grpc: number; admin: number };

  const decode = decodeOnlyRate();
  console.log(`decode-only (same 100-span requests, one core, this process): ${fmt(decode)} spans/s`);
  console.log(
    '\n| offered spans/s | accepted spans/s | end-to-end spans/s (delivered to the store / 8 s) | last delivery after load end | refused | agent RSS peak | agent CPU ms / 1,000 spans | end-to-end / decode-only |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const rate of (process.env['BENCH_RATES'] ?? '1000,10000,50000').split(',').map(Number)) {
    const before = await agentMetrics(ports.admin);
    let rssPeak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        rssPeak = Math.max(rssPeak, sum(await agentMetrics(ports.admin), 'process_resident_memory_bytes'));
        await sleep(250);
      }
    })();
    const load = await offer(ports.grpc, rate);
    const t0 = performance.now();
    const accepted =
      sum(await agentMetrics(ports.admin), 'sentinel_receiver_accepted_spans_total') -
      sum(before, 'sentinel_receiver_accepted_spans_total');
    // Delivered: until the store has every accepted span (decision_wait 1 s + batch timeout 1 s are in the way).
    const sentBefore = sum(before, 'sentinel_exporter_sent_spans_total');
    let delivered = 0;
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      delivered = sum(await agentMetrics(ports.admin), 'sentinel_exporter_sent_spans_total') - sentBefore;
      if (delivered >= accepted) break;
      await sleep(100);
    }
    const elapsed = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const after = await agentMetrics(ports.admin);
    const cpu = sum(after, 'process_cpu_seconds_total') - sum(before, 'process_cpu_seconds_total');
    const e2e = delivered / (DURATION_MS / 1000);
    console.log(
      `| ${fmt(rate)} | ${fmt(accepted / (DURATION_MS / 1000))} | ${fmt(e2e)} | ${elapsed.toFixed(1)} s | ${fmt(load.refused)} req | ${(rssPeak / 2 ** 20).toFixed(0)} MiB | ${((cpu * 1e6) / Math.max(1, accepted)).toFixed(1)} | ${(e2e / decode).toFixed(3)} |`,
    );
  }
  agent.child.kill('SIGTERM');
  await agent.exited;
  // shutdown, not dispose: abort() during a block encode waits out upload_retry.max_interval on an unref()ed
  // timer, the event loop empties under the pending top-level await, and the bench exited 13 (as completion.ts).
  await store.store.shutdown();
  rmSync(dir, { recursive: true, force: true });
}

await main();
