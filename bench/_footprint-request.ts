/**
 * The request of bench/agent-footprint.ts's load (bench/_footprint-load.ts) and of bench/sampler-heap.ts's agent
 * phase: pre-encoded OTLP requests of 100 spans (20 traces of 5, about 2 % error spans, from
 * test/helpers/store-spans.ts) whose trace and span ids are rewritten in a copy per request, so the sampler sees
 * new traces while the client spends almost nothing on encoding.
 *
 * Session 12: 16 templates (different seeds: times, pods, paths, durations, errors) taken in turn, and span ids
 * rewritten too. Before, every request was one template with only its trace ids new, so held spans deflated
 * far better than an app's would (the completion buffer packs its slabs since session 12): now two requests
 * within deflate's 32 KiB window share no ids, and their other values differ as a service's requests do.
 */
import { randomFillSync } from 'node:crypto';
import { encodeTraceRequest } from '../src/otlp/index.js';
import type { TraceData } from '../src/otlp/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

const TEMPLATES = 16;

interface Template {
  readonly body: Buffer;
  /** Where each trace id's 16 bytes sit in the body (5 spans each). */
  readonly traceIdOffsets: number[][];
  /** Where each span id's 8 bytes sit: as the span's id and as its child's parent id. */
  readonly spanIdOffsets: number[][];
}

function offsetsOf(body: Buffer, ids: Iterable<string>): number[][] {
  const out: number[][] = [];
  for (const hex of ids) {
    const id = Buffer.from(hex, 'hex');
    const at: number[] = [];
    for (let i = body.indexOf(id); i >= 0; i = body.indexOf(id, i + 1)) at.push(i);
    out.push(at);
  }
  return out;
}

/**
 * The requests' shape. `gateway` (the default, the issue's load since session 2): 20 traces of 5 spans across
 * five services, 2 variants and 4 pods, about 30 resources per request, as a gateway or a node agent sees them.
 * `sidecar` (BENCH_LOAD=sidecar, session 13): what one pod's app sends its sidecar, one resource and one scope,
 * 50 traces of 2 spans each (the app's own spans of each trace: a server span and a client span).
 */
export type LoadShape = 'gateway' | 'sidecar';

export const loadShape = (): LoadShape => (process.env['BENCH_LOAD'] === 'sidecar' ? 'sidecar' : 'gateway');

function traceData(seed: number, startMs: number, shape: LoadShape): TraceData {
  if (shape === 'gateway') return makeTraces({ traces: 20, spansPerTrace: 5, seed, startMs });
  const data = makeTraces({ traces: 50, spansPerTrace: 2, seed, startMs });
  const [first, ...rest] = data.resourceSpans;
  const one = first!;
  for (const rs of rest) one.scopeSpans[0]!.spans.push(...rs.scopeSpans[0]!.spans);
  return { resourceSpans: [one] };
}

function template(seed: number, startMs: number, shape: LoadShape): Template {
  // Start times near now: a store that checks timestamps at the door takes them.
  const traces = traceData(seed, startMs, shape);
  const body = encodeTraceRequest(traces);
  const spans = traces.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  return {
    body,
    traceIdOffsets: offsetsOf(body, new Set(spans.map((s) => s.traceId))),
    spanIdOffsets: offsetsOf(body, new Set(spans.map((s) => s.spanId))),
  };
}

/** Returns the maker of fresh copies; `idPrefix` distinguishes the trace ids of one run's phases. */
export function footprintRequests(
  idPrefix: number,
  startMs = Date.now(),
  shape: LoadShape = loadShape(),
): () => Buffer {
  const templates = Array.from({ length: TEMPLATES }, (_, k) => template(7 + k, startMs, shape));
  // One draw of random bytes per request for all its span ids: a call per span id cost the load more CPU than
  // the agent's scanning of the same span (28 % of bench/sampler-heap.ts's agent phase, session 13).
  const spanIds = Buffer.alloc(8 * Math.max(...templates.map((t) => t.spanIdOffsets.length)));
  let counter = 0;
  let request = 0;
  // A copy with fresh trace and span ids (grpc-js may still hold the previous one).
  return () => {
    const t = templates[request++ % TEMPLATES] as Template;
    const b = Buffer.from(t.body);
    for (const at of t.traceIdOffsets) {
      const n = counter++;
      for (const o of at) {
        b.writeUInt32BE(idPrefix >>> 0, o);
        b.writeUInt32BE(n >>> 0, o + 4);
      }
    }
    randomFillSync(spanIds, 0, 8 * t.spanIdOffsets.length);
    for (let k = 0; k < t.spanIdOffsets.length; k++) {
      for (const o of t.spanIdOffsets[k] as number[]) spanIds.copy(b, o, 8 * k, 8 * k + 8);
    }
    return b;
  };
}
