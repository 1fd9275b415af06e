export type { Signal, SignalBatch, SignalPartial, TraceBatch, TraceConsumer } from './consumer.js';
export { copyBytes, dataViewOf } from './byte-copy.js';
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
export { transcodeTraceRequestJson } from './json-to-protobuf.js';
export { countLogRecords, parseSeverity, SEVERITY_RANGES } from './logs-model.js';
export type { LogRecord, LogsData, ResourceLogs, ScopeLogs } from './logs-model.js';
export { decodeLogsRequest } from './logs-decode.js';
export { keepValidLogs, logProblem, logTimesProblem, scanLogTimes } from './logs-validate.js';
export type { LogProblem, LogRejection } from './logs-validate.js';
export { logRecordToJson, logsDataToJson, resourceToJson, scopeToJson } from './logs-json.js';
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
export {
  describeRejections,
  MAX_SPAN_TIME_UNIX_NANO,
  rejectInvalidSpans,
  spanProblem,
  spanTimeProblem,
} from './validate.js';
export type { Rejection, SpanTimeProblem } from './validate.js';
export {
  assembleWireSpans,
  encodedBatch,
  WIRE_INDEX_BYTES_PER_SPAN,
  wireBatch,
  wireSpansBytes,
} from './wire-batch.js';
export {
  attributeKeys,
  encodeAttribute,
  encodeAttributeFields,
  keyValueKeyEquals,
  readSpanFields,
  RequestAssembler,
  rewriteMessage,
} from './wire-encode.js';
export type { SpanFields } from './wire-encode.js';
export {
  bytesEqual,
  internResource,
  internScope,
  MARK_COMPLETED,
  MARK_TRACE_STATE,
  MARK_WEIGHT,
  scanTraceRequest,
  SPAN_COLUMN_BYTES,
  spanColumnsIn,
  WireResource,
  WireScope,
  WireSpans,
} from './wire-scan.js';
export type { ScannedRequest, SpanColumns } from './wire-scan.js';
export {
  DEPLOYMENT_VARIANT_ATTRIBUTE,
  SAMPLING_COMPLETED_ATTRIBUTE,
  SAMPLING_WEIGHT_ATTRIBUTE,
} from './sentinel-attributes.js';
export { ProtobufReader, WireType } from './protobuf-reader.js';
export {
  LOG_RECORD_ATTRIBUTES_FIELD,
  readLogBody,
  readLogText,
  scanLogsRequest,
  SEVERITY_NUMBERS,
  severityFromText,
  WIRE_INDEX_BYTES_PER_LOG,
  WireLogs,
  wireLogsBytes,
} from './wire-logs.js';
export { addKeptLog, addKeptLogRecord, logWeightSuffix, readLogAttributes } from './wire-logs-encode.js';
export { transcodeLogsRequestJson } from './json-to-protobuf-logs.js';
export { transcodeMetricsRequestJson } from './json-to-protobuf-metrics.js';
export {
  encodeSignalResponseJson,
  EXPORT_METHODS,
  HTTP_PATHS,
  SIGNAL_ITEMS,
  TRACE_EXPORT_METHOD,
} from './signal-service.js';
export { scanSignalRequest, splitSignalRequest } from './wire-signal-scan.js';
export type { ScannedSignalRequest } from './wire-signal-scan.js';
export { forwardSignals } from './signal-forward.js';
export type { SignalMethods } from './signal-forward.js';
