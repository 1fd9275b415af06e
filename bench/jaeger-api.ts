/**
 * Issue 15, Jaeger's half: what does answering a trace in Jaeger UI's model (`/jaeger/api/traces/{id}`) or in
 * api_v3's OTLP JSON (`/api/v3/traces/{id}`) cost the store, against Tempo's `/api/traces/{id}` JSON of the same
 * spans (the baseline, measured in the same run)? Spans as the store reads them from a block; the time is the
 * mapping and JSON.stringify, per span. 7 alternating rounds, median shown.
 */
import { availableParallelism, loadavg } from 'node:os';
import { traceDataToJson } from '../src/otlp/index.js';
import { flattenTraceData, toTraceData, type StoredSpan } from '../src/storage/index.js';
import { jaegerResponse, toJaegerTrace } from '../src/store/jaeger-model.js';
import { makeTraces } from '../test/helpers/store-spans.js';
import { median } from './_stats.js';

const TRACES = 200;
const SPANS_PER_TRACE = 50;
const ROUNDS = 7;

const byTrace = new Map<string, StoredSpan[]>();
for (const r of flattenTraceData(
  makeTraces({ traces: TRACES, spansPerTrace: SPANS_PER_TRACE, seed: 15, exotic: true }),
)) {
  const list = byTrace.get(r.span.traceId) ?? [];
  list.push(r);
  byTrace.set(r.span.traceId, list);
}
const traces = [...byTrace.values()];
const spanCount = traces.reduce((n, t) => n + t.length, 0);

const encoders: Record<string, (rows: StoredSpan[]) => string> = {
  'baseline: Tempo /api/traces/{id} (OTLP JSON, batches)': (rows) =>
    JSON.stringify({ batches: traceDataToJson(toTraceData(rows)).resourceSpans }),
  'api_v3 /api/v3/traces/{id} (OTLP JSON, result)': (rows) =>
    JSON.stringify({ result: traceDataToJson(toTraceData(rows)) }),
  'classic /jaeger/api/traces/{id} (Jaeger UI model)': (rows) =>
    JSON.stringify(jaegerResponse([toJaegerTrace(rows)])),
};

const times: Record<string, number[]> = {};
const bytes: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(encoders);
  if (round % 2 === 1) names.reverse();
  for (const name of names) {
    const encode = encoders[name]!;
    globalThis.gc?.();
    const t = performance.now();
    let total = 0;
    for (const rows of traces) total += encode(rows).length;
    (times[name] ??= []).push(((performance.now() - t) * 1000) / spanCount);
    bytes[name] = total / spanCount;
  }
}

const baseline = median(times[Object.keys(encoders)[0]!]!);
console.log(
  `${TRACES} traces of ${SPANS_PER_TRACE} spans (every attribute type, events, links); ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}`,
);
console.log('| answer | µs per span (median of 7) | ratio to baseline | bytes per span |');
console.log('|---|---:|---:|---:|');
for (const name of Object.keys(encoders)) {
  const m = median(times[name]!);
  console.log(`| ${name} | ${m.toFixed(2)} | ${(m / baseline).toFixed(2)} | ${Math.round(bytes[name]!)} |`);
}
