/**
 * The latency and status_code policies read a byte-path trace from the scanner's columns (start time, duration,
 * status code) instead of each span's bytes (issue 13 follow-up). The answers must be those the spans give:
 * the same duration in whole ms (earliest start to latest end, across the 2^32 ns word boundary too) and the
 * same status match, and the same decisions of a policy file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeTraceRequest, scanTraceRequest, type Span, type TraceData } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { compilePolicy } from '../src/sampling/sampling-policy.js';
import type { BufferedTrace } from '../src/sampling/buffered-trace.js';
import { WireTraceView, type WireTrace } from '../src/sampling/buffered-trace.js';
import { TraceBuffer } from '../src/sampling/trace-buffer.js';
import { makeSpan } from './helpers/edge-spans.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const hex = (random: () => number, n: number) =>
  Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');

function span(traceId: string, random: () => number, start: bigint, durationNs: bigint, code: number): Span {
  return makeSpan({
    traceId,
    spanId: '1' + hex(random, 15),
    name: 'GET /',
    startTimeUnixNano: start,
    endTimeUnixNano: start + durationNs,
    status: { code, message: '' },
  });
}

/** A trace of `n` spans spread over two requests, as the trace buffer holds it. */
function wireTrace(spans: Span[]): WireTrace {
  const data = (part: Span[]): TraceData => ({
    resourceSpans: [
      {
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [
          {
            scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 },
            spans: part,
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  });
  const half = Math.ceil(spans.length / 2);
  const buffer = new TraceBuffer();
  const row = buffer.open(spans[0]!.traceId, 0);
  for (const part of [spans.slice(0, half), spans.slice(half)]) {
    if (part.length === 0) continue;
    const scanned = scanTraceRequest(encodeTraceRequest(data(part))).spans;
    for (let i = 0; i < scanned.count; i++) buffer.addSpan(row, scanned, i, 0);
  }
  return buffer.trace(row);
}

/** What the policies would read without the fast paths: the spans read from their bytes. */
function viaSpans(view: WireTraceView): BufferedTrace {
  return { traceId: view.traceId, firstSeenMs: 0, spans: view.spans, origins: view.origins, bytes: 0 };
}

const POLICY = parsePolicyText(`
policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: ok
    type: status_code
    status_code: { status_codes: [OK] }
  - name: slow
    type: latency
    latency: { threshold_ms: 700 }
  - name: band
    type: latency
    latency: { threshold_ms: 100, upper_threshold_ms: 300 }
`);

test('latency and status from the columns equal what the spans give, decisions included', () => {
  assert.ok(POLICY.ok);
  const policy = compilePolicy(POLICY.config);
  const random = rng(13);
  let checked = 0;
  for (let t = 0; t < 400; t++) {
    const traceId = '4' + hex(random, 31);
    // Starts near a 2^32 ns boundary of the low word, some traces across it; durations up to ~1.2 s.
    const base = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + (t % 2 === 0 ? 2n ** 32n - 500_000_000n : 0n);
    const n = 1 + Math.floor(random() * 6);
    const spans = Array.from({ length: n }, () =>
      span(
        traceId,
        random,
        base + BigInt(Math.floor(random() * 1e9)),
        BigInt(Math.floor(random() * 1.2e9)),
        Math.floor(random() * 3.2),
      ),
    );
    const view = new WireTraceView(wireTrace(spans), policy.attributeKeys);
    let min = spans[0]!.startTimeUnixNano;
    let max = spans[0]!.endTimeUnixNano;
    for (const s of spans) {
      if (s.startTimeUnixNano < min) min = s.startTimeUnixNano;
      if (s.endTimeUnixNano > max) max = s.endTimeUnixNano;
    }
    assert.equal(view.latencyMs(), Number((max - min) / 1_000_000n));
    for (const code of [0, 1, 2]) {
      const codes = new Set([code]);
      assert.equal(
        view.hasStatusCode(codes),
        spans.some((s) => s.status.code === code),
      );
    }
    assert.deepEqual(policy.decide(view, 0), policy.decide(viaSpans(view), 0));
    checked++;
  }
  assert.equal(checked, 400);
});

test('a trace whose spans all start and end at once has latency 0', () => {
  const random = rng(5);
  const traceId = '5' + hex(random, 31);
  const start = 1_767_225_600_000_000_000n;
  const view = new WireTraceView(wireTrace([span(traceId, random, start, 0n, 0)]), undefined);
  assert.equal(view.latencyMs(), 0);
});

test('a view reset to another trace answers for that trace only (spans, origins, latency, status, decisions)', () => {
  assert.ok(POLICY.ok);
  const policy = compilePolicy(POLICY.config);
  const random = rng(21);
  const start = 1_767_225_600_000_000_000n;
  let reused: WireTraceView | undefined;
  for (let t = 0; t < 50; t++) {
    const traceId = '6' + hex(random, 31);
    const n = 1 + (t % 5);
    const spans = Array.from({ length: n }, (_, k) =>
      span(traceId, random, start + BigInt(k) * 1_000_000n, BigInt(t * 37_000_000), t % 3 === 0 ? 2 : 0),
    );
    const trace = wireTrace(spans);
    const fresh = new WireTraceView(trace, policy.attributeKeys);
    // The reused view read the previous trace's spans and origins first: nothing of them may remain.
    reused = reused?.reset(trace, policy.attributeKeys) ?? new WireTraceView(trace, policy.attributeKeys);
    assert.equal(reused.traceId, traceId);
    assert.equal(reused.spans.length, n);
    assert.deepEqual(reused.spans, fresh.spans);
    assert.equal(reused.origins.length, n);
    assert.equal(reused.latencyMs(), fresh.latencyMs());
    assert.equal(reused.hasStatusCode(new Set([2])), t % 3 === 0);
    assert.deepEqual(policy.decide(reused, 0), policy.decide(fresh, 0));
  }
});
