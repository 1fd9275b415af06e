/**
 * What does the store's service graph (issue 19) cost on the ingest path, against decoding the same spans?
 * And how much heap does a waiting half take (the bound `max_items` is in halves)?
 * - baseline: decodeTraceRequest of an OTLP request of 512 spans (what the store's receiver does per request);
 * - graph: ServiceGraph.add of the decoded request: half CLIENT, half SERVER spans of the same calls, so every
 *   second span completes a pair and the map stays small (the steady state), with sampling.weight on each.
 * Alternating rounds, median ratio. Heap per waiting half: 100,000 CLIENT halves that no server answers,
 * measured with gc() before and after (the id strings the key keeps included).
 */
import { availableParallelism } from 'node:os';
import { serviceGraphSchema } from '../src/config/service-graph.js';
import {
  av,
  decodeTraceRequest,
  encodeTraceRequest,
  type KeyValue,
  type Span,
  type TraceData,
} from '../src/otlp/index.js';
import { ServiceGraph } from '../src/store/service-graph.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { edgeSpan, serviceSpans } from '../test/helpers/edge-spans.js';
import { median } from './_stats.js';

const SPANS = 512;
const ROUNDS = 7;
const BATCHES = 200;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
let counter = 0;
const hex = (digits: number) => (++counter).toString(16).padStart(digits, '0');

const ATTRIBUTES: KeyValue[] = [
  { key: 'http.request.method', value: av.string('POST') },
  { key: 'url.path', value: av.string('/cart/checkout') },
  { key: 'http.response.status_code', value: av.int(200) },
  { key: 'server.address', value: av.string('cart') },
  { key: 'server.port', value: av.int(8080) },
  { key: 'sampling.weight', value: av.double(10) },
];

function span(kind: number, traceId: string, spanId: string, parent: string): Span {
  return edgeSpan(kind, traceId, spanId, parent, {
    name: kind === 3 ? 'POST cart' : 'POST /cart/checkout',
    startMs: Date.now(),
    ms: 12,
    attributes: [...ATTRIBUTES],
  });
}

/** One request: SPANS/2 calls, the CLIENT span under frontend, the SERVER span under cart. */
function request(): Uint8Array {
  const client: Span[] = [];
  const server: Span[] = [];
  for (let i = 0; i < SPANS / 2; i++) {
    const t = hex(32);
    const c = hex(16);
    client.push(span(3, t, c, hex(16)));
    server.push(span(2, t, hex(16), c));
  }
  const data: TraceData = {
    resourceSpans: [serviceSpans('frontend', client), serviceSpans('cart', server)],
  };
  return encodeTraceRequest(data);
}

const config = serviceGraphSchema().parse({});
const graph = new ServiceGraph({ config, metrics: new Metrics(), logger: silentLogger() });
const requests = Array.from({ length: BATCHES }, request);
const ratios: number[] = [];
const decodeNs: number[] = [];
const graphNs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  gc();
  let t = process.hrtime.bigint();
  const decoded = requests.map((r) => decodeTraceRequest(r));
  const d = Number(process.hrtime.bigint() - t) / (BATCHES * SPANS);
  t = process.hrtime.bigint();
  for (const data of decoded) graph.add(data);
  const g = Number(process.hrtime.bigint() - t) / (BATCHES * SPANS);
  decodeNs.push(d);
  graphNs.push(g);
  ratios.push(g / d);
}
console.log(
  `node ${process.version}, ${availableParallelism()} cores (shared by several sessions while measured: absolute times move, compare the ratio)`,
);
console.log(
  `per span: decode (baseline) ${median(decodeNs).toFixed(0)} ns, service graph add ${median(graphNs).toFixed(0)} ns; median ratio graph/decode ${median(ratios).toFixed(3)} over ${ROUNDS} rounds (${ratios.map((r) => r.toFixed(2)).join(' ')})`,
);
graph.close();

// Heap per waiting half.
const N = 100_000;
const waiting = new ServiceGraph({
  config: serviceGraphSchema().parse({ max_items: N, wait: '1h' }),
  metrics: new Metrics(),
  logger: silentLogger(),
});
const clientsOnly = () => {
  const spans: Span[] = [];
  for (let i = 0; i < 1000; i++) spans.push(span(3, hex(32), hex(16), hex(16)));
  return { resourceSpans: [serviceSpans('frontend', spans)] };
};
gc();
gc();
const before = process.memoryUsage().heapUsed;
for (let b = 0; b < N / 1000; b++) waiting.add(decodeTraceRequest(encodeTraceRequest(clientsOnly())));
gc();
gc();
const after = process.memoryUsage().heapUsed;
console.log(
  `waiting halves: ${waiting.pendingItems}, heap ${((after - before) / waiting.pendingItems).toFixed(0)} B per half (${((after - before) / 1e6).toFixed(1)} MB for ${N})`,
);
waiting.close();
if (waiting.pendingItems !== N) process.exit(1);
