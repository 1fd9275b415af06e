/**
 * Does the memory budget hold for every span shape (issue 18)? Two questions:
 * 1. Model heap per shape: the heap the decoded request and its block rows hold, per wire byte, against the
 *    admission estimate (src/receiver/admission-estimate.ts) and against the old estimate (10 per wire byte),
 *    measured in this process for protobuf and OTLP/JSON.
 * 2. The agent and the store as processes under the memory limits the chart gives them (agent: 256Mi +
 *    completion.maxBytes 32MiB = 288Mi, the V8 flags the injector sets for it; store: 2Gi, the V8 flags the chart sets), each sent the
 *    issue's three shapes by 3 senders at once (agent: 4 MB requests, store: 16 MB): peak RSS (VmHWM) against the
 *    limit, and how many requests were taken and how many refused with 429.
 * BENCH_ADMISSION_ONLY=<kind>:<shape substring> (e.g. `agent:id-only`) runs only that part of table 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTraceRequest, decodeTraceRequestJson, encodeTraceRequestJson } from '../src/otlp/index.js';
import { estimateJsonRequest, estimateProtobufRequest } from '../src/receiver/admission-estimate.js';
import { MODEL_BYTES_PER_WIRE_BYTE } from '../src/receiver/ingest.js';
import { flattenTraceData } from '../src/storage/index.js';
import { nodeOptionsForMemoryLimit } from '../src/injector/node-heap.js';
import { shapes, type Shape } from './_admission-shapes.js';

const MIB = 1024 * 1024;
/** The NODE_OPTIONS the chart gives the store for its 2Gi limit (charts/sentinel _helpers.tpl sentinel.storeNodeOptions). */
const STORE_FLAGS = ['--max-old-space-size=1280', '--max-semi-space-size=8'];
const gc = (globalThis as { gc?: () => void }).gc;
const cli = join(import.meta.dirname, '..', 'src', 'cli.ts');

function heapHeld(
  body: Uint8Array,
  decode: (b: Uint8Array) => ReturnType<typeof decodeTraceRequest>,
): number {
  if (!gc) throw new Error('run with --expose-gc (npm run bench does)');
  const held: unknown[] = [];
  const n = 4;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    const d = decode(body);
    held.push(d, flattenTraceData(d));
  }
  gc();
  gc();
  const per = (process.memoryUsage().heapUsed - before) / n;
  held.length = 0;
  return per;
}

function modelHeapTable(): void {
  console.log(
    '\n### 1. heap held per request (decoded model + block rows), 1 MiB requests\n\n' +
      '| shape | encoding | wire bytes | heap / wire byte | estimate / heap | old estimate (10/B) / heap |\n' +
      '| --- | --- | ---: | ---: | ---: | ---: |',
  );
  let worst = { ratio: Infinity, name: '' };
  for (const s of shapes(MIB)) {
    const json = Buffer.from(encodeTraceRequestJson(s.data));
    for (const [enc, body, decode, estimate] of [
      ['protobuf', s.body, decodeTraceRequest, estimateProtobufRequest],
      ['json', json, decodeTraceRequestJson, estimateJsonRequest],
    ] as const) {
      const heap = heapHeld(body, decode);
      const ratio = estimate(body) / heap;
      if (ratio < worst.ratio) worst = { ratio, name: `${s.name} (${enc})` };
      console.log(
        `| ${s.name} | ${enc} | ${body.length} | ${(heap / body.length).toFixed(1)} | ${ratio.toFixed(2)} | ${(
          (body.length * MODEL_BYTES_PER_WIRE_BYTE) /
          heap
        ).toFixed(2)} |`,
      );
    }
  }
  console.log(
    `\nlowest estimate / heap: ${worst.ratio.toFixed(2)} (${worst.name}); below 1 would under-count`,
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Child {
  proc: ChildProcess;
  http: number;
  grpc: number;
  query: number;
}

async function startChild(
  kind: 'agent' | 'store',
  dir: string,
  heapFlags: readonly string[],
  config: (p: Record<string, number>) => string,
): Promise<Child> {
  const ports = {
    http: await freePort(),
    grpc: await freePort(),
    admin: await freePort(),
    query: await freePort(),
  };
  const file = join(dir, `${kind}.yaml`);
  writeFileSync(file, config(ports));
  const proc = spawn(process.execPath, [...heapFlags, '--import', 'tsx', cli, kind, '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${ports.admin}/readyz`)).status === 200) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`the ${kind} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, ...ports };
}

/** Peak and current resident set of a process, from /proc (Linux). */
function rss(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

async function offer(port: number, body: Uint8Array, senders: number, perSender: number, proc: ChildProcess) {
  const statuses: Record<string, number> = {};
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rss(proc.pid!).now);
    } catch {
      // exited
    }
  }, 50);
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (let i = 0; i < perSender; i++) {
        let status: string;
        try {
          const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf' },
            body,
          });
          await res.arrayBuffer();
          status = String(res.status);
          if (res.status === 429)
            await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
        } catch (err) {
          status = `error: ${(err as Error).message}`;
          if (proc.exitCode !== null || proc.signalCode !== null)
            status = `died (${proc.exitCode ?? proc.signalCode})`;
        }
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  // Let the pipeline take what it admitted (decisions, exports, blocks) before the peak is read.
  await new Promise((r) => setTimeout(r, 3000));
  clearInterval(sampler);
  let hwm = peak;
  try {
    hwm = Math.max(peak, rss(proc.pid!).peak);
  } catch {
    // exited
  }
  return { statuses, hwm };
}

const fmt = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([k, v]) => `${v}x ${k}`)
    .join(', ');

interface Run {
  readonly kind: 'agent' | 'store';
  readonly limitMib: number;
  readonly heapFlags: readonly string[];
  readonly target: number;
}

async function processTable(): Promise<void> {
  console.log(
    '\n### 2. processes under the chart limits, 3 senders x 4 requests each\n\n' +
      '| process (limit, V8 flags) | shape | request | spans | answers | peak RSS | peak / limit |\n' +
      '| --- | --- | ---: | ---: | --- | ---: | ---: |',
  );
  // The agent gets the V8 flags the injector sets for the chart's limit (src/injector/node-heap.ts), as in a pod.
  const agentFlags = (nodeOptionsForMemoryLimit(288 * MIB) ?? '').split(' ');
  const runs: Run[] = [
    { kind: 'agent', limitMib: 288, heapFlags: agentFlags, target: 4 * MIB - 64 * 1024 },
    { kind: 'store', limitMib: 2048, heapFlags: STORE_FLAGS, target: 16 * MIB - 64 * 1024 },
  ];
  const [onlyKind, onlyShape] = (process.env['BENCH_ADMISSION_ONLY'] ?? '').split(':');
  for (const run of runs) {
    if (onlyKind && run.kind !== onlyKind) continue;
    for (const shape of shapes(run.target, ['one huge span', 'id-only', 'typical'])) {
      if (onlyShape && !shape.name.includes(onlyShape)) continue;
      await oneProcessRun(run, shape);
    }
  }
}

async function oneProcessRun(run: Run, shape: Shape): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-admission-'));
  const children: Child[] = [];
  try {
    // The store (a sink for the agent run, the subject for the store run) with the chart's store config.
    const store = await startChild('store', dir, run.kind === 'store' ? run.heapFlags : STORE_FLAGS, (p) =>
      [
        `receivers: { otlp: { grpc: { endpoint: "127.0.0.1:${p['grpc']}" }, http: { endpoint: "127.0.0.1:${p['http']}" }, max_request_bytes: 16MiB } }`,
        `admin: { endpoint: "127.0.0.1:${p['admin']}" }`,
        `query: { endpoint: "127.0.0.1:${p['query']}" }`,
        `storage: { url: "file://${dir}/data" }`,
        `wal_dir: ${dir}/wal`,
        'block: { max_bytes: 64MiB, max_spans: 1000000, max_age: 1m }',
        'log: { level: warn }',
      ].join('\n'),
    );
    children.push(store);
    let subject = store;
    if (run.kind === 'agent') {
      writeFileSync(
        join(dir, 'policy.yaml'),
        'policies:\n  - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n' +
          '  - { name: slow, type: latency, latency: { threshold_ms: 1000 } }\n' +
          '  - { name: baseline, type: probabilistic, probabilistic: { sampling_percentage: 10 } }\n',
      );
      subject = await startChild('agent', dir, run.heapFlags, (p) =>
        [
          `receivers: { otlp: { grpc: { endpoint: "127.0.0.1:${p['grpc']}" }, http: { endpoint: "127.0.0.1:${p['http']}" } } }`,
          `admin: { endpoint: "127.0.0.1:${p['admin']}" }`,
          'log: { level: warn }',
          `sampling: { policy_file: ${dir}/policy.yaml, completion: { enabled: true, max_bytes: 32MiB, stores: ["http://127.0.0.1:${store.query}"] } }`,
          `exporters: [{ type: otlp, endpoint: "http://127.0.0.1:${store.grpc}", protocol: grpc }]`,
        ].join('\n'),
      );
      children.push(subject);
    }
    const { statuses, hwm } = await offer(subject.http, shape.body, 3, 4, subject.proc);
    const spans = shape.data.resourceSpans.reduce(
      (n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0),
      0,
    );
    console.log(
      `| ${run.kind} (${run.limitMib} Mi, ${run.heapFlags.join(' ')}) | ${shape.name} | ${(shape.body.length / MIB).toFixed(1)} MiB | ${spans} | ${fmt(statuses)} | ${(hwm / MIB).toFixed(0)} MiB | ${(hwm / (run.limitMib * MIB)).toFixed(2)} |`,
    );
  } finally {
    for (const c of children.reverse()) c.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `admission: ${availableParallelism()} cores (shared with other sessions: figures are indicative)`,
);
if (!process.env['BENCH_ADMISSION_ONLY']) modelHeapTable();
await processTable();
