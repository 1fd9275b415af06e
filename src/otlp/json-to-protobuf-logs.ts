/**
 * OTLP/JSON `ExportLogsServiceRequest` to protobuf, at the receivers' door (issue 16), as
 * `transcodeTraceRequestJson` does for spans. Fields are written in the order, and with the defaults left out
 * where, the OpenTelemetry JS SDK's protobuf log serializer leaves them out (severity_number 0, empty
 * severity_text, flags 0, empty event_name), so that the SDK's JSON leaves as the bytes its protobuf
 * exporter writes. Field numbers: opentelemetry-proto logs/v1/logs.proto.
 */
import { field, uint, type Obj } from './json-codec.js';
import {
  present,
  transcodeRequestJson,
  writeAnyValue,
  writeFixed32,
  writeFixed64,
  writeId,
  writeKeyValues,
  writeString,
  writeUint,
} from './json-to-protobuf.js';
import type { ProtobufWriter } from './protobuf-encode.js';
import { WireType } from './protobuf-reader.js';

/** SeverityNumber names (logs.proto), accepted besides the integers OTLP/JSON uses. */
const SEVERITY_NAMES: Record<string, number> = Object.fromEntries(
  ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((level, i) =>
    ['', '2', '3', '4'].map((n, j) => [`SEVERITY_NUMBER_${level}${n}`, i * 4 + j + 1]),
  ),
);
SEVERITY_NAMES['SEVERITY_NUMBER_UNSPECIFIED'] = 0;

function writeLogRecord(w: ProtobufWriter, o: Obj, path: string): void {
  writeFixed64(w, 1, field(o, 'timeUnixNano', 'time_unix_nano'), path + '.timeUnixNano');
  const severity = field(o, 'severityNumber', 'severity_number');
  if (present(severity)) {
    const n =
      typeof severity === 'string' && severity in SEVERITY_NAMES
        ? (SEVERITY_NAMES[severity] as number)
        : uint(severity, path + '.severityNumber');
    if (n !== 0) {
      w.tag(2, WireType.VARINT);
      w.varint(n);
    }
  }
  const text = field(o, 'severityText', 'severity_text');
  if (text !== '') writeString(w, 3, text, path + '.severityText');
  const body = o['body'];
  if (present(body)) {
    const t = w.begin(5);
    writeAnyValue(w, body, path + '.body', 0);
    w.end(t);
  }
  writeKeyValues(w, 6, o['attributes'], path + '.attributes');
  writeUint(
    w,
    7,
    field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
    path + '.droppedAttributesCount',
  );
  const flags = o['flags'];
  if (present(flags) && uint(flags, path + '.flags') !== 0) writeFixed32(w, 8, flags, path + '.flags');
  const traceId = field(o, 'traceId', 'trace_id');
  if (traceId !== '') writeId(w, 9, traceId, 16, path + '.traceId');
  const spanId = field(o, 'spanId', 'span_id');
  if (spanId !== '') writeId(w, 10, spanId, 8, path + '.spanId');
  writeFixed64(
    w,
    11,
    field(o, 'observedTimeUnixNano', 'observed_time_unix_nano'),
    path + '.observedTimeUnixNano',
  );
  const eventName = field(o, 'eventName', 'event_name');
  if (eventName !== '') writeString(w, 12, eventName, path + '.eventName');
}

/** Converts an OTLP/JSON `ExportLogsServiceRequest` to its protobuf encoding. */
export function transcodeLogsRequestJson(input: string | Uint8Array): Buffer {
  return transcodeRequestJson(
    input,
    {
      resource: ['resourceLogs', 'resource_logs'],
      scope: ['scopeLogs', 'scope_logs'],
      items: ['logRecords', 'log_records'],
    },
    writeLogRecord,
  );
}
