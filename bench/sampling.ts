/**
 * Issue 4: what does tail sampling cost per span, compared with receiving the span, and how much memory
 * do 50,000 buffered traces of 10 spans take?
 *
 * 1. Cost. Baseline, measured in this run: the receiver's CPU per span before it hands a request on,
 *    protobuf decode plus the spec checks (decodeTraceRequest + rejectInvalidSpans), no sockets: a lower
 *    bound of receive cost, so the ratio is an upper bound. Sampling: TailSampler.consume for every
 *    request, then the decisions (clock advanced past decision_wait), regrouping and marking of kept
 *    spans, handed to a next stage that does nothing. Traces of 10 spans, each split over two requests of
 *    500 spans (as SDK batches cut traces); the policy keeps errors, slow traces and 10 % of the rest and
 *    drops health checks. Also the pass-through cost with no policy file.
 * 2. Memory. 50,000 traces x 10 spans decoded from protobuf and held (a) in a plain array, the data alone,
 *    and (b) in a TailSampler that has not decided yet; RSS and heapUsed deltas after a full GC.
 *    The difference is the sampler's own overhead; (b) is what the agent needs, stated against the
 *    64 MiB default memory_limit_mib. Run with --expose-gc (npm run bench does).
 */
import { availableParallelism } from 'node:os';
import type { TraceBatch, TraceConsumer, TraceData } from '../src/otlp/index.js';
import { av, decodeTraceRequest, encodeTraceRequest, rejectInvalidSpans } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { DecisionCache } from '../src/sampling/decision-cache.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, keepAllPolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import type { SamplingPolicy } from '../src/sampling/sampling-policy.js';
import { MODEL_BYTES_PER_WIRE_BYTE } from '../src/receiver/ingest.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { ManualClock } from '../src/clock.js';
import { median } from './_stats.js';

const SPANS_PER_TRACE = 10;
const SPANS_PER_REQUEST = 500;
const ROUNDS = 3;
const COST_TRACES = 10_000;
const MEMORY_TRACES = 50_000;
const MIB = 1024 * 1024;

const POLICY = `
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 1000}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 10}}
  - name: no-health-checks
    type: drop
    drop: {drop_sub_policy: [{name: health, type: string_attribute, string_attribute: {key: url.path, values: [/healthz, /readyz]}}]}
`;

let seed = 12345;
function rand32(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
const hex = (words: number) =>
  Array.from({ length: words }, () => rand32().toString(16).padStart(8, '0')).join('');

/** Encoded requests carrying `traces` traces; each trace's first half in one request, second half in the next. */
function makeRequests(traces: number): Buffer[] {
  const spansOf = (i: number, id: string, half: 0 | 1) => {
    const kind = i % 20;
    return Array.from({ length: SPANS_PER_TRACE / 2 }, (_, k) => {
      const start = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n;
      const durMs = kind === 1 ? 1500 : 20;
      return {
        traceId: id,
        spanId: hex(2),
        traceState: '',
        parentSpanId: half === 1 && k === 0 ? '' : hex(2),
        flags: 1,
        name: `GET /items/${k}`,
        kind: 2,
        startTimeUnixNano: start,
        endTimeUnixNano: start + BigInt(durMs) * 1_000_000n,
        attributes: [
          { key: 'http.request.method', value: av.string('GET') },
          { key: 'http.route', value: av.string('/items/:id') },
          { key: 'http.response.status_code', value: av.int(kind === 0 ? 500 : 200) },
          { key: 'url.path', value: av.string(kind === 2 ? '/healthz' : `/items/${i}`) },
          { key: 'server.address', value: av.string('checkout.shop.svc') },
          { key: 'server.port', value: av.int(8080) },
        ],
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: kind === 0 && k === 0 ? 2 : 0, message: '' },
      };
    });
  };
  const tracesPerRequest = SPANS_PER_REQUEST / (SPANS_PER_TRACE / 2);
  const ids = Array.from({ length: traces }, () => hex(4));
  const requests: Buffer[] = [];
  // Request r holds the second halves of the traces of request r-1 window and the first halves of its own.
  for (let start = 0; start < traces + tracesPerRequest; start += tracesPerRequest / 2) {
    const spans = [];
    for (let i = start - tracesPerRequest / 2; i < start; i++)
      if (i >= 0 && i < traces) spans.push(...spansOf(i, ids[i] as string, 1));
    for (let i = start; i < start + tracesPerRequest / 2; i++)
      if (i < traces) spans.push(...spansOf(i, ids[i] as string, 0));
    if (spans.length === 0) continue;
    const data: TraceData = {
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: av.string('checkout') },
              { key: 'service.version', value: av.string('1.2.3') },
              { key: 'k8s.pod.name', value: av.string('checkout-7d4b9c8f6d-x2k9q') },
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
    requests.push(encodeTraceRequest(data));
  }
  return requests;
}

const nullNext: TraceConsumer = {
  consume: async () => {},
  bufferedBytes: () => 0,
  forceFlush: async () => {},
  shutdown: async () => {},
};

function decodeAll(requests: Buffer[]): TraceBatch[] {
  return requests.map((bytes) => {
    const data = decodeTraceRequest(bytes);
    rejectInvalidSpans(data);
    let spanCount = 0;
    for (const rs of data.resourceSpans) for (const ss of rs.scopeSpans) spanCount += ss.spans.length;
    // As the receivers count it: estimated heap bytes, a fixed factor of the wire bytes.
    return { data, spanCount, bytes: bytes.length * MODEL_BYTES_PER_WIRE_BYTE };
  });
}

function sampler(policy: SamplingPolicy, clock: ManualClock, maxTraces: number): TailSampler {
  return new TailSampler({
    next: nullNext,
    policySource: staticPolicySource(policy),
    metrics: new Metrics(),
    logger: silentLogger(),
    decisionWaitMs: 10_000,
    maxTraces,
    maxBufferedBytes: 2 ** 40,
    clock,
  });
}

const ns = () => process.hrtime.bigint();

/**
 * Decode and sampling interleaved request by request, as in the agent, each timed on its own, so that garbage
 * collection lands on whichever allocates. The clock moves 50 ms per request, so decisions (decision_wait
 * 10 s) happen along the run and the rest at the end, all counted as sampling.
 */
async function measureCost(policy: SamplingPolicy, requests: Buffer[]) {
  const decodeNs: number[] = [];
  const sampleNs: number[] = [];
  let spans = 0;
  let kept = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const clock = new ManualClock();
    let keptSpans = 0;
    const s = new TailSampler({
      next: { ...nullNext, consume: async (b) => void (keptSpans += b.spanCount) },
      policySource: staticPolicySource(policy),
      metrics: new Metrics(),
      logger: silentLogger(),
      decisionWaitMs: 10_000,
      maxTraces: 1_000_000,
      maxBufferedBytes: 2 ** 40,
      clock,
    });
    let decode = 0n;
    let sample = 0n;
    spans = 0;
    for (const bytes of requests) {
      const t0 = ns();
      const [batch] = decodeAll([bytes]);
      const t1 = ns();
      await s.consume(batch as TraceBatch);
      clock.advance(50);
      const t2 = ns();
      decode += t1 - t0;
      sample += t2 - t1;
      spans += (batch as TraceBatch).spanCount;
    }
    const t3 = ns();
    clock.advance(10_000);
    await s.drain();
    sample += ns() - t3;
    // Round 0 warms the JIT up and is not counted.
    if (round > 0) {
      decodeNs.push(Number(decode) / spans);
      sampleNs.push(Number(sample) / spans);
    }
    kept = keptSpans;
  }
  return { decode: median(decodeNs), sample: median(sampleNs), spans, kept };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc (npm run bench does)');
  g();
  g();
}

function memory(): { rss: number; heap: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

async function main() {
  console.log(`node ${process.version}, ${availableParallelism()} cores`);
  const policy = (() => {
    const parsed = parsePolicyText(POLICY);
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
    return compilePolicy(parsed.config);
  })();

  // 1. Cost per span.
  const requests = makeRequests(COST_TRACES);
  const withPolicy = await measureCost(policy, requests);
  const passThrough = await measureCost(keepAllPolicy, requests);
  console.log(
    `\ncost per span (${withPolicy.spans} spans in ${requests.length} requests of ~${SPANS_PER_REQUEST}, median of ${ROUNDS} after a warm-up)`,
  );
  console.log(`  receive baseline (protobuf decode + checks): ${withPolicy.decode.toFixed(0)} ns/span`);
  console.log(
    `  tail sampling, policy file:                  ${withPolicy.sample.toFixed(0)} ns/span  = ${(withPolicy.sample / withPolicy.decode).toFixed(3)} x receive  (kept ${((100 * withPolicy.kept) / withPolicy.spans).toFixed(1)} % of spans)`,
  );
  console.log(
    `  no policy file (pass-through, weight only):  ${passThrough.sample.toFixed(0)} ns/span  = ${(passThrough.sample / passThrough.decode).toFixed(3)} x receive`,
  );

  // 2. Memory with 50,000 traces of 10 spans buffered.
  const memRequests = makeRequests(MEMORY_TRACES);
  const protobufBytes = memRequests.reduce((n, r) => n + r.length, 0);
  const base = memory();
  const held: TraceBatch[] = decodeAll(memRequests);
  const dataOnly = memory();
  const spanCount = held.reduce((n, b) => n + b.spanCount, 0);
  held.length = 0;
  const afterRelease = memory();
  const clock = new ManualClock();
  const s = sampler(policy, clock, MEMORY_TRACES);
  for (const b of decodeAll(memRequests)) await s.consume(b);
  const buffered = memory();
  const stats = s.stats();
  const d = (a: number, b: number) => ((a - b) / MIB).toFixed(1);
  console.log(
    `\nmemory: ${stats.traces} traces, ${stats.spans} spans buffered (${spanCount} decoded), protobuf ${(protobufBytes / MIB).toFixed(1)} MiB, accounted ${(stats.bytes / MIB).toFixed(1)} MiB (the receivers' estimate, ${MODEL_BYTES_PER_WIRE_BYTE} B per wire byte)`,
  );
  console.log(
    `  decoded data alone (array):  RSS +${d(dataOnly.rss, base.rss)} MiB, heapUsed +${d(dataOnly.heap, base.heap)} MiB`,
  );
  console.log(
    `  in the TailSampler:          RSS +${d(buffered.rss, afterRelease.rss)} MiB, heapUsed +${d(buffered.heap, afterRelease.heap)} MiB`,
  );
  console.log(
    `  sampler overhead over the data: heapUsed +${d(buffered.heap - afterRelease.heap, dataOnly.heap - base.heap)} MiB = ${((buffered.heap - afterRelease.heap - (dataOnly.heap - base.heap)) / spanCount).toFixed(0)} B/span`,
  );
  console.log(
    `  heap per span ${((buffered.heap - afterRelease.heap) / spanCount).toFixed(0)} B vs ${(protobufBytes / spanCount).toFixed(0)} B of protobuf: x${((buffered.heap - afterRelease.heap) / protobufBytes).toFixed(1)}`,
  );
  console.log(
    `  against the 64 MiB default memory_limit_mib: ${((buffered.heap - afterRelease.heap) / (64 * MIB)).toFixed(1)} x the budget`,
  );
  await s.shutdown();

  // 3. The decision cache at its default sizes (10,000 kept, 50,000 dropped ids), against an empty one.
  const before = memory();
  const ids = Array.from({ length: 60_000 }, () => hex(4));
  const cache = new DecisionCache(10_000, 50_000);
  const keptDecision = {
    keep: true,
    reason: 'probabilistic',
    policy: 'baseline',
    weight: 10,
    th: 'e6666666666668',
    rv: '',
  } as const;
  const droppedDecision = { keep: false, reason: 'not_sampled', policy: '', weight: 0 } as const;
  ids.forEach((id, i) =>
    cache.record(id, i < 10_000 ? { ...keptDecision, rv: id.slice(18) } : droppedDecision),
  );
  const filled = memory();
  console.log(
    `\ndecision cache at its default sizes: ${cache.size.kept} kept + ${cache.size.dropped} dropped ids: heapUsed +${d(filled.heap, before.heap)} MiB (${((filled.heap - before.heap) / 60_000).toFixed(0)} B per id, the id strings included)`,
  );
}

await main();
