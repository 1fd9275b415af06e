/**
 * Two questions for issue 8:
 * 1. How long does `compareSpans` take for N spans per variant, against sorting the same durations (the least any
 *    percentile needs)? The Hodges-Lehmann bisection must stay far from the n^2 pairwise differences.
 * 2. What does the span-metrics stage cost per span, against decoding the same spans from protobuf?
 */
import { availableParallelism } from 'node:os';
import { compareSpans, type CompareSpan } from '../src/compare/compare-spans.js';
import { agentConfigSchema } from '../src/config/index.js';
import { SpanMetricsStage } from '../src/measure/span-metrics.js';
import {
  av,
  decodeTraceRequest,
  encodeTraceRequest,
  type Span,
  type TraceBatch,
  type TraceConsumer,
  type TraceData,
} from '../src/otlp/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

function spans(n: number): CompareSpan[] {
  const r = rng(1);
  const out: CompareSpan[] = [];
  for (const variant of ['baseline', 'canary'])
    for (let i = 0; i < n; i++)
      out.push({
        durationNs: Math.exp(Math.log(50e6) + 0.5 * gaussian(r)),
        isError: r() < 0.01,
        weight: r() < 0.1 ? 1 : 10,
        variant,
        operation: `op-${Math.floor(r() * 5)}`,
      });
  return out;
}

function time(fn: () => void, reps: number): number {
  fn();
  const t = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t) / reps;
}

console.log(`cores: ${availableParallelism()}, node ${process.version}`);
console.log('\n1. compareSpans (5 operations, weights 1 and 10) against sorting the same durations');
console.log('spans per variant | compareSpans ms | baseline: sort 2N durations ms | ratio');
for (const n of [10_000, 100_000, 500_000]) {
  const input = spans(n);
  const reps = n >= 500_000 ? 1 : n >= 100_000 ? 2 : 10;
  const compare = time(() => compareSpans(input), reps);
  const sort = time(() => Float64Array.from(input, (s) => s.durationNs).sort(), reps);
  console.log(`${n} | ${compare.toFixed(0)} | ${sort.toFixed(1)} | ${(compare / sort).toFixed(1)}x`);
}

console.log(
  '\n2. span-metrics stage against protobuf decode, per span (10,000-span requests, 40 label sets)',
);
const r = rng(2);
const resourceSpans: TraceData['resourceSpans'] = [];
for (let res = 0; res < 4; res++) {
  const list: Span[] = [];
  for (let i = 0; i < 2500; i++) {
    const start = 1_700_000_000_000_000_000n + BigInt(i) * 1000n;
    list.push({
      traceId: Math.floor(r() * 2 ** 52)
        .toString(16)
        .padStart(32, '0'),
      spanId: Math.floor(r() * 2 ** 52)
        .toString(16)
        .padStart(16, '0'),
      traceState: '',
      parentSpanId: '',
      flags: 1,
      name: `GET /item/${i % 5}`,
      kind: i % 2 === 0 ? 2 : 3,
      startTimeUnixNano: start,
      endTimeUnixNano: start + BigInt(Math.floor(r() * 1e9)),
      attributes: [{ key: 'http.route', value: av.string('/item/:id') }],
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: i % 50 === 0 ? 2 : 0, message: '' },
    });
  }
  resourceSpans.push({
    resource: {
      attributes: [
        { key: 'service.name', value: av.string(`svc-${res % 2}`) },
        { key: 'deployment.variant', value: av.string(res < 2 ? 'baseline' : 'canary') },
      ],
      droppedAttributesCount: 0,
    },
    scopeSpans: [
      {
        scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 },
        spans: list,
        schemaUrl: '',
      },
    ],
    schemaUrl: '',
  });
}
const data: TraceData = { resourceSpans };
const wire = encodeTraceRequest(data);
const sink: TraceConsumer = {
  consume: async () => undefined,
  bufferedBytes: () => 0,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};
const stage = new SpanMetricsStage({
  next: sink,
  config: agentConfigSchema().parse({}).measure,
  metrics: new Metrics(),
  logger: silentLogger(),
});
const batch: TraceBatch = { data, spanCount: 10_000, bytes: wire.length };
const reps = 200;
const measure = time(() => void stage.consume(batch), reps);
const decode = time(() => void decodeTraceRequest(wire), 50);
console.log(
  `stage: ${((measure * 1e6) / 10_000).toFixed(0)} ns/span; decode: ${((decode * 1e6) / 10_000).toFixed(0)} ns/span; stage/decode ${(measure / decode).toFixed(2)}x`,
);
