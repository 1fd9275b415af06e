/**
 * Issue 16: what does a log record held with its trace cost the agent's sampler, beside a span, in the same run?
 *
 * 1. CPU per 1,000 items through the TailSampler with a policy (errors + 10 %, decisions included, decision
 *    timer driven by a manual clock): spans alone (100-span requests, 20 traces of 5) against the same spans
 *    plus 5 log records per trace (100-record requests written by the SDK's protobuf serializer, with trace
 *    ids, severity, a 40-character body and 2 attributes). The records' cost is the difference, per 1,000
 *    records: the median of the per-round differences of alternating rounds (11).
 * 2. The same logs without trace ids, decided at once by a `logs:` section (WARN and up, 20 % of the rest).
 * 3. Heap per held log record after a full GC (100,000 records held with their traces), against what the trace
 *    buffer's byte count says for them (the memory budget must not under-count).
 * Run with --expose-gc (npm run bench does).
 */
import { availableParallelism } from 'node:os';
import { scanTraceRequest, wireBatch, type SignalBatch, type TraceConsumer } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { encodeLogs, type LogSpec } from '../test/helpers/sdk-logs.js';
import { makeTraces } from '../test/helpers/store-spans.js';
import { encodeTraceRequest } from '../src/otlp/index.js';
import { ManualClock } from '../src/clock.js';
import { median } from './_stats.js';

const REQUESTS = 200;
const ROUNDS = 11;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (npm run bench -- logs-sampling does)');

console.log(
  `node ${process.version}, ${availableParallelism()} cores (the machine is shared with other sessions: figures move between runs; ratios are within one run)`,
);

let counter = 0;
/** Per request: 100 spans (20 traces of 5) and 100 log records of the same traces (5 per trace). */
function makeRequests(n: number, withTraceIds = true): Array<{ spans: Buffer; logs: Uint8Array }> {
  const template = makeTraces({ traces: 20, spansPerTrace: 5, seed: 16 });
  const spans = template.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  const out: Array<{ spans: Buffer; logs: Uint8Array }> = [];
  for (let r = 0; r < n; r++) {
    const traces = new Map<string, string>();
    for (const s of spans) {
      let t = traces.get(s.traceId);
      if (!t) traces.set(s.traceId, (t = (counter++).toString(16).padStart(16, '0') + s.traceId.slice(16)));
      s.traceId = t;
      s.spanId = (counter++).toString(16).padStart(16, '0');
    }
    const logs: LogSpec[] = spans.map((s, k) => ({
      ...(withTraceIds ? { traceId: s.traceId, spanId: s.spanId } : {}),
      severityNumber: k % 25 === 0 ? 13 : 9,
      severityText: k % 25 === 0 ? 'WARN' : 'INFO',
      body: `order ${counter} charged in ${k % 97} ms, retries 0`,
      attributes: { 'code.function': 'charge', 'order.items': k % 7 },
      timeMs: 1_700_000_000_000 + counter,
    }));
    out.push({ spans: encodeTraceRequest(template), logs: encodeLogs(logs) });
  }
  return out;
}

const POLICY = `
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 10}}
logs:
  policies:
    - {name: warnings, type: severity, severity: {min: WARN}}
    - {name: some-info, type: probabilistic, probabilistic: {sampling_percentage: 20}}
`;
const parsed = parsePolicyText(POLICY);
if (!parsed.ok) throw new Error('policy');
const policy = compilePolicy(parsed.config);
const nullNext: TraceConsumer = {
  consume: async () => {},
  consumeLogs: async () => {},
  bufferedBytes: () => 0,
  forceFlush: async () => {},
  shutdown: async () => {},
};
function newSampler(clock: ManualClock): TailSampler {
  return new TailSampler({
    next: nullNext,
    policySource: staticPolicySource(policy),
    metrics: new Metrics(),
    logger: silentLogger(),
    decisionWaitMs: 10_000,
    maxTraces: 1_000_000,
    maxBufferedBytes: 2 ** 40,
    clock,
  });
}
const logsBatch = (encoded: Uint8Array): SignalBatch => ({
  encoded,
  itemCount: 100,
  bytes: encoded.byteLength,
});

async function run(
  reqs: Array<{ spans: Buffer; logs: Uint8Array }>,
  spans: boolean,
  logs: boolean,
): Promise<void> {
  const clock = new ManualClock();
  const s = newSampler(clock);
  for (const r of reqs) {
    if (spans) await s.consume(wireBatch(scanTraceRequest(r.spans).spans));
    if (logs) await s.consumeLogs(logsBatch(r.logs));
    clock.advance(10);
  }
  await s.forceFlush();
}

async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const traced = makeRequests(REQUESTS);
const untraced = makeRequests(REQUESTS, false);
const items = REQUESTS * 100;
const logBytes = traced.reduce((n, r) => n + r.logs.byteLength, 0) / items;
const spanBytes = traced.reduce((n, r) => n + r.spans.byteLength, 0) / items;
console.log(
  `${items} spans and ${items} log records in ${REQUESTS} requests each; ${spanBytes.toFixed(0)} protobuf bytes per span, ${logBytes.toFixed(0)} per record`,
);

await run(traced.slice(0, 20), true, true);
const spansOnly: number[] = [];
const withLogs: number[] = [];
const noTrace: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  spansOnly.push(await time(() => run(traced, true, false)));
  withLogs.push(await time(() => run(traced, true, true)));
  noTrace.push(await time(() => run(untraced, false, true)));
}
const perK = (ms: number) => (ms / items) * 1000;
const sp = median(spansOnly);
const both = median(withLogs);
const diff = median(withLogs.map((w, k) => w - (spansOnly[k] as number)));
console.log(
  '\n1. through the TailSampler, errors + 10 %, decisions included (CPU ms per 1,000, median of 11)',
);
console.log(`   spans alone (baseline):           ${perK(sp).toFixed(2)} ms per 1,000 spans`);
console.log(`   spans + 1 record per span:        ${perK(both).toFixed(2)} ms per 1,000 spans`);
console.log(
  `   a record held with its trace:     ${perK(diff).toFixed(2)} ms per 1,000 records (median of the rounds' differences), ${(diff / sp).toFixed(2)}x a span`,
);
console.log(
  `2. records without trace ids, by the logs: section: ${perK(median(noTrace)).toFixed(2)} ms per 1,000 records, ${(median(noTrace) / sp).toFixed(2)}x a span`,
);

// 3. Heap per held record, measured against counted.
const HELD = 1000; // requests: 100,000 records
const heldReqs = makeRequests(HELD);
const spanReqs = heldReqs.map((r) => scanTraceRequest(r.spans).spans);
const logEnc = heldReqs.map((r) => r.logs);
const clock = new ManualClock();
const sampler = newSampler(clock);
for (const s of spanReqs) await sampler.consume(wireBatch(s));
gc();
gc();
// The encoded requests exist already (the sampler keeps a view of them, no copy): counted in `after`, not here.
const encodedTotal = logEnc.reduce((k, b) => k + b.byteLength, 0);
const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - encodedTotal;
const countedBefore = sampler.stats().bytes;
for (let k = 0; k < logEnc.length; k++) {
  await sampler.consumeLogs(logsBatch(logEnc[k] as Uint8Array));
  logEnc[k] = new Uint8Array(0); // the sampler's copy (its request) is what stays
}
gc();
gc();
const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const counted = sampler.stats().bytes - countedBefore;
const n = HELD * 100;
console.log(
  `3. held with their traces, ${n} records: measured ${((after - before) / n).toFixed(0)} B per record (heap + array buffers), counted ${(counted / n).toFixed(0)} B; ${logBytes.toFixed(0)} protobuf bytes each`,
);
await sampler.shutdown();
