/**
 * The trace buffer's requests in reused chunks (src/sampling/held-requests.ts, issue 13, session 15): a held
 * request is a copy of the scanned one, byte for byte and column for column; a chunk is written again only
 * once every request in it was let go, and only by a later `adopt`; through the sampler, what leaves is what
 * came in while the chunks are reused many times over.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  decodeTraceRequest,
  encodedBatch,
  encodeTraceRequest,
  scanTraceRequest,
  type Span,
  type TraceData,
  type WireSpans,
} from '../src/otlp/index.js';
import { ManualClock } from '../src/clock.js';
import { HELD_CHUNK_BYTES, HeldRequests, HeldSpans } from '../src/sampling/held-requests.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { makeSpan } from './helpers/edge-spans.js';

const MS = 1_000_000n;

function span(traceId: string, spanId: string, i: number, error = false): Span {
  const start = 1_700_000_000_000n * MS + BigInt(i) * MS;
  return makeSpan({
    traceId,
    spanId,
    name: `op-${i % 7}`,
    kind: (i % 5) + 1,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt((i % 50) + 1) * MS,
    attributes: [{ key: 'payload', value: { kind: 'string', value: `p${i}-`.padEnd(40 + (i % 90), 'x') } }],
    status: { code: error ? 2 : 0, message: '' },
  });
}

function request(spans: Span[]): Uint8Array {
  const data: TraceData = {
    resourceSpans: [
      {
        resource: {
          attributes: [{ key: 'service.name', value: { kind: 'string', value: 'cart' } }],
          droppedAttributesCount: 0,
        },
        schemaUrl: '',
        scopeSpans: [
          {
            scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 },
            spans,
            schemaUrl: '',
          },
        ],
      },
    ],
  };
  return encodeTraceRequest(data);
}

const hex = (n: number) => randomBytes(n).toString('hex');

function scanned(n: number, start = 0): WireSpans {
  const spans: Span[] = [];
  for (let i = 0; i < n; i++) spans.push(span(hex(16), hex(8), start + i));
  return scanTraceRequest(request(spans)).spans;
}

function sameSpans(a: WireSpans, b: WireSpans): void {
  assert.equal(b.count, a.count);
  for (let i = 0; i < a.count; i++) {
    assert.deepEqual(b.span(i), a.span(i), `span ${i}`);
    assert.equal(b.scope(i), a.scope(i));
    assert.equal(b.kinds[i], a.kinds[i]);
    assert.equal(b.statusCodes[i], a.statusCodes[i]);
    assert.equal(b.marks[i], a.marks[i]);
    assert.equal(b.durationsNs[i], a.durationsNs[i]);
    assert.equal(b.startsHi[i], a.startsHi[i]);
    assert.equal(b.startsLo[i], a.startsLo[i]);
  }
}

void describe('held requests', () => {
  void test('a held request is a copy of the scanned one, bytes and columns, in a chunk', () => {
    const held = new HeldRequests();
    const source = scanned(25);
    const copy = held.adopt(source);
    assert.ok(copy instanceof HeldSpans);
    assert.notEqual(copy.buf.buffer, source.buf.buffer, 'not the receiver Buffer');
    assert.equal(copy.buf.buffer.byteLength, HELD_CHUNK_BYTES);
    sameSpans(source, copy);
    assert.deepEqual(held.stats, { chunks: 1, spares: 0, requests: 1, bytes: HELD_CHUNK_BYTES });
    copy.unpin();
    assert.equal(held.stats.requests, 0);
  });

  void test('a request larger than a quarter chunk is not copied', () => {
    const held = new HeldRequests();
    const big = scanned(2500); // about 150 bytes a span
    assert.ok(big.buf.length > HELD_CHUNK_BYTES / 4);
    assert.equal(held.adopt(big), big);
    assert.equal(held.stats.chunks, 0);
  });

  void test('a chunk is written again only after every request in it was let go, and only by adopt', () => {
    const held = new HeldRequests();
    const sources: WireSpans[] = [];
    const copies: HeldSpans[] = [];
    // Fill the first chunk and start a second.
    while (held.stats.chunks < 2) {
      const s = scanned(20, sources.length * 20);
      sources.push(s);
      copies.push(held.adopt(s) as HeldSpans);
    }
    const inFirst = copies.slice(0, -1);
    const firstBuffer = inFirst[0]!.buf.buffer;
    assert.ok(inFirst.every((c) => c.buf.buffer === firstBuffer));
    // Pinned twice (two buffer rows), let go once: still held.
    inFirst[0]!.pin();
    for (const c of inFirst) c.unpin();
    assert.equal(held.stats.spares, 0, 'one request still holds the first chunk');
    sameSpans(sources[0]!, inFirst[0]!);
    inFirst[0]!.unpin();
    assert.equal(held.stats.spares, 1, 'the first chunk emptied: a spare');
    // Let go, not yet written over: the pass that let them go may still copy them.
    for (let i = 0; i < inFirst.length; i++) sameSpans(sources[i]!, inFirst[i]!);
    // Fill the second chunk: the next one is the spare, written from its start, the rest poisoned.
    let next: WireSpans;
    do next = held.adopt(scanned(20));
    while (next.buf.buffer !== firstBuffer);
    assert.equal(held.stats.chunks, 2, 'the spare was reused, no chunk allocated');
    assert.equal(next.buf.byteOffset, 0);
    const stale = inFirst[inFirst.length - 1]!;
    assert.ok(
      stale.buf.every((b) => b === 0xee),
      'bytes of a request let go read as poison once reused',
    );
  });

  void test('emptied chunks beyond two spares are let go to the GC', () => {
    const held = new HeldRequests();
    const copies: HeldSpans[] = [];
    while (held.stats.chunks < 5) copies.push(held.adopt(scanned(40)) as HeldSpans);
    for (const c of copies) c.unpin();
    assert.equal(held.stats.spares, 2);
    assert.equal(held.stats.chunks, 3, 'the chunk being filled and two spares');
    assert.equal(held.stats.requests, 0);
  });
});

void describe('the sampler on held requests', () => {
  void test('kept spans leave as they came while the chunks are reused many times', async () => {
    const out = new CollectingConsumer();
    const clock = new ManualClock();
    const metrics = new Metrics();
    const parsed = parsePolicyText(`
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 30}}
`);
    if (!parsed.ok) throw new Error('policy');
    const sampler = new TailSampler({
      next: out,
      policySource: staticPolicySource(compilePolicy(parsed.config)),
      metrics,
      logger: silentLogger(),
      decisionWaitMs: 1_000,
      maxTraces: 400,
      // Small enough that traces are decided early for memory in the middle of a request.
      maxBufferedBytes: 48 * 1024,
      clock,
      retryDelayMs: 500,
    });
    // Traces of 3 spans spread over consecutive requests (a span of each trace in each of 3 requests), late
    // spans of decided traces, 100 ms between requests: each chunk holds requests of many passes.
    const sent = new Map<string, Span>();
    let adoptedBytes = 0;
    const traces: string[] = [];
    let n = 0;
    for (let r = 0; r < 1_000; r++) {
      const spans: Span[] = [];
      for (let k = 0; k < 60; k++) {
        const t = Math.floor(r / 3) * 60 + k;
        traces[t] ??= hex(16);
        const traceId = traces[t];
        const s = span(traceId, hex(8), n, n % 97 === 0);
        n++;
        spans.push(s);
        sent.set(s.spanId, s);
      }
      const body = request(spans);
      adoptedBytes += body.length;
      await sampler.consume(encodedBatch(body, spans.length, body.length));
      clock.advance(100);
    }
    clock.advance(2_000);
    await sampler.drain();
    assert.ok(adoptedBytes > 8 * HELD_CHUNK_BYTES, `${adoptedBytes} bytes went through the buffer`);
    const stats = sampler.heldRequests;
    assert.ok(stats.chunks <= 6, `chunks were reused: ${stats.chunks} allocated`);
    assert.equal(stats.requests, 0, 'every request was let go once its traces were decided');
    assert.ok((await metrics.value('sampling_early_decisions_total', { reason: 'memory' })) > 0);

    let kept = 0;
    const seen = new Set<string>();
    for (const b of out.batches)
      for (const rs of decodeTraceRequest(b.encoded!).resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) {
            kept++;
            const original = sent.get(s.spanId);
            assert.ok(original, `kept span ${s.spanId} was sent`);
            assert.ok(!seen.has(s.spanId), `span ${s.spanId} kept once`);
            seen.add(s.spanId);
            assert.equal(s.traceId, original.traceId);
            assert.equal(s.name, original.name);
            assert.equal(s.kind, original.kind);
            assert.equal(s.startTimeUnixNano, original.startTimeUnixNano);
            assert.equal(s.endTimeUnixNano, original.endTimeUnixNano);
            assert.deepEqual(s.status, original.status);
            // The original attributes, then what the sampler adds (sampling.weight).
            assert.deepEqual(s.attributes.slice(0, original.attributes.length), original.attributes);
            assert.deepEqual(
              s.attributes.slice(original.attributes.length).map((a) => a.key),
              ['sampling.weight'],
            );
          }
    assert.ok(kept > 1_000, `${kept} spans kept`);
  });
});
