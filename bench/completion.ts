/**
 * Issue 9: what do the agent's memory and CPU cost when the completion buffer (dropped traces held for the
 * decision feed) is full?
 *
 * An in-process TailSampler with the agent's defaults (decision_wait 10 s, max_buffered_bytes 48 MiB,
 * num_traces 50,000, decision caches 10,000 / 50,000) and the policy errors + 5 % probabilistic, on a
 * ManualClock, is fed a steady stream of OTLP requests at a simulated 10,000 spans/s (one request of 500 spans,
 * 50 traces of 10 spans from one pod, every 50 ms), each decoded from protobuf as the receivers do, with
 * TraceBatch.bytes = 10 x wire bytes (their estimate). Kept spans go to a next stage that does nothing.
 * Each mode runs in its own child process (so RSS is not inherited from another mode), on the same
 * deterministic stream:
 *   off     completion off: the baseline
 *   32MiB   completion on, window 30 s, max_bytes 32 MiB (the default)
 *   128MiB  completion on, window 30 s, max_bytes 128 MiB
 * Phases: warm-up (the trace buffer and the hold buffer fill, and evictions by bytes start), steady (CPU per
 * 1,000 spans: decode + sampling, as the agent spends it), then a full GC and heapUsed / RSS, then a release
 * phase (each tick the feed names 1 % of the held traces: the cost of release() per released span), then
 * 100,000 feed ids this agent never saw (the ids remembered for traces not seen yet, bounded by count, not by
 * max_bytes). Heap and RSS "above the baseline" are a mode's figure minus the off mode's at the same stream
 * position. Run with --expose-gc (npm run bench does). BENCH_ROUNDS=2 runs every mode twice.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { startSentinel } from '../test/helpers/child.js';
import { startTestStore } from '../test/helpers/store-harness.js';
import type { KeyValue, Span, TraceBatch, TraceConsumer, TraceData } from '../src/otlp/index.js';
import { av, decodeTraceRequest, encodeTraceRequest, rejectInvalidSpans } from '../src/otlp/index.js';
import { MODEL_BYTES_PER_WIRE_BYTE } from '../src/receiver/ingest.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import { completable } from '../src/sampling/decision-cache.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { scrapeMetrics } from './_scrape-metrics.js';
import { ManualClock } from '../src/clock.js';
import { median } from './_stats.js';

const MIB = 1024 * 1024;
const SPANS_PER_TRACE = 10;
const TRACES_PER_REQUEST = 50;
const SPANS_PER_REQUEST = SPANS_PER_TRACE * TRACES_PER_REQUEST;
/** 500 spans every 50 ms: 10,000 spans/s. */
const TICK_MS = 50;
const WARM_REQUESTS = 240;
const STEADY_REQUESTS = 200;
const RELEASE_REQUESTS = 100;
/** Share of the held traces the feed names per tick in the release phase. */
const RELEASE_SHARE = 0.01;
const UNSEEN_FEED_IDS = 100_000;
/** Traces with an error span (kept by the errors policy); the rest are kept 5 % by the hash. */
const ERROR_TRACE_SHARE = 0.02;

const POLICY = `
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 5}}
`;

interface Mode {
  readonly name: string;
  readonly maxBytes?: number;
}
const MODES: readonly Mode[] = [
  { name: 'off' },
  { name: '32MiB', maxBytes: 32 * MIB },
  { name: '128MiB', maxBytes: 128 * MIB },
];

interface ChildResult {
  mode: string;
  wireBytesPerSpan: number;
  heap: number;
  heapTotal: number;
  rss: number;
  /** Highest RSS seen after any request up to the measurement. */
  rssPeak: number;
  /** droppedSpans: spans of traces no policy kept (those the hold buffer takes), over STEADY_REQUESTS ticks. */
  steady: { spans: number; cpuUs: number; wallMs: number; droppedSpans: number; gcMs: number };
  releasePhase: { spans: number; cpuUs: number; releaseNs: number; releasedSpans: number; calls: number };
  held: { traces: number; spans: number; bytes: number };
  pending: { traces: number; spans: number; bytes: number };
  evictedBytes: number;
  evictedAge: number;
  unseen: { heap: number; ns: number } | undefined;
}

// --- the stream ---------------------------------------------------------------------------------------------

let seed = 9;
function rand32(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
const hex = (words: number) =>
  Array.from({ length: words }, () => rand32().toString(16).padStart(8, '0')).join('');

const ROUTES = ['/api/cart/:id', '/api/cart/:id/items', '/api/checkout', '/api/products/:id'];

/** One pod's SDK export: 50 whole traces of 10 spans (a server span, then client and internal spans). */
function makeRequest(n: number): Buffer {
  const spans: Span[] = [];
  for (let t = 0; t < TRACES_PER_REQUEST; t++) {
    const traceId = hex(4);
    const error = rand32() / 2 ** 32 < ERROR_TRACE_SHARE;
    const route = ROUTES[(n + t) % ROUTES.length] as string;
    const start = 1_700_000_000_000_000_000n + BigInt(n * TICK_MS + t) * 1_000_000n;
    let parent = '';
    for (let k = 0; k < SPANS_PER_TRACE; k++) {
      const spanId = hex(2);
      const server = k === 0;
      const attributes: KeyValue[] = server
        ? [
            { key: 'http.request.method', value: av.string('GET') },
            { key: 'http.route', value: av.string(route) },
            { key: 'url.path', value: av.string(route.replace(':id', String(rand32() % 100_000))) },
            { key: 'http.response.status_code', value: av.int(error ? 500 : 200) },
            { key: 'server.address', value: av.string('cart.shop.svc') },
            { key: 'server.port', value: av.int(8080) },
            { key: 'user_agent.original', value: av.string('Mozilla/5.0 (X11; Linux x86_64)') },
          ]
        : [
            { key: 'db.system', value: av.string('redis') },
            { key: 'db.operation.name', value: av.string(k % 2 ? 'GET' : 'HGETALL') },
            { key: 'server.address', value: av.string('redis.shop.svc') },
            { key: 'server.port', value: av.int(6379) },
            { key: 'db.query.text', value: av.string(`HGETALL cart:${rand32() % 100_000}`) },
          ];
      spans.push({
        traceId,
        spanId,
        traceState: '',
        parentSpanId: parent,
        flags: 1,
        name: server ? `GET ${route}` : k % 2 ? 'GET' : 'HGETALL',
        kind: server ? 2 : 3,
        startTimeUnixNano: start + BigInt(k) * 100_000n,
        endTimeUnixNano: start + BigInt(k) * 100_000n + BigInt(rand32() % 5_000_000),
        attributes,
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: error && k === SPANS_PER_TRACE - 1 ? 2 : 0, message: '' },
      });
      if (server) parent = spanId;
    }
  }
  const data: TraceData = {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: av.string('cart') },
            { key: 'service.version', value: av.string('1.4.2') },
            { key: 'telemetry.sdk.language', value: av.string('nodejs') },
            { key: 'telemetry.sdk.name', value: av.string('opentelemetry') },
            { key: 'telemetry.sdk.version', value: av.string('2.0.1') },
            { key: 'k8s.namespace.name', value: av.string('shop') },
            { key: 'k8s.pod.name', value: av.string('cart-7d4b9c8f6d-x2k9q') },
            { key: 'k8s.deployment.name', value: av.string('cart') },
          ],
          droppedAttributesCount: 0,
        },
        scopeSpans: [
          {
            scope: {
              name: '@opentelemetry/instrumentation-http',
              version: '0.57.0',
              attributes: [],
              droppedAttributesCount: 0,
            },
            spans,
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  };
  return encodeTraceRequest(data);
}

/** As the receivers hand a request on: decoded, checked, bytes estimated from the wire size. */
function decode(bytes: Buffer): TraceBatch {
  const data = decodeTraceRequest(bytes);
  rejectInvalidSpans(data);
  let spanCount = 0;
  for (const rs of data.resourceSpans) for (const ss of rs.scopeSpans) spanCount += ss.spans.length;
  return { data, spanCount, bytes: bytes.length * MODEL_BYTES_PER_WIRE_BYTE };
}

const nullNext: TraceConsumer = {
  consume: async () => {},
  bufferedBytes: () => 0,
  forceFlush: async () => {},
  shutdown: async () => {},
};

function memory(): { heap: number; heapTotal: number; rss: number } {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc (npm run bench does)');
  g();
  g();
  const m = process.memoryUsage();
  // Held span bytes live in slabs outside the V8 heap (issue 13): arrayBuffers counts them.
  return { heap: m.heapUsed + m.arrayBuffers, heapTotal: m.heapTotal, rss: m.rss };
}

const cpuUs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

// --- one mode, in a child process ---------------------------------------------------------------------------

const TOTAL_REQUESTS = WARM_REQUESTS + STEADY_REQUESTS + RELEASE_REQUESTS;

/** The stream, encoded once by the parent: each request length-prefixed (u32 BE). */
function writeStream(file: string): void {
  const parts: Buffer[] = [];
  for (let n = 0; n < TOTAL_REQUESTS; n++) {
    const body = makeRequest(n);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    parts.push(len, body);
  }
  writeFileSync(file, Buffer.concat(parts));
}

/** The requests as views of one buffer read from the file, so a child's heap never held their span objects. */
function readStream(file: string): Buffer[] {
  const all = readFileSync(file);
  const out: Buffer[] = [];
  for (let at = 0; at < all.length;) {
    const len = all.readUInt32BE(at);
    out.push(all.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

async function runMode(mode: Mode, file: string): Promise<ChildResult> {
  const parsed = parsePolicyText(POLICY);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  const policy = compilePolicy(parsed.config);
  const requests: Array<Buffer | undefined> = readStream(file);
  const wireBytesPerSpan =
    requests.reduce((s, r) => s + (r as Buffer).length, 0) / (TOTAL_REQUESTS * SPANS_PER_REQUEST);

  const clock = new ManualClock();
  const metrics = new Metrics();
  /** Completable dropped trace ids in decision order: the held ones are at its end. */
  const dropped: string[] = [];
  let droppedTraces = 0;
  const sampler = new TailSampler({
    next: nullNext,
    policySource: staticPolicySource(policy),
    metrics,
    logger: silentLogger(),
    decisionWaitMs: 10_000,
    maxTraces: 50_000,
    maxBufferedBytes: 48 * MIB,
    sampledCacheSize: 10_000,
    nonSampledCacheSize: 50_000,
    clock,
    onDecision: (traceId, decision) => {
      if (!completable(decision)) return;
      dropped.push(traceId);
      droppedTraces++;
    },
    ...(mode.maxBytes === undefined ? {} : { completion: { windowMs: 30_000, maxBytes: mode.maxBytes } }),
  });

  let next = 0;
  let rssPeak = 0;
  const step = async (): Promise<void> => {
    const bytes = requests[next] as Buffer;
    requests[next++] = undefined; // consumed, as a receiver lets go of the request
    await sampler.consume(decode(bytes));
    clock.advance(TICK_MS);
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  };
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });

  for (let i = 0; i < WARM_REQUESTS; i++) await step();
  // Bounded so it does not grow with the run (equal in every mode).
  dropped.splice(0, Math.max(0, dropped.length - 20_000));

  const droppedBefore = droppedTraces;
  gcObserver.observe({ entryTypes: ['gc'] });
  const steadyCpu = process.cpuUsage();
  const steadyStart = performance.now();
  for (let i = 0; i < STEADY_REQUESTS; i++) await step();
  const steady = {
    spans: STEADY_REQUESTS * SPANS_PER_REQUEST,
    cpuUs: cpuUs(steadyCpu),
    wallMs: performance.now() - steadyStart,
    droppedSpans: (droppedTraces - droppedBefore) * SPANS_PER_TRACE,
    gcMs: 0,
  };
  // GC entries reach the observer only once the event loop turns (the loop above never yields to timers).
  await new Promise((r) => setTimeout(r, 100));
  gcObserver.disconnect();
  steady.gcMs = gcMs;
  await sampler.drain();
  const mem = memory();
  const stats = sampler.stats();

  // Release phase: each tick the feed names 1 % of the held traces, picked among the most recently dropped.
  dropped.splice(0, Math.max(0, dropped.length - 20_000));
  const releasePhase = { spans: 0, cpuUs: 0, releaseNs: 0, releasedSpans: 0, calls: 0 };
  const releaseCpu = process.cpuUsage();
  for (let i = 0; i < RELEASE_REQUESTS; i++) {
    await step();
    releasePhase.spans += SPANS_PER_REQUEST;
    const held = sampler.stats().held.traces;
    const want = Math.round(held * RELEASE_SHARE);
    if (want === 0) continue;
    const ids: string[] = [];
    for (let k = 0; k < want; k++) {
      const id = dropped[dropped.length - 1 - (rand32() % Math.min(held, dropped.length))];
      if (id !== undefined) ids.push(id);
    }
    const t0 = process.hrtime.bigint();
    releasePhase.releasedSpans += sampler.release(ids);
    releasePhase.releaseNs += Number(process.hrtime.bigint() - t0);
    releasePhase.calls++;
  }
  await sampler.drain();
  releasePhase.cpuUs = cpuUs(releaseCpu);

  // Feed ids of traces this agent never saw: remembered (by count) for one window, outside max_bytes.
  let unseen: ChildResult['unseen'];
  if (mode.maxBytes !== undefined) {
    const before = memory();
    let ns = 0;
    // 100 ids per poll, each id a fresh string as the feed client decodes it; the strings count.
    for (let i = 0; i < UNSEEN_FEED_IDS; i += 100) {
      const ids = Array.from({ length: 100 }, () => hex(4));
      const t0 = process.hrtime.bigint();
      sampler.release(ids);
      ns += Number(process.hrtime.bigint() - t0);
    }
    const after = memory();
    unseen = { heap: after.heap - before.heap, ns };
  }

  const evictedBytes = await metrics.value('sampling_completion_evicted_spans_total', { reason: 'bytes' });
  const evictedAge = await metrics.value('sampling_completion_evicted_spans_total', { reason: 'age' });
  await sampler.shutdown();
  return {
    mode: mode.name,
    wireBytesPerSpan,
    heap: mem.heap,
    heapTotal: mem.heapTotal,
    rss: mem.rss,
    rssPeak,
    steady,
    releasePhase,
    held: stats.held,
    pending: { traces: stats.traces, spans: stats.spans, bytes: stats.bytes },
    evictedBytes,
    evictedAge,
    unseen,
  };
}

function runChild(mode: Mode, file: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(import.meta.url).pathname, ['--child', mode.name, file], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
    });
    let result: ChildResult | undefined;
    child.once('message', (m) => (result = m as ChildResult));
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`mode ${mode.name} exited with ${code}`)),
    );
  });
}

const mib = (n: number) => (n / MIB).toFixed(1);
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

// --- a real agent ---------------------------------------------------------------------------------------------

const AGENT_LOAD_MS = 12_000;
const AGENT_RATE = 10_000;
/**
 * Preloaded into the agent (NODE_OPTIONS, with --expose-gc): on SIGUSR2, a full GC, then heapUsed and RSS as a
 * log line, so that the held data is measured without the garbage a scrape of a running agent mostly sees.
 */
const GC_ON_SIGNAL = `data:text/javascript;base64,${Buffer.from(
  'process.on("SIGUSR2",()=>{globalThis.gc();globalThis.gc();const m=process.memoryUsage();' +
    'process.stdout.write(JSON.stringify({msg:"bench-gc",heapUsed:m.heapUsed,rss:m.rss})+"\\n")});',
).toString('base64')}`;

const scrape = scrapeMetrics;

function total(m: Map<string, number>, name: string, labels = ''): number {
  let n = 0;
  for (const [k, v] of m) if (k === name || k.startsWith(name + '{' + labels)) n += v;
  return n;
}

interface AgentResult {
  mode: string;
  acceptedPerSecond: number;
  refusedRequests: number;
  rssPeak: number;
  /** Median of the RSS samples over the second half of the load, when the hold buffer is full. */
  rssSteady: number;
  /**
   * Lowest heapUsed sample over the second half of the load: the trough of the garbage-collection sawtooth,
   * the nearest a scrape gets to live data (a median would mostly measure uncollected garbage).
   */
  heapTrough: number;
  /** After a full GC in the agent, right after the load (trace and hold buffers still full). */
  afterGc: { heapUsed: number; rss: number };
  heldBytes: number;
  evictedBytesSpans: number;
  cpuMsPer1000: number;
}

/**
 * `sentinel agent` as a child process (defaults but for the policy, and the exporter to an in-process store),
 * completion off or on against that store's query API; `bench/_pipeline-load.ts` offers 10,000 spans/s over
 * OTLP/gRPC (requests of 100 spans, 20 traces of 5, about 10 % of traces with an error span) for 15 s.
 */
async function measureAgent(
  mode: Mode,
  run: number,
  dir: string,
  storeUrl: string,
  storeGrpc: number,
): Promise<AgentResult> {
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY);
  const config = join(dir, `agent-${run}.yaml`);
  const completion =
    mode.maxBytes === undefined
      ? ''
      : `, completion: { enabled: true, stores: [${JSON.stringify(storeUrl)}], max_bytes: ${mode.maxBytes} }`;
  writeFileSync(
    config,
    [
      'receivers: { otlp: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } }',
      'admin: { endpoint: 127.0.0.1:0 }',
      'log: { level: info }',
      `sampling: { policy_file: ${JSON.stringify(policy)}${completion} }`,
      'exporters:',
      '  - type: otlp',
      '    name: store',
      `    endpoint: http://127.0.0.1:${storeGrpc}`,
      '    protocol: grpc',
      `    queue: { dir: ${JSON.stringify(join(dir, `queue-${run}`))} }`,
      '',
    ].join('\n'),
  );
  const agent = startSentinel(['agent', '--config', config], {
    POD_NAME: `bench-${run}`,
    POD_NAMESPACE: 'bench',
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --expose-gc --import=${GC_ON_SIGNAL}`,
  });
  try {
    const started = await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
    const ports = started['ports'] as { grpc: number; admin: number };
    const before = await scrape(ports.admin);
    const samples: Array<{ at: number; rss: number; heap: number }> = [];
    let sampling = true;
    const t0 = performance.now();
    const sampler = (async () => {
      while (sampling) {
        const m = await scrape(ports.admin);
        samples.push({
          at: performance.now() - t0,
          rss: total(m, 'process_resident_memory_bytes'),
          heap: total(m, 'nodejs_heap_size_used_bytes'),
        });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const load = await new Promise<{ requests: number; refused: number }>((resolve, reject) => {
      const child = fork(new URL('./_pipeline-load.ts', import.meta.url).pathname, [], {
        execArgv: ['--import', 'tsx'],
      });
      child.send({ port: ports.grpc, spansPerSecond: AGENT_RATE, durationMs: AGENT_LOAD_MS });
      child.once('message', (m) => resolve(m as { requests: number; refused: number }));
      child.once('error', reject);
    });
    sampling = false;
    await sampler;
    const after = await scrape(ports.admin);
    agent.child.kill('SIGUSR2');
    const gcLine = await agent.waitForLog((l) => l['msg'] === 'bench-gc', 10_000);
    const accepted =
      total(after, 'sentinel_receiver_accepted_spans_total') -
      total(before, 'sentinel_receiver_accepted_spans_total');
    const cpu = total(after, 'process_cpu_seconds_total') - total(before, 'process_cpu_seconds_total');
    const steady = samples.filter((x) => x.at > AGENT_LOAD_MS / 2 && x.at <= AGENT_LOAD_MS);
    return {
      mode: mode.name,
      acceptedPerSecond: accepted / (AGENT_LOAD_MS / 1000),
      refusedRequests: load.refused,
      rssPeak: Math.max(...samples.map((x) => x.rss)),
      rssSteady: median(steady.map((x) => x.rss)),
      heapTrough: Math.min(...steady.map((x) => x.heap)),
      afterGc: { heapUsed: gcLine['heapUsed'] as number, rss: gcLine['rss'] as number },
      heldBytes: total(after, 'sentinel_sampling_completion_held_bytes'),
      evictedBytesSpans: total(after, 'sentinel_sampling_completion_evicted_spans_total', 'reason="bytes"'),
      cpuMsPer1000: (cpu * 1e6) / Math.max(1, accepted),
    };
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
}

async function agentRun(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-completion-agent-'));
  mkdirSync(join(dir, 'store'));
  const store = await startTestStore({ dir: join(dir, 'store'), overrides: { block: { max_age: '5s' } } });
  try {
    const storeUrl = `http://127.0.0.1:${store.store.ports.query}`;
    const results: AgentResult[] = [];
    // off, on, off: the baseline is the mean of the runs before and after, so that a drift in the machine's
    // load (or the store's growing work) does not pass for the cost of completion.
    const sequence = [MODES[0], MODES[1], MODES[0]] as Mode[];
    for (const [run, mode] of sequence.entries())
      results.push(await measureAgent(mode, run, dir, storeUrl, store.store.ports.grpc));
    const offs = results.filter((r) => r.mode === 'off');
    const mean = (f: (r: AgentResult) => number) => offs.reduce((n, r) => n + f(r), 0) / offs.length;
    const off = {
      rssSteady: mean((r) => r.rssSteady),
      rssPeak: mean((r) => r.rssPeak),
      heapTrough: mean((r) => r.heapTrough),
      afterGc: { heapUsed: mean((r) => r.afterGc.heapUsed), rss: mean((r) => r.afterGc.rss) },
      cpuMsPer1000: mean((r) => r.cpuMsPer1000),
    };
    console.log(
      `\nreal agent (child process, defaults, errors + 5 % policy, exporting to an in-process store), ${fmtInt(AGENT_RATE)} spans/s offered over OTLP/gRPC for ${AGENT_LOAD_MS / 1000} s; RSS and heap from its /metrics every 250 ms over the second half of the load (hold buffer full): RSS median, heapUsed lowest sample (trough of the GC sawtooth); runs off, 32MiB, off, and "above off" is against the mean of the two off runs`,
    );
    console.log(
      '\n| mode | accepted spans/s | refused requests | held bytes (estimated) at the end | evicted spans by bytes | RSS steady (above off) | RSS peak (above off) | heapUsed trough (above off) | heapUsed after a full GC (above off) | RSS after it (above off) | agent CPU ms / 1,000 spans (vs off) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      const on = r.mode !== 'off';
      const vs = (v: number, b: number) =>
        `${mib(v)} MiB (${on ? `${v >= b ? '+' : ''}${mib(v - b)}` : 'baseline'})`;
      console.log(
        `| ${r.mode} | ${fmtInt(r.acceptedPerSecond)} | ${r.refusedRequests} | ${mib(r.heldBytes)} MiB | ${fmtInt(r.evictedBytesSpans)} | ${vs(r.rssSteady, off.rssSteady)} | ${vs(r.rssPeak, off.rssPeak)} | ${vs(r.heapTrough, off.heapTrough)} | ${vs(r.afterGc.heapUsed, off.afterGc.heapUsed)} | ${vs(r.afterGc.rss, off.afterGc.rss)} | ${r.cpuMsPer1000.toFixed(1)} (${(r.cpuMsPer1000 / off.cpuMsPer1000).toFixed(2)}x) |`,
      );
    }
  } finally {
    // shutdown, not dispose: abort() during a block encode waits out upload_retry.max_interval (30 s) on an
    // unref()ed timer, and this process would end with that promise unsettled.
    await store.store.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- the report ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? '2');
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  console.log(`node ${process.version}, ${availableParallelism()} cores, load average ${load()}`);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-completion-'));
  const file = join(dir, 'stream.bin');
  writeStream(file);
  const results = new Map<string, ChildResult[]>();
  try {
    // Modes alternate (off, 32MiB, 128MiB, off, ...), so that a change in the machine's load hits all of them.
    for (let r = 0; r < rounds; r++)
      for (const mode of MODES) {
        const res = await runChild(mode, file);
        results.set(mode.name, [...(results.get(mode.name) ?? []), res]);
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (rounds > 0) report(results);
  console.log(`load average after the in-process part: ${load()}`);
  if (process.env['BENCH_AGENT'] !== '0') {
    await agentRun();
    console.log(`load average at the end: ${load()}`);
  }
}

function report(results: Map<string, ChildResult[]>): void {
  const off = results.get('off') as ChildResult[];
  const first = off[0] as ChildResult;
  const steadySeconds = (STEADY_REQUESTS * TICK_MS) / 1000;
  console.log(
    `stream: 10,000 spans/s simulated (${SPANS_PER_REQUEST}-span requests every ${TICK_MS} ms), ${first.wireBytesPerSpan.toFixed(0)} B of protobuf per span, ` +
      `estimated ${(first.wireBytesPerSpan * MODEL_BYTES_PER_WIRE_BYTE).toFixed(0)} B; errors in ${(ERROR_TRACE_SHARE * 100).toFixed(0)} % of traces + 5 % probabilistic: ` +
      `${((first.steady.droppedSpans / first.steady.spans) * 100).toFixed(1)} % of spans dropped; trace buffer at measurement ${first.pending.spans} spans ` +
      `(${mib(first.pending.bytes)} MiB estimated, the same in every mode)`,
  );
  const heapOff = median(off.map((x) => x.heap));
  const rssOff = median(off.map((x) => x.rss));
  const rssPeakOff = median(off.map((x) => x.rssPeak));
  const heapTotalOff = median(off.map((x) => x.heapTotal));
  const above = (on: boolean, v: number, base: number) =>
    `${mib(v)} MiB (${on ? `${v >= base ? '+' : ''}${mib(v - base)}` : 'baseline'})`;
  const cpuOf = (x: ChildResult) => x.steady.cpuUs / x.steady.spans; // ms per 1,000 spans
  const cpuOff = median(off.map(cpuOf));
  console.log(
    '\n| mode | held spans (traces) | held, estimated | time a dropped trace is held (s) | evicted spans by bytes / age | heapUsed + arrayBuffers (above off) | heapTotal (above off) | RSS after GC (above off) | RSS peak (above off) | heap per held span | real heap / estimated held bytes | CPU ms / 1,000 spans, steady (vs off median) | of which GC pauses ms | release() µs per released span | 100k unseen feed ids (remembered up to the cap): heap, µs per id |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const mode of MODES) {
    for (const x of results.get(mode.name) ?? []) {
      const on = mode.maxBytes !== undefined;
      const extraHeap = x.heap - heapOff;
      const rel = x.releasePhase;
      const cells = [
        x.mode,
        `${x.held.spans} (${x.held.traces})`,
        `${mib(x.held.bytes)} MiB`,
        on ? (x.held.spans / (x.steady.droppedSpans / steadySeconds)).toFixed(2) : '-',
        `${x.evictedBytes} / ${x.evictedAge}`,
        above(on, x.heap, heapOff),
        above(on, x.heapTotal, heapTotalOff),
        above(on, x.rss, rssOff),
        above(on, x.rssPeak, rssPeakOff),
        on ? `${(extraHeap / x.held.spans).toFixed(0)} B` : '-',
        on ? (extraHeap / x.held.bytes).toFixed(2) : '-',
        `${cpuOf(x).toFixed(1)} (${(cpuOf(x) / cpuOff).toFixed(2)}x)`,
        ((x.steady.gcMs / x.steady.spans) * 1000).toFixed(1),
        on && rel.releasedSpans > 0
          ? `${(rel.releaseNs / 1000 / rel.releasedSpans).toFixed(2)} (${rel.releasedSpans} spans, ${rel.calls} calls)`
          : '-',
        x.unseen ? `+${mib(x.unseen.heap)} MiB, ${(x.unseen.ns / 1000 / UNSEEN_FEED_IDS).toFixed(2)}` : '-',
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
  }
  const releaseCpu = MODES.map((m) => {
    const xs = results.get(m.name) ?? [];
    return `${m.name} ${median(xs.map((x) => x.releasePhase.cpuUs / x.releasePhase.spans)).toFixed(1)} ms`;
  });
  console.log(
    `\nCPU: process.cpuUsage over decode + sampling of ${first.steady.spans} spans (hold buffer full and evicting by bytes); off median ${cpuOff.toFixed(1)} ms / 1,000 spans.`,
  );
  console.log(
    `Release phase (feed names ${RELEASE_SHARE * 100} % of held traces per tick), CPU per 1,000 spans received, medians: ${releaseCpu.join(', ')}.`,
  );
}

if (process.argv[2] === '--child') {
  const mode = MODES.find((m) => m.name === process.argv[3]);
  if (!mode) throw new Error(`unknown mode ${process.argv[3]}`);
  const result = await runMode(mode, process.argv[4] as string);
  process.send?.(result, () => process.exit(0));
} else {
  await main();
}
