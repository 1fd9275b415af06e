import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import {
  decodeTraceRequest,
  decodeTraceRequestJson,
  encodeTraceRequest,
  encodeTraceRequestJson,
  encodeTraceResponse,
  rejectInvalidSpans,
  type Span,
  type TraceData,
} from '../src/otlp/index.js';
import { isSentinelError } from '../src/errors.js';
import { assertSameAsRecorded } from './helpers/assert-model.js';
import { recordAndSend } from './helpers/sdk.js';
import { mutate, seededRandom } from './helpers/fuzz.js';

function flatten(data: TraceData): Span[] {
  return data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

describe('OTLP codecs', () => {
  let recorded: ReadableSpan[];
  before(async () => {
    recorded = await recordAndSend(300, undefined);
  });

  it('decodes bytes from otlp-transformer ProtobufTraceSerializer into the recorded spans, every field intact', () => {
    const bytes = ProtobufTraceSerializer.serializeRequest(recorded) as Uint8Array;
    assertSameAsRecorded(decodeTraceRequest(bytes), recorded);
  });

  it('decodes bytes from otlp-transformer JsonTraceSerializer into the same model as the protobuf bytes', () => {
    const json = JsonTraceSerializer.serializeRequest(recorded) as Uint8Array;
    const fromJson = decodeTraceRequestJson(json);
    assertSameAsRecorded(fromJson, recorded);
    const fromProto = decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(recorded) as Uint8Array);
    assert.deepStrictEqual(fromJson, fromProto);
  });

  it('round-trips the model through its own protobuf and JSON encoders', () => {
    const model = decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(recorded) as Uint8Array);
    assert.deepStrictEqual(decodeTraceRequest(encodeTraceRequest(model)), model);
    assert.deepStrictEqual(decodeTraceRequestJson(encodeTraceRequestJson(model)), model);
  });

  it('keeps int64 extremes, -0, NaN and infinities, empty values and deep nesting', () => {
    const span: Span = {
      ...flatten(decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(recorded) as Uint8Array))[0]!,
      attributes: [
        { key: 'max', value: { kind: 'int', value: 9223372036854775807n } },
        { key: 'min', value: { kind: 'int', value: -9223372036854775808n } },
        { key: 'zero', value: { kind: 'int', value: 0n } },
        { key: 'negzero', value: { kind: 'double', value: -0 } },
        { key: 'nan', value: { kind: 'double', value: NaN } },
        { key: 'inf', value: { kind: 'double', value: -Infinity } },
        { key: 'empty', value: { kind: 'empty' } },
        { key: 'emptystr', value: { kind: 'string', value: '' } },
        { key: 'false', value: { kind: 'bool', value: false } },
        { key: 'nobytes', value: { kind: 'bytes', value: new Uint8Array() } },
        {
          key: 'deep',
          value: {
            kind: 'array',
            value: [{ kind: 'kvlist', value: [{ key: 'a', value: { kind: 'array', value: [] } }] }],
          },
        },
        { key: 'unicode', value: { kind: 'string', value: 'ünïcødé ✓ 𝄞' } },
      ],
    };
    const model: TraceData = {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 3 },
          scopeSpans: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              spans: [span],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    };
    assert.deepStrictEqual(decodeTraceRequest(encodeTraceRequest(model)), model);
    assert.deepStrictEqual(decodeTraceRequestJson(encodeTraceRequestJson(model)), model);
  });

  it('encodes an ExportTraceServiceResponse with partial_success only when spans were rejected', () => {
    assert.equal(encodeTraceResponse().length, 0);
    const bytes = encodeTraceResponse({ rejectedSpans: 2, errorMessage: 'bad ids' });
    // field 1 (partial_success), LEN; inside: field 1 varint 2, field 2 "bad ids"
    assert.deepStrictEqual([...bytes.subarray(0, 4)], [0x0a, 11, 0x08, 2]);
    assert.equal(bytes.subarray(6).toString(), 'bad ids');
  });
});

describe('OTLP decoding of bad input', () => {
  let valid: Uint8Array;
  before(async () => {
    valid = ProtobufTraceSerializer.serializeRequest(await recordAndSend(20, undefined)) as Uint8Array;
  });

  function assertCode(fn: () => unknown, code: string, pattern?: RegExp): void {
    assert.throws(fn, (err: unknown) => {
      assert.ok(isSentinelError(err), `a SentinelError, got ${String(err)}`);
      assert.equal(err.code, code);
      if (pattern) assert.match(err.message, pattern);
      return true;
    });
  }

  it('refuses truncated protobuf with a message naming where it stopped', () => {
    assertCode(
      () => decodeTraceRequest(valid.subarray(0, valid.length - 7)),
      'SENTINEL_ERR_OTLP_DECODE',
      /byte \d+/,
    );
  });

  it('refuses a known field with the wrong wire type', () => {
    // resource_spans (field 1) sent as a varint instead of a message
    assertCode(
      () => decodeTraceRequest(Uint8Array.from([0x08, 0x01])),
      'SENTINEL_ERR_OTLP_DECODE',
      /resource_spans: expected wire type 2, got 0/,
    );
  });

  it('refuses ids of the wrong length in protobuf and in JSON', () => {
    const model = decodeTraceRequest(valid);
    const bad = structuredClone(model);
    bad.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId = 'abcd';
    assertCode(
      () => decodeTraceRequest(encodeTraceRequest(bad)),
      'SENTINEL_ERR_OTLP_INVALID',
      /trace_id must be 16 bytes, got 2/,
    );
    assertCode(
      () => decodeTraceRequestJson(encodeTraceRequestJson(bad)),
      'SENTINEL_ERR_OTLP_INVALID',
      /traceId: expected 32 hex digits/,
    );
  });

  it('refuses invalid JSON and JSON of the wrong shape, naming the path', () => {
    assertCode(
      () => decodeTraceRequestJson('{"resourceSpans": ['),
      'SENTINEL_ERR_OTLP_DECODE',
      /not valid JSON/,
    );
    assertCode(
      () => decodeTraceRequestJson('{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}'),
      'SENTINEL_ERR_OTLP_DECODE',
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.name: expected a string, got number 5/,
    );
    assertCode(() => decodeTraceRequestJson('[]'), 'SENTINEL_ERR_OTLP_DECODE', /expected an object/);
  });

  it('accepts snake_case field names and enum names in JSON', () => {
    const data = decodeTraceRequestJson(
      JSON.stringify({
        resource_spans: [
          {
            scope_spans: [
              {
                spans: [
                  {
                    trace_id: '0AF7651916CD43DD8448EB211C80319C',
                    span_id: 'B7AD6B7169203331',
                    kind: 'SPAN_KIND_SERVER',
                    start_time_unix_nano: 1700000000000000000,
                    status: { code: 'STATUS_CODE_ERROR' },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const span = flatten(data)[0]!;
    assert.equal(span.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(span.kind, 2);
    assert.equal(span.status.code, 2);
    assert.equal(span.startTimeUnixNano, 1700000000000000000n);
  });

  it('rejects only the spans with empty or all-zero ids, for partial_success', () => {
    const model = decodeTraceRequest(valid);
    const spans = model.resourceSpans[0]!.scopeSpans[0]!.spans;
    const before = spans.length;
    spans[0]!.traceId = '0'.repeat(32);
    spans[1]!.spanId = '';
    const rejection = rejectInvalidSpans(model);
    assert.equal(rejection.rejectedSpans, 2);
    assert.match(rejection.errorMessage, /2 span\(s\)/);
    assert.equal(model.resourceSpans[0]!.scopeSpans[0]!.spans.length, before - 2);
  });

  it('survives 10,000 seeded random mutations of valid protobuf and JSON: only coded errors, never a crash', () => {
    const json = Buffer.from(encodeTraceRequestJson(decodeTraceRequest(valid)));
    const rand = seededRandom(20261123);
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 10_000; i++) {
      const useJson = i % 4 === 0;
      const input = mutate(useJson ? json : valid, rand);
      try {
        if (useJson) decodeTraceRequestJson(input);
        else decodeTraceRequest(input);
        decoded++;
      } catch (err) {
        assert.ok(isSentinelError(err), `mutation ${i} threw a non-Sentinel error: ${String(err)}`);
        refused++;
      }
    }
    assert.equal(decoded + refused, 10_000);
    assert.ok(refused > 1000, `most mutations are refused (${refused})`);
  });
});
