import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeTraceRequest,
  decodeTraceRequestJson,
  encodeTraceRequest,
  encodeTraceRequestJson,
  rejectInvalidSpans,
  transcodeTraceRequestJson,
  RequestAssembler,
  scanTraceRequest,
  type WireSpans,
} from '../src/otlp/index.js';
import { isSentinelError } from '../src/errors.js';
import { mutate, seededRandom } from './helpers/fuzz.js';
import { makeTraces } from './helpers/store-spans.js';
import { lenField, UNKNOWN_FIELD } from './helpers/wire.js';

/** Every span of a scan, assembled again with nothing added. */
function reassemble(spans: WireSpans): Buffer {
  const a = new RequestAssembler();
  for (let i = 0; i < spans.count; i++) {
    const off = spans.offsets[i]!;
    a.add(spans.scope(i), spans.buf, off, off + spans.lengths[i]!);
  }
  return a.finish();
}

const unknownField = (): Buffer => UNKNOWN_FIELD;

describe('the wire scanner (issue 13)', () => {
  it('indexes every span and reassembles a request that decodes to the same model', () => {
    const data = makeTraces({ traces: 30, spansPerTrace: 7, seed: 3, exotic: true });
    const bytes = encodeTraceRequest(data);
    const { spans, rejectedSpans } = scanTraceRequest(bytes);
    assert.equal(rejectedSpans, 0);
    assert.equal(spans.count, 210);
    const again = decodeTraceRequest(reassemble(spans));
    assert.deepEqual(again, decodeTraceRequest(bytes));
    const decoded = decodeTraceRequest(bytes).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans),
    );
    for (let i = 0; i < spans.count; i++) {
      const s = decoded[i]!;
      assert.equal(spans.traceIds![i], s.traceId);
      assert.equal(spans.names![i], s.name);
      assert.equal(spans.kinds[i], s.kind);
      assert.equal(spans.statusCodes[i], s.status.code);
      const d = s.endTimeUnixNano - s.startTimeUnixNano;
      assert.equal(spans.durationsNs[i], d > 0n ? Number(d) : 0);
    }
  });

  it('assembles the same bytes with an assembler reset and reused (and given DataViews) as with a new one, whatever the last request held', () => {
    const requests = [1, 2, 3, 4].map(
      (seed) =>
        scanTraceRequest(encodeTraceRequest(makeTraces({ traces: 6, spansPerTrace: 3, seed, exotic: true })))
          .spans,
    );
    const reused = new RequestAssembler();
    // Spans chosen per round: every span, none, the odd ones (some resources and scopes get none), a few.
    const picks: Array<(i: number) => boolean> = [
      () => true,
      () => false,
      (i) => i % 2 === 1,
      (i) => i % 7 === 0,
    ];
    // Rounds: every request and pick in turn; then 70 of the first request alone, so the groups of the others
    // go idle past the assembler's limit (64) and are let go; then all in turn again (session 13).
    const rounds = [
      ...Array.from({ length: 8 }, (_, r) => [r % requests.length, r % picks.length] as const),
      ...Array.from({ length: 70 }, () => [0, 0] as const),
      ...Array.from({ length: 8 }, (_, r) => [(r + 1) % requests.length, r % picks.length] as const),
    ];
    for (const [round, [which, how]] of rounds.entries()) {
      const spans = requests[which]!;
      const pick = picks[how]!;
      const fresh = new RequestAssembler();
      const suffix = Buffer.from([0x4a, 0x00]);
      for (const a of [reused, fresh])
        for (let i = 0; i < spans.count; i++) {
          if (!pick(i)) continue;
          const off = spans.offsets[i]!;
          // The reused one is given the request's DataView for some spans (as the sampler gives it).
          const view = a === reused && i % 2 === 0 ? spans.dataView : undefined;
          a.add(
            spans.scope(i),
            spans.buf,
            off,
            off + spans.lengths[i]!,
            i % 3 === 0 ? suffix : undefined,
            view,
          );
        }
      assert.equal(reused.spanCount, fresh.spanCount);
      assert.deepEqual(reused.finish(), fresh.finish(), `round ${round}`);
      reused.reset();
      assert.equal(reused.spanCount, 0);
      assert.equal(reused.finish().length, 0);
    }
  });

  it('scans a request larger than the shared scratch, then small ones, each to its own columns', () => {
    const check = (data: ReturnType<typeof makeTraces>) => {
      const bytes = encodeTraceRequest(data);
      const { spans } = scanTraceRequest(bytes);
      const decoded = decodeTraceRequest(bytes).resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) => ss.spans),
      );
      assert.equal(spans.count, decoded.length);
      assert.deepEqual(
        spans.traceIds,
        decoded.map((x) => x.traceId),
      );
      assert.deepEqual(
        spans.names,
        decoded.map((x) => x.name),
      );
      for (let i = 0; i < spans.count; i++) assert.equal(spans.kinds[i], decoded[i]!.kind);
      return spans;
    };
    const small = check(makeTraces({ traces: 3, spansPerTrace: 4, seed: 1 }));
    check(makeTraces({ traces: 700, spansPerTrace: 8, seed: 2 }));
    const after = check(makeTraces({ traces: 3, spansPerTrace: 4, seed: 1 }));
    assert.deepEqual([...after.offsets], [...small.offsets]);
    assert.equal(after.traceIds!.length, 12, 'only the ids of this request');
  });

  it('interns resources with a schema_url and their scopes: two requests of the same bytes share them', () => {
    const data = makeTraces({ traces: 6, spansPerTrace: 3, seed: 8 });
    for (const rs of data.resourceSpans) rs.schemaUrl = 'https://opentelemetry.io/schemas/1.26.0';
    const body = encodeTraceRequest(data);
    const a = scanTraceRequest(Buffer.from(body)).spans;
    const b = scanTraceRequest(Buffer.from(body)).spans;
    assert.ok(a.scope(0).resource.extra.length > 0, 'the schema_url is kept beside the resource');
    for (let i = 0; i < a.count; i++) {
      assert.equal(b.scope(i), a.scope(i));
      assert.equal(b.scope(i).resource, a.scope(i).resource);
    }
    const other = makeTraces({ traces: 6, spansPerTrace: 3, seed: 8 });
    for (const rs of other.resourceSpans) rs.schemaUrl = 'https://opentelemetry.io/schemas/1.27.0';
    const c = scanTraceRequest(encodeTraceRequest(other)).spans;
    assert.notEqual(c.scope(0).resource, a.scope(0).resource, 'another schema_url is another resource');
  });

  it('tells resources and scopes apart by every byte, short or long, wherever the one that differs sits (session 13: hashed by words, compared natively)', () => {
    for (const length of [3, 20, 47, 48, 49, 400]) {
      // Same length, so the same bucket is possible: one byte differs, first, in the middle, or last.
      for (const at of [0, Math.floor(length / 2), length - 1]) {
        const value = (c: string) => {
          const chars = 'x'.repeat(length).split('');
          chars[at] = c;
          return chars.join('');
        };
        const traces = (c: string) => {
          const data = makeTraces({ traces: 1, spansPerTrace: 1, seed: 3 });
          data.resourceSpans[0]!.resource = {
            attributes: [{ key: 'service.instance.id', value: { kind: 'string', value: value(c) } }],
            droppedAttributesCount: 0,
          };
          return scanTraceRequest(encodeTraceRequest(data)).spans.scope(0).resource;
        };
        const a = traces('a');
        const b = traces('b');
        assert.notEqual(a, b, `${length} bytes, byte ${at}`);
        assert.equal(traces('a'), a, `${length} bytes, byte ${at}: the same bytes are the same resource`);
        assert.equal(traces('b'), b);
        // And scopes under one resource, by their headers.
        const scope = (c: string) => {
          const data = makeTraces({ traces: 1, spansPerTrace: 1, seed: 3 });
          data.resourceSpans[0]!.scopeSpans[0]!.scope = {
            name: value(c),
            version: '1',
            attributes: [],
            droppedAttributesCount: 0,
          };
          return scanTraceRequest(encodeTraceRequest(data)).spans.scope(0);
        };
        const sa = scope('a');
        assert.notEqual(scope('b'), sa, `scope of ${length} bytes, byte ${at}`);
        assert.equal(scope('a'), sa);
      }
    }
  });

  it('reads times whose low 32 bits pass 2^31 exactly: durations, starts, and a start after the end (session 13: low halves read signed)', () => {
    const base = 1_760_000_000n * 1_000_000_000n; // high half well under 2^31
    const hi = base >> 32n;
    const at = (lo: bigint, carry = 0n) => ((hi + carry) << 32n) | lo;
    const cases: Array<[bigint, bigint]> = [
      [at(0x7fffffffn), at(0x80000001n)], // across the sign bit: 2 ns
      [at(0xffffffffn), at(0n, 1n)], // across the high half: 1 ns
      [at(0x80000000n), at(0xfffffffen)],
      [at(0n), at(0xffffffffn)],
      [at(0x90000000n), at(0x10000000n, 3n)],
    ];
    const data = makeTraces({ traces: cases.length, spansPerTrace: 1, seed: 4 });
    const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    cases.forEach(([start, end], k) => {
      spans[k]!.startTimeUnixNano = start;
      spans[k]!.endTimeUnixNano = end;
    });
    const body = encodeTraceRequest(data);
    const scanned = scanTraceRequest(body).spans;
    // The scanner's spans in request order, as the decoder reads them.
    const decoded = decodeTraceRequest(body).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans),
    );
    assert.equal(scanned.count, cases.length);
    for (let i = 0; i < scanned.count; i++) {
      const { startTimeUnixNano: start, endTimeUnixNano: end } = decoded[i]!;
      assert.equal(scanned.durationsNs[i], Number(end - start), `span ${i}`);
      assert.equal(
        BigInt(scanned.startsHi[i]!) * 2n ** 32n + BigInt(scanned.startsLo[i]!),
        start,
        `span ${i}`,
      );
    }
    assert.deepEqual(
      decoded.map((d) => Number(d.endTimeUnixNano - d.startTimeUnixNano)).sort((a, b) => a - b),
      cases.map(([start, end]) => Number(end - start)).sort((a, b) => a - b),
    );
    // One nanosecond before its start, in the low half only, across the sign bit: refused as the decoder does.
    const bad = makeTraces({ traces: 1, spansPerTrace: 1, seed: 5 });
    const s0 = bad.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    s0.startTimeUnixNano = at(0x80000000n);
    s0.endTimeUnixNano = at(0x7fffffffn);
    assert.equal(scanTraceRequest(encodeTraceRequest(bad)).spans.count, 0);
  });

  it('gives each span its own trace id when the traces of a request are interleaved', () => {
    const data = makeTraces({ traces: 12, spansPerTrace: 6, seed: 9 });
    const random = seededRandom(4);
    for (const rs of data.resourceSpans)
      for (const ss of rs.scopeSpans) ss.spans.sort(() => (random() < 0.5 ? -1 : 1));
    const bytes = encodeTraceRequest(data);
    const { spans } = scanTraceRequest(bytes);
    const decoded = decodeTraceRequest(bytes).resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans.map((x) => x.traceId)),
    );
    assert.deepEqual(spans.traceIds, decoded);
    assert.ok(
      decoded.some((id, i) => i > 0 && id !== decoded[i - 1]),
      'the traces are interleaved',
    );
  });

  it('keeps a span byte for byte, unknown fields of a Span, a Resource and the request included', () => {
    const data = makeTraces({ traces: 1, spansPerTrace: 1, seed: 5 });
    const plain = encodeTraceRequest(data);
    // Rebuild the request by hand with an unknown field in each level.
    const scanned = scanTraceRequest(plain).spans;
    const span = Buffer.concat([scanned.span(0), unknownField()]);
    const scope = scanned.scope(0);
    const resource = Buffer.concat([Buffer.from(scope.resource.resource), unknownField()]);
    const scopeSpans = Buffer.concat([Buffer.from(scope.header), lenField(2, span)]);
    const resourceSpans = Buffer.concat([lenField(1, resource), lenField(2, scopeSpans), unknownField()]);
    const request = Buffer.concat([lenField(1, resourceSpans), unknownField()]);

    const { spans } = scanTraceRequest(request);
    const out = reassemble(spans);
    assert.ok(out.includes(span), 'the span bytes, unknown field included, are in the output as they came');
    assert.ok(out.includes(resource), 'the resource with its unknown field');
    assert.ok(out.subarray(out.length - 6).equals(unknownField()), "the request's unknown field");
    assert.equal(out.length, request.length, 'nothing added, nothing lost');
    assert.deepEqual(decodeTraceRequest(out), decodeTraceRequest(request));
  });

  it('leaves out spans with empty or zero ids and counts them, as the decoder path does', () => {
    const data = makeTraces({ traces: 3, spansPerTrace: 2, seed: 9 });
    const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    spans[0]!.traceId = '0'.repeat(32);
    spans[1]!.spanId = '';
    const scanned = scanTraceRequest(encodeTraceRequest(data));
    assert.equal(scanned.rejectedSpans, 2);
    assert.equal(scanned.spans.count, 4);
    assert.match(scanned.errorMessage, /2 span\(s\)/);
  });

  it("refuses the spans whose times a block cannot hold, with the decoded path's counts and message", () => {
    const data = makeTraces({ traces: 4, spansPerTrace: 2, seed: 23 });
    const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    spans[0]!.startTimeUnixNano = 2n ** 63n;
    spans[1]!.endTimeUnixNano = 2n ** 64n - 1n;
    spans[2]!.endTimeUnixNano = spans[2]!.startTimeUnixNano - 1n;
    spans[3]!.spanId = '0'.repeat(16);
    spans[4]!.startTimeUnixNano = 0n;
    spans[4]!.endTimeUnixNano = 0n;
    const bytes = encodeTraceRequest(data);
    const scanned = scanTraceRequest(bytes);
    const decoded = decodeTraceRequest(bytes);
    const expected = rejectInvalidSpans(decoded);
    assert.equal(scanned.rejectedSpans, 4);
    assert.deepEqual({ rejectedSpans: scanned.rejectedSpans, errorMessage: scanned.errorMessage }, expected);
    const flat = (d: ReturnType<typeof decodeTraceRequest>) =>
      d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    assert.deepEqual(
      flat(decodeTraceRequest(reassemble(scanned.spans))),
      flat(decoded),
      'the same spans are kept',
    );
  });

  it('refuses exactly what the decoder refuses, on 3,000 mutated requests', () => {
    const valid = encodeTraceRequest(makeTraces({ traces: 5, spansPerTrace: 3, seed: 11, exotic: true }));
    const rand = seededRandom(13);
    let refused = 0;
    for (let k = 0; k < 3000; k++) {
      const body = mutate(valid, rand);
      let decodeError: unknown;
      let scanError: unknown;
      try {
        decodeTraceRequest(body);
      } catch (err) {
        decodeError = err;
      }
      try {
        scanTraceRequest(body);
      } catch (err) {
        scanError = err;
      }
      if (scanError !== undefined) {
        assert.ok(isSentinelError(scanError), `a coded error, got ${String(scanError)}`);
        refused++;
      }
      assert.equal(scanError === undefined, decodeError === undefined, `mutation ${k}: same verdict`);
      // The scanner walks the request's top level first, so with two faults it may name the other one.
      if (isSentinelError(scanError))
        assert.ok(['SENTINEL_ERR_OTLP_DECODE', 'SENTINEL_ERR_OTLP_INVALID'].includes(scanError.code));
    }
    assert.ok(refused > 100, `some mutations are refused (${refused})`);
  });

  it('checks a resource and a scope once per distinct content, and still refuses a bad one in any place', () => {
    const valid = encodeTraceRequest(makeTraces({ traces: 2, spansPerTrace: 2, seed: 23 }));
    // Seen before: the same bytes scan again without a new check, to the same index.
    const first = scanTraceRequest(valid).spans;
    const again = scanTraceRequest(valid).spans;
    assert.equal(again.count, first.count);
    assert.equal(again.scope(0), first.scope(0), 'the interned scope is reused');
    // A resource (field 1 of ResourceSpans) or scope (field 1 of ScopeSpans) whose attribute key has the wrong
    // wire type (VARINT), first or second of a repeated field, beside a valid one: refused as the decoder does.
    const badAttributes = lenField(1, Buffer.from([0x08, 0x01]));
    const scopeSpans = (scope: Buffer[]) => lenField(2, Buffer.concat(scope.map((c) => lenField(1, c))));
    const goodScope = Buffer.from([0x0a, 0x01, 0x73]); // name "s"
    const badScope = lenField(3, Buffer.from([0x08, 0x01])); // attributes: a KeyValue with a VARINT key
    const requests = [
      [lenField(1, badAttributes), scopeSpans([goodScope])],
      [lenField(1, Buffer.alloc(0)), lenField(1, badAttributes), scopeSpans([goodScope])],
      [lenField(1, badAttributes), lenField(1, Buffer.alloc(0)), scopeSpans([goodScope])],
      [scopeSpans([badScope])],
      [scopeSpans([badScope, goodScope])],
      [scopeSpans([goodScope, badScope])],
    ].map((fields) => lenField(1, Buffer.concat(fields)));
    for (const [k, body] of requests.entries()) {
      assert.throws(() => decodeTraceRequest(body), `case ${k}: the decoder refuses`);
      assert.throws(() => scanTraceRequest(body), isSentinelError, `case ${k}: the scanner refuses`);
      assert.throws(() => scanTraceRequest(body), isSentinelError, `case ${k}: and again, once seen`);
    }
  });

  it('converts OTLP/JSON to protobuf in one pass, to the same spans as the JSON decoder reads', () => {
    const json = encodeTraceRequestJson(makeTraces({ traces: 6, spansPerTrace: 3, seed: 17, exotic: true }));
    assert.deepEqual(decodeTraceRequest(transcodeTraceRequestJson(json)), decodeTraceRequestJson(json));
    const rand = seededRandom(19);
    const valid = Buffer.from(json);
    for (let k = 0; k < 1000; k++) {
      const body = mutate(valid, rand);
      let a: unknown;
      let b: unknown;
      try {
        a = decodeTraceRequestJson(body);
      } catch (err) {
        a = err;
      }
      try {
        b = decodeTraceRequest(transcodeTraceRequestJson(body));
      } catch (err) {
        b = err;
      }
      if (a instanceof Error || b instanceof Error) {
        assert.ok(a instanceof Error && b instanceof Error, `mutation ${k}: both refuse`);
        assert.equal(a.message, b.message);
      } else assert.deepEqual(b, a, `mutation ${k}: same spans`);
    }
  });
});
