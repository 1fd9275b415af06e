import assert from 'node:assert/strict';
import {
  av,
  encodeTraceRequest,
  StatusCode,
  type KeyValue,
  type Span,
  type TraceBatch,
  type TraceData,
} from '../../src/otlp/index.js';

/**
 * A span whose fields not given are plain: no parent, state, attributes, events or links; flags 1, named `op`,
 * SERVER, 10 ms from 1_700_000_000 s, status unset.
 */
export function makeSpan(fields: Partial<Span> & Pick<Span, 'traceId' | 'spanId'>): Span {
  return {
    traceState: '',
    parentSpanId: '',
    flags: 1,
    name: 'op',
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_000_010_000_000n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: StatusCode.UNSET, message: '' },
    ...fields,
  };
}

/** A span of one side of a call (issue 19 tests): kind, ids, attributes, start and duration. */
export function edgeSpan(
  kind: number,
  traceId: string,
  spanId: string,
  parentSpanId: string,
  options: { attributes?: KeyValue[]; error?: boolean; ms?: number; startMs: number; name?: string },
): Span {
  const start = BigInt(options.startMs) * 1_000_000n;
  return makeSpan({
    traceId,
    spanId,
    parentSpanId,
    name: options.name ?? 'op',
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round((options.ms ?? 30) * 1e6)),
    attributes: options.attributes ?? [],
    status: { code: options.error ? StatusCode.ERROR : StatusCode.UNSET, message: '' },
  });
}

/** One resource (service.name, deployment.variant when given) holding `spans`. */
export function serviceSpans(
  service: string,
  spans: Span[],
  variant = '',
): TraceData['resourceSpans'][number] {
  const attributes: KeyValue[] = [{ key: 'service.name', value: av.string(service) }];
  if (variant) attributes.push({ key: 'deployment.variant', value: av.string(variant) });
  return {
    resource: { attributes, droppedAttributesCount: 0 },
    scopeSpans: [
      { scope: { name: 't', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' },
    ],
    schemaUrl: '',
  };
}

/** `spans` under one resource of `service`, encoded, as a receiver hands a trace request on. */
export function spanBatch(spans: Span[], service = 'checkout'): TraceBatch {
  const data: TraceData = { resourceSpans: [serviceSpans(service, spans)] };
  const encoded = encodeTraceRequest(data);
  return { data, encoded, spanCount: spans.length, bytes: encoded.byteLength };
}

/** POSTs `data` as OTLP/HTTP protobuf to a receiver on 127.0.0.1:`port` and expects 200. */
export async function postTraces(port: number, data: TraceData): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: encodeTraceRequest(data),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}
