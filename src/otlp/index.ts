export type { TraceBatch, TraceConsumer } from './consumer.js';
export { TRACE_EXPORT_METHOD, traceServiceDefinition } from './grpc-service.js';
export { bytesToHex, hexToBytes, isHex, isZeroId } from './hex.js';
export {
  anyValueToJson,
  decodeTraceRequestJson,
  encodeTraceRequestJson,
  encodeTraceResponseJson,
  keyValuesToJson,
  spanToJson,
  traceDataToJson,
} from './json-codec.js';
export {
  SpanKind,
  StatusCode,
  av,
  countSpans,
  emptyResource,
  emptyScope,
  findAttribute,
  spanDurationNanos,
  stringAttribute,
} from './model.js';
export type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanKindValue,
  SpanLink,
  Status,
  StatusCodeValue,
  TraceData,
} from './model.js';
export { countSpansInRequest, decodeTraceRequest } from './protobuf-decode.js';
export { ProtobufWriter, encodeTraceRequest, encodeTraceResponse } from './protobuf-encode.js';
export { MAX_SPAN_TIME_UNIX_NANO, rejectInvalidSpans, spanProblem, spanTimeProblem } from './validate.js';
export type { Rejection, SpanTimeProblem } from './validate.js';
