/**
 * Request shapes for bench/admission.ts: the three (one 4 MB span, 130k id-only spans, typical spans) and
 * the adversarial ones that maximise decoded objects per wire byte (tiny attributes, empty array values, events,
 * links). Each is an ExportTraceServiceRequest in protobuf of about `targetBytes`.
 */
import { av, encodeTraceRequest, type KeyValue, type Span, type TraceData } from '../src/otlp/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

function span(i: number, extra: Partial<Span> = {}): Span {
  const id = (i + 1).toString(16).padStart(16, '0');
  return {
    traceId: id.padStart(32, 'a'),
    spanId: id,
    traceState: '',
    parentSpanId: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...extra,
  };
}

function request(spans: Span[]): TraceData {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [{ key: 'service.name', value: av.string('bench') }],
          droppedAttributesCount: 0,
        },
        scopeSpans: [
          {
            scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
            spans,
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  };
}

/** Repeats `make(i)` until the encoded request reaches about `target` bytes (sized from the cost of one more span). */
function fill(target: number, make: (i: number) => Span): TraceData {
  const one = encodeTraceRequest(request([make(0)])).length;
  const each = (encodeTraceRequest(request([make(0), make(1), make(2)])).length - one) / 2;
  const n = Math.max(1, Math.floor((target - one) / each) + 1);
  return request(Array.from({ length: n }, (_, i) => make(i)));
}

/** SDK-like traces (test/helpers/store-spans.ts) of about `target` bytes. */
function typical(target: number): TraceData {
  const per = encodeTraceRequest(makeTraces({ traces: 100, spansPerTrace: 10, seed: 5 })).length / 100;
  return makeTraces({ traces: Math.max(1, Math.floor(target / per)), spansPerTrace: 10, seed: 5 });
}

export interface Shape {
  readonly name: string;
  readonly data: TraceData;
  readonly body: Uint8Array;
}

export function shapes(targetBytes: number, which?: readonly string[]): Shape[] {
  const all: [string, () => TraceData][] = [
    [
      'one huge span (one string attribute)',
      () =>
        request([
          span(0, { attributes: [{ key: 'blob', value: av.string('x'.repeat(targetBytes - 200)) }] }),
        ]),
    ],
    ['id-only spans', () => fill(targetBytes, (i) => span(i))],
    ['typical spans (SDK-like, 3 attributes + resource)', () => typical(targetBytes)],
    [
      'tiny int attributes (1-char keys)',
      () => {
        const attrs: KeyValue[] = [];
        for (let i = 0; i < targetBytes / 9; i++) attrs.push({ key: 'a', value: av.int(i % 100) });
        return request([span(0, { attributes: attrs })]);
      },
    ],
    [
      'empty array values',
      () =>
        request([
          span(0, {
            attributes: [
              { key: 'a', value: av.array(Array.from({ length: targetBytes / 2 }, () => av.empty())) },
            ],
          }),
        ]),
    ],
    [
      'spans with empty events',
      () =>
        fill(targetBytes, (i) =>
          span(i, {
            events: Array.from({ length: 20 }, () => ({
              timeUnixNano: 0n,
              name: '',
              attributes: [],
              droppedAttributesCount: 0,
            })),
          }),
        ),
    ],
    [
      'spans with links',
      () =>
        fill(targetBytes, (i) =>
          span(i, {
            links: Array.from({ length: 10 }, (_, j) => ({
              traceId: 'ab'.repeat(16),
              spanId: (j + 1).toString(16).padStart(16, '0'),
              traceState: '',
              attributes: [],
              droppedAttributesCount: 0,
              flags: 0,
            })),
          }),
        ),
    ],
  ];
  return all
    .filter(([name]) => !which || which.some((w) => name.startsWith(w)))
    .map(([name, make]) => {
      const data = make();
      return { name, data, body: encodeTraceRequest(data) };
    });
}
