/**
 * The request of bench/agent-footprint.ts's load (bench/_footprint-load.ts) and of bench/sampler-heap.ts's agent
 * phase: one pre-encoded OTLP request of 100 spans (20 traces of 5, about 2 % error spans, from
 * test/helpers/store-spans.ts) whose 20 trace ids are rewritten in a copy per request, so the sampler sees new
 * traces while the client spends almost nothing on encoding.
 */
import { encodeTraceRequest } from '../src/otlp/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

/** Returns the maker of fresh copies; `idPrefix` distinguishes the trace ids of one run's phases. */
export function footprintRequests(idPrefix: number, startMs = Date.now()): () => Buffer {
  // Start times near now: a store that checks timestamps at the door takes them.
  const template = makeTraces({ traces: 20, spansPerTrace: 5, seed: 7, startMs });
  const body = encodeTraceRequest(template);
  // Where each trace id's 16 bytes sit in the encoded request (5 spans each).
  const idOffsets: number[][] = [];
  for (const traceId of new Set(
    template.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.traceId))),
  )) {
    const id = Buffer.from(traceId, 'hex');
    const at: number[] = [];
    for (let i = body.indexOf(id); i >= 0; i = body.indexOf(id, i + 1)) at.push(i);
    idOffsets.push(at);
  }
  let counter = 0;
  // A copy with fresh trace ids (grpc-js may still hold the previous one).
  return () => {
    const b = Buffer.from(body);
    for (const at of idOffsets) {
      const n = counter++;
      for (const o of at) {
        b.writeUInt32BE(idPrefix >>> 0, o);
        b.writeUInt32BE(n >>> 0, o + 4);
      }
    }
    return b;
  };
}
