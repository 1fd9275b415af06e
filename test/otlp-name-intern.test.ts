import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTraceRequest, encodeTraceRequest, scanTraceRequest } from '../src/otlp/index.js';
import { MAX_INTERNED_NAME_BYTES } from '../src/otlp/name-intern.js';
import { makeTraces } from './helpers/store-spans.js';

/** A request of `names.length` spans, span i named names[i] (other fields from makeTraces). */
function requestNamed(names: readonly string[], seed = 1): Buffer {
  const data = makeTraces({ traces: names.length, spansPerTrace: 1, seed });
  let i = 0;
  for (const rs of data.resourceSpans)
    for (const ss of rs.scopeSpans) for (const s of ss.spans) s.name = names[i++ % names.length]!;
  return encodeTraceRequest(data);
}

/** The names the scanner read against the names the decoder reads, span by span. */
function assertScannedNames(bytes: Buffer, expected?: readonly string[]): void {
  const decoded = decodeTraceRequest(bytes).resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)),
  );
  const { spans } = scanTraceRequest(bytes);
  assert.equal(spans.count, decoded.length);
  assert.deepEqual(spans.names, decoded);
  if (expected) assert.deepEqual([...spans.names!].sort(), [...expected].sort());
}

describe('span names interned by the scanner (issue 13)', () => {
  it('gives two requests with the same names and with different names each span its own name', () => {
    const a = ['GET /api/orders', 'SELECT orders', 'GET /api/orders', 'POST /api/cart'];
    const b = ['GET /api/users', 'SELECT orders', 'DELETE /api/cart', 'GET /api/orders'];
    assertScannedNames(requestNamed(a), a);
    assertScannedNames(requestNamed(a, 2), a);
    assertScannedNames(requestNamed(b), b);
    assertScannedNames(requestNamed(a), a);
  });

  it('reads names longer than the table keeps, and names of every length around the limit, exactly', () => {
    const names = [
      'x'.repeat(MAX_INTERNED_NAME_BYTES - 1),
      'x'.repeat(MAX_INTERNED_NAME_BYTES),
      'x'.repeat(MAX_INTERNED_NAME_BYTES + 1),
      'y'.repeat(5000),
      // Multi-byte characters straddling the limit.
      'é'.repeat(MAX_INTERNED_NAME_BYTES / 2),
      'é'.repeat(MAX_INTERNED_NAME_BYTES / 2 + 1),
      '',
    ];
    assertScannedNames(requestNamed(names), names);
    assertScannedNames(requestNamed(names, 3), names);
  });

  it('gives many distinct names (slots taken over by others) the right name, twice over', () => {
    const names = Array.from({ length: 5000 }, (_, i) => `op-${i}-${'z'.repeat(i % 40)}`);
    assertScannedNames(requestNamed(names), names);
    assertScannedNames(requestNamed(names, 4), names);
  });

  it('decodes non-ASCII and invalid UTF-8 names as the decoder does, every time', () => {
    const names = ['café ☕ 注文', '🚀 launch', 'ABCD', 'ABCE'];
    const bytes = requestNamed(names);
    // Give the 'ABCD' span invalid UTF-8 of the same length: a lone 0xff, a truncated two-byte sequence, an
    // unpaired surrogate's encoding.
    const at = bytes.indexOf(Buffer.from('ABCD'));
    assert.ok(at > 0);
    Buffer.from([0xff, 0xc3, 0xed, 0xa0]).copy(bytes, at);
    const at2 = bytes.indexOf(Buffer.from('ABCE'));
    Buffer.from([0xed, 0xa0, 0x80, 0x41]).copy(bytes, at2);
    for (let round = 0; round < 3; round++) assertScannedNames(bytes);
    const { spans } = scanTraceRequest(bytes);
    assert.ok(spans.names!.includes(Buffer.from([0xff, 0xc3, 0xed, 0xa0]).toString('utf8')));
    assert.ok(spans.names!.includes('café ☕ 注文'));
    // The same bytes valid again read as before.
    assertScannedNames(requestNamed(names), names);
  });
});
