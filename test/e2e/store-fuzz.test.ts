/**
 * Issue 18 part 7: a fuzz run against the store's whole path (OTLP/HTTP protobuf and JSON, OTLP/gRPC -> WAL ->
 * blocks -> query API) with structured mutations of valid requests: extreme and inverted times, zero and empty
 * ids, every attribute value kind, deep nesting, odd strings, out-of-range enums and counts, duplicate spans,
 * empty containers; one request in eight also gets byte-level mutations. Nothing may stop ingest (no 429 / 503,
 * no quarantined segment), and every span the store accepted can be read back by its trace id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  av,
  decodeTraceRequest,
  decodeTraceRequestJson,
  encodeTraceRequest,
  encodeTraceRequestJson,
  spanProblem,
  type AnyValue,
  type Span,
  type TraceData,
} from '../../src/otlp/index.js';
import { mutate, seededRandom } from '../helpers/fuzz.js';
import { grpcExport, postTraces } from '../helpers/receivers.js';
import { startTestStore } from '../helpers/store-harness.js';
import { makeTraces } from '../helpers/store-spans.js';

const REQUESTS = Number(process.env['SENTINEL_FUZZ_REQUESTS'] ?? 240);
const U64 = 2n ** 64n - 1n;
const NOW_NS = BigInt(Date.now()) * 1_000_000n;

function deepValue(rand: () => number, depth: number): AnyValue {
  if (depth === 0) return av.string('leaf');
  return rand() < 0.5
    ? av.array([deepValue(rand, depth - 1), av.empty()])
    : av.kvlist([{ key: 'k', value: deepValue(rand, depth - 1) }]);
}

const ODD_STRINGS = [
  '',
  ' ',
  'ünïcødé ✓ 🚀',
  'a\u0000b',
  '"quoted"\\',
  '\u2028\u2029',
  'x'.repeat(70_000),
  '\ud83d',
];
const ODD_TIMES = [0n, 1n, NOW_NS, 2n ** 63n - 1n, 2n ** 63n, U64, NOW_NS - 10n ** 18n];

/** One structured mutation of one span (or its request). */
function mutateSpan(data: TraceData, span: Span, rand: () => number): void {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  switch (Math.floor(rand() * 14)) {
    case 0:
      span.startTimeUnixNano = pick(ODD_TIMES);
      break;
    case 1:
      span.endTimeUnixNano = pick(ODD_TIMES);
      break;
    case 2:
      span.endTimeUnixNano = span.startTimeUnixNano - 1n;
      break;
    case 3:
      if (rand() < 0.5) span.traceId = '0'.repeat(32);
      else span.spanId = rand() < 0.5 ? '' : '0'.repeat(16);
      break;
    case 4:
      span.name = pick(ODD_STRINGS);
      break;
    case 5:
      span.attributes.push(
        { key: pick(ODD_STRINGS), value: av.string(pick(ODD_STRINGS)) },
        { key: 'int.min', value: av.int(-(2n ** 63n)) },
        { key: 'double', value: av.double(pick([NaN, Infinity, -Infinity, -0, 1e308, 5e-324])) },
        { key: 'bytes', value: av.bytes(new Uint8Array([0, 255, 128])) },
        { key: 'empty', value: av.empty() },
        { key: 'bool', value: av.bool(rand() < 0.5) },
      );
      break;
    case 6:
      span.attributes.push({ key: 'deep', value: deepValue(rand, 1 + Math.floor(rand() * 30)) });
      break;
    case 7:
      span.kind = pick([0, 6, 99, 2 ** 31 - 1]);
      span.status = { code: pick([0, 1, 2, 3, 2 ** 31 - 1]), message: pick(ODD_STRINGS) };
      break;
    case 8:
      span.flags = pick([0, 1, 0x101, 2 ** 32 - 1]);
      span.droppedAttributesCount = pick([0, 2 ** 32 - 1]);
      span.droppedEventsCount = pick([0, 7]);
      span.droppedLinksCount = pick([0, 2 ** 32 - 1]);
      span.traceState = pick(['', 'a=b', 'x'.repeat(600), 'bad state ✓']);
      break;
    case 9:
      span.events.push(
        ...Array.from({ length: 1 + Math.floor(rand() * 5) }, () => ({
          timeUnixNano: pick(ODD_TIMES),
          name: pick(ODD_STRINGS),
          attributes: [{ key: 'e', value: av.int(1) }],
          droppedAttributesCount: 0,
        })),
      );
      break;
    case 10:
      span.links.push({
        traceId: rand() < 0.5 ? '0'.repeat(32) : 'ab'.repeat(16),
        spanId: rand() < 0.5 ? '' : 'cd'.repeat(8),
        traceState: pick(ODD_STRINGS),
        attributes: [],
        droppedAttributesCount: 0,
        flags: 2 ** 32 - 1,
      });
      break;
    case 11: {
      // The same span twice in one request.
      const ss = data.resourceSpans[0]!.scopeSpans[0]!;
      ss.spans.push(structuredClone(span));
      break;
    }
    case 12:
      data.resourceSpans.push({
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [],
        schemaUrl: '',
      });
      data.resourceSpans[0]!.resource.attributes = [];
      data.resourceSpans[0]!.scopeSpans[0]!.scope = {
        name: pick(ODD_STRINGS),
        version: '',
        attributes: [],
        droppedAttributesCount: 2 ** 32 - 1,
      };
      break;
    default:
      span.parentSpanId = rand() < 0.5 ? '' : span.spanId;
  }
}

describe('fuzz: structured mutations of valid requests against the whole store path', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  before(async () => {
    h = await startTestStore({
      overrides: {
        wal_max_bytes: '64MiB',
        block: { max_spans: 400, max_age: '300ms', row_group_spans: 50 },
        receivers: {
          otlp: {
            grpc: { endpoint: '127.0.0.1:0' },
            http: { endpoint: '127.0.0.1:0' },
            max_request_bytes: '4MiB',
          },
        },
      },
    });
  });
  after(() => h.dispose());

  it(`${REQUESTS} mutated requests: ingest never stops, every accepted span reads back`, async () => {
    const rand = seededRandom(18);
    const accepted = new Map<string, Map<string, string>>(); // traceId -> spanId -> name
    const statuses = new Map<string, number>();
    const count = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
    for (let i = 0; i < REQUESTS; i++) {
      const data = makeTraces({ traces: 3, spansPerTrace: 4, seed: 1000 + i, startMs: Date.now() - 60_000 });
      const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      for (let m = 0, n = 1 + Math.floor(rand() * 4); m < n; m++) {
        mutateSpan(data, spans[Math.floor(rand() * spans.length)]!, rand);
      }
      const transport = i % 3; // 0 protobuf over HTTP, 1 JSON over HTTP, 2 gRPC
      let body: Uint8Array =
        transport === 1 ? Buffer.from(encodeTraceRequestJson(data)) : encodeTraceRequest(data);
      if (rand() < 0.125) body = mutate(body, rand);
      let ok: boolean;
      if (transport === 2) {
        const g = await grpcExport(h.store.ports.grpc, body);
        count(g.error ? `grpc ${g.error.code}` : 'grpc OK');
        assert.ok(!g.error || g.error.code === 3, `request ${i}: gRPC ${g.error?.code} ${g.error?.details}`);
        ok = !g.error;
      } else {
        const ct = transport === 1 ? 'application/json' : 'application/x-protobuf';
        const res = await postTraces(h.store.ports.http, body, { 'content-type': ct });
        count(`http ${res.status}`);
        assert.ok(
          res.status === 200 || res.status === 400,
          `request ${i}: HTTP ${res.status} ${res.body.toString('latin1').slice(0, 200)}`,
        );
        ok = res.status === 200;
      }
      if (!ok) continue;
      // What the store took: the request as its decoder reads it, less the spans validation refuses.
      const taken = transport === 1 ? decodeTraceRequestJson(Buffer.from(body)) : decodeTraceRequest(body);
      for (const rs of taken.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) {
            if (spanProblem(s) !== undefined) continue;
            let t = accepted.get(s.traceId);
            if (!t) accepted.set(s.traceId, (t = new Map()));
            t.set(s.spanId, s.name);
          }
    }
    // Ingest still takes an ordinary request, and nothing was set aside.
    const normal = makeTraces({ traces: 2, spansPerTrace: 2, seed: 1 });
    assert.equal(
      (
        await postTraces(h.store.ports.http, encodeTraceRequest(normal), {
          'content-type': 'application/x-protobuf',
        })
      ).status,
      200,
    );
    await h.store.pipeline.forceFlush();
    assert.equal(await h.metrics.value('store_quarantined_segments_total'), 0);
    assert.ok((await h.metrics.value('store_blocks_written_total')) > 5, 'many blocks were cut');
    let spansChecked = 0;
    for (const [traceId, want] of accepted) {
      const res = await h.query(`/api/traces/${traceId}`);
      assert.equal(res.status, 200, `trace ${traceId}`);
      const got = decodeTraceRequestJson(
        JSON.stringify({ resourceSpans: (res.body as { batches: unknown }).batches }),
      );
      const names = new Map<string, string>();
      for (const rs of got.resourceSpans)
        for (const ss of rs.scopeSpans) for (const s of ss.spans) names.set(s.spanId, s.name);
      for (const [spanId, name] of want) {
        assert.ok(names.has(spanId), `span ${spanId} of trace ${traceId} reads back`);
        assert.equal(names.get(spanId), name, `span ${spanId} keeps its name`);
        spansChecked++;
      }
    }
    assert.ok(spansChecked > REQUESTS * 5, `${spansChecked} accepted spans read back`);
    process.stdout.write(
      `# fuzz answers: ${JSON.stringify(Object.fromEntries(statuses))}, ${spansChecked} spans read back\n`,
    );
  });
});
