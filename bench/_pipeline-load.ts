/**
 * Load for bench/pipeline.ts, in its own process: OTLP/gRPC requests of 100 spans (20 traces of 5) at a
 * fixed rate, each with fresh trace and span ids so the tail sampler sees new traces, as real traffic.
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { TRACE_EXPORT_METHOD, encodeTraceRequest } from '../src/otlp/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

const job = await new Promise<{ port: number; spansPerSecond: number; durationMs: number }>((resolve) =>
  process.once('message', (m) => resolve(m as { port: number; spansPerSecond: number; durationMs: number })),
);

const template = makeTraces({ traces: 20, spansPerTrace: 5, seed: 7 });
const spans = template.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
const client = new Client(`127.0.0.1:${job.port}`, credentials.createInsecure(), {
  'grpc.max_send_message_length': -1,
});
let counter = 0;
function nextBody(): Buffer {
  const originalTraces = new Map<string, string>();
  for (const s of spans) {
    let t = originalTraces.get(s.traceId);
    if (!t) {
      t = (counter++).toString(16).padStart(16, '0') + s.traceId.slice(16);
      originalTraces.set(s.traceId, t);
    }
    s.traceId = t;
    s.spanId = (counter++).toString(16).padStart(16, '0');
  }
  for (const s of spans) s.parentSpanId = '';
  return encodeTraceRequest(template);
}

const send = (body: Buffer): Promise<boolean> =>
  new Promise((resolve) =>
    client.makeUnaryRequest(
      TRACE_EXPORT_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      new Metadata(),
      (err) => resolve(!err),
    ),
  );

const interval = (1000 * 100) / job.spansPerSecond;
const pending: Array<Promise<boolean>> = [];
const start = performance.now();
let late = 0;
for (let i = 0; performance.now() - start < job.durationMs; i++) {
  const wait = start + i * interval - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  else if (wait < -interval) late++;
  pending.push(send(nextBody()));
}
const results = await Promise.all(pending);
const ok = results.filter(Boolean).length;
process.send?.({
  requests: results.length,
  ok,
  refused: results.length - ok,
  late,
  elapsedMs: performance.now() - start,
});
client.close();
process.disconnect?.();
