import { encodeTraceRequest, traceDataToJson, type TraceData } from '../otlp/index.js';

/** Which trace-by-id API answers (Tempo's v1 `/api/traces/{id}` or v2 `/api/v2/traces/{id}`) and its Accept header. */
export interface TraceFormat {
  readonly version: 1 | 2;
  readonly accept: string | undefined;
}

/**
 * A trace as Tempo writes it (grafana/tempo pkg/api/http.go, pkg/tempopb/tempo.proto):
 * - Accept containing `application/protobuf`: v1 is `tempopb.Trace` (`repeated ResourceSpans resourceSpans = 1`,
 *   the same bytes as OTLP's ExportTraceServiceRequest); v2 is `tempopb.TraceByIDResponse` with that Trace as
 *   field 1 (`trace = 1`; `status = 3` left at COMPLETE, the default, so not written).
 * - otherwise JSON: v1 `{"batches": [ResourceSpans...]}`, v2 `{"trace": {"resourceSpans": [...]}}`, spans in OTLP/JSON.
 */
export function encodeTrace(
  data: TraceData,
  as: TraceFormat,
): { contentType: string; body: string | Uint8Array } {
  if (as.accept?.includes('application/protobuf')) {
    const trace = encodeTraceRequest(data);
    if (as.version === 1) return { contentType: 'application/protobuf', body: trace };
    return {
      contentType: 'application/protobuf',
      body: Buffer.concat([lengthDelimitedTag(1, trace.byteLength), trace]),
    };
  }
  const resourceSpans = traceDataToJson(data).resourceSpans;
  const body = as.version === 1 ? { batches: resourceSpans } : { trace: { resourceSpans } };
  return { contentType: 'application/json', body: JSON.stringify(body) };
}

/** A protobuf key for a length-delimited field (wire type 2) and the varint length that follows it. */
function lengthDelimitedTag(field: number, length: number): Uint8Array {
  const out = [(field << 3) | 2];
  let n = length;
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}
