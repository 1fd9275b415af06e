/**
 * Kept spans on the byte path get the same marks as decoded spans (weights.ts): `sampling.weight`, and for a
 * probabilistic keep the `ot` threshold in trace_state. A span without a trace state of its own takes the
 * appended fields without a rewrite (issue 13: built once per trace); its bytes leave as they came, plus the
 * fields the agent adds, and decode to what `markKeptSpan` gives the decoded span.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeTraceRequest,
  encodeTraceRequest,
  RequestAssembler,
  scanTraceRequest,
  type Span,
} from '../src/otlp/index.js';
import type { TraceDecision } from '../src/sampling/sampling-policy.js';
import { addKeptSpan, markKeptSpan } from '../src/sampling/weights.js';
import { makeSpan } from './helpers/edge-spans.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

function span(spanId: string, traceState: string, attributes: Span['attributes'] = []): Span {
  return makeSpan({
    traceId: TRACE,
    spanId,
    traceState,
    name: 'GET /cart',
    endTimeUnixNano: 1_700_000_000_250_000_000n,
    attributes: [{ key: 'http.route', value: { kind: 'string', value: '/cart' } }, ...attributes],
  });
}

const spans = [
  span('b7ad6b7169203331', ''),
  span('b7ad6b7169203332', ''),
  span('b7ad6b7169203333', 'vendor=x'),
  span('b7ad6b7169203334', '', [{ key: 'sampling.weight', value: { kind: 'double', value: 3 } }]),
];
const request = encodeTraceRequest({
  resourceSpans: [
    {
      resource: {
        attributes: [{ key: 'service.name', value: { kind: 'string', value: 'cart' } }],
        droppedAttributesCount: 0,
      },
      scopeSpans: [
        {
          scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 },
          spans,
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    },
  ],
});

const probabilistic: TraceDecision = {
  keep: true,
  reason: 'probabilistic',
  policy: 'baseline',
  weight: 10,
  th: 'e666666666666',
  rv: 'abcdef01234567',
};

function keepAll(decision: TraceDecision): { bytes: Buffer; out: Span[] } {
  const scanned = scanTraceRequest(request).spans;
  const out = new RequestAssembler();
  for (let i = 0; i < scanned.count; i++) {
    const off = scanned.offsets[i] as number;
    const end = off + (scanned.lengths[i] as number);
    addKeptSpan(out, scanned.scope(i), scanned.buf, off, end, scanned.marks[i] as number, decision);
  }
  const bytes = out.finish();
  return { bytes, out: decodeTraceRequest(bytes).resourceSpans[0]!.scopeSpans[0]!.spans };
}

test('a probabilistic keep marks wire spans as markKeptSpan marks decoded ones', () => {
  const { out } = keepAll(probabilistic);
  assert.equal(out.length, spans.length);
  for (let i = 0; i < spans.length; i++) {
    const expected = structuredClone(spans[i]!);
    markKeptSpan(expected, probabilistic);
    assert.equal(out[i]!.traceState, expected.traceState, `span ${i} trace state`);
    assert.deepEqual(
      [...out[i]!.attributes].sort((a, b) => a.key.localeCompare(b.key)),
      [...expected.attributes].sort((a, b) => a.key.localeCompare(b.key)),
      `span ${i} attributes`,
    );
  }
  assert.equal(out[0]!.traceState, 'ot=th:e666666666666;rv:abcdef01234567');
  assert.equal(out[2]!.traceState, 'ot=th:e666666666666;rv:abcdef01234567,vendor=x');
  assert.equal(out[3]!.attributes.filter((a) => a.key === 'sampling.weight').length, 1);
});

test('a span without a trace state leaves as its own bytes plus the appended fields, the same for each span', () => {
  const { bytes } = keepAll(probabilistic);
  const scanned = scanTraceRequest(bytes).spans;
  const original = scanTraceRequest(request).spans;
  const suffixes: string[] = [];
  for (const i of [0, 1]) {
    const before = original.span(i);
    const after = scanned.span(i);
    assert.deepEqual(after.subarray(0, before.length), before, `span ${i} starts with its own bytes`);
    suffixes.push(after.subarray(before.length).toString('hex'));
  }
  assert.equal(suffixes[0], suffixes[1]);
});

test('two traces kept with different thresholds in a row each get their own trace state', () => {
  const other: TraceDecision = {
    keep: true,
    reason: 'probabilistic',
    policy: 'baseline',
    weight: 4,
    th: 'c',
  };
  assert.equal(keepAll(probabilistic).out[0]!.traceState, 'ot=th:e666666666666;rv:abcdef01234567');
  const second = keepAll(other).out;
  assert.equal(second[0]!.traceState, 'ot=th:c');
  assert.deepEqual(second[0]!.attributes.find((a) => a.key === 'sampling.weight')?.value, {
    kind: 'double',
    value: 4,
  });
});
