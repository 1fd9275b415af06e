/**
 * Decoder for `ExportLogsServiceRequest` in the protobuf encoding, written from the field numbers of
 * opentelemetry-proto (collector/logs/v1/logs_service.proto, logs/v1/logs.proto), in the style of
 * protobuf-decode.ts and sharing its resource, scope and attribute readers: unknown fields are skipped (proto3);
 * a known field with the wrong wire type or a truncated message is SENTINEL_ERR_OTLP_DECODE naming the field path
 * and byte offset; an id of the wrong length is SENTINEL_ERR_OTLP_INVALID.
 */
import type { LogRecord, LogsData, ResourceLogs, ScopeLogs } from './logs-model.js';
import {
  decodeAnyValue,
  decodeGroup,
  decodeKeyValueField,
  decodeResource,
  decodeScope,
  emptyResourceValue,
  emptyScopeValue,
  expect,
  id,
} from './protobuf-decode.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';

const { VARINT, I64, LEN, I32 } = WireType;

/** Decodes protobuf `ExportLogsServiceRequest` bytes into the logs model. */
export function decodeLogsRequest(bytes: Uint8Array): LogsData {
  const r = new ProtobufReader(bytes);
  const resourceLogs: ResourceLogs[] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    if (tag >>> 3 === 1) {
      expect(r, wt, LEN, 'resource_logs');
      const saved = r.enter();
      r.path = 'resource_logs';
      resourceLogs.push(decodeResourceLogs(r));
      r.leave(saved);
      r.path = '';
    } else r.skip(wt);
  }
  return { resourceLogs };
}

function decodeResourceLogs(r: ProtobufReader): ResourceLogs {
  const g = decodeGroup(
    r,
    { value: emptyResourceValue(), field: 'resource', decode: decodeResource },
    { field: 'scope_logs', path: true, decode: decodeScopeLogs },
  );
  return { resource: g.header, scopeLogs: g.items, schemaUrl: g.schemaUrl };
}

function decodeScopeLogs(r: ProtobufReader): ScopeLogs {
  const g = decodeGroup(
    r,
    { value: emptyScopeValue(), field: 'scope', decode: decodeScope },
    { field: 'log_records', path: true, decode: decodeLogRecord },
  );
  return { scope: g.header, logRecords: g.items, schemaUrl: g.schemaUrl };
}

function decodeLogRecord(r: ProtobufReader): LogRecord {
  const rec: LogRecord = {
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    severityNumber: 0,
    severityText: '',
    body: { kind: 'empty' },
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
  };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, I64, 'log_record.time_unix_nano');
        rec.timeUnixNano = r.fixed64();
        break;
      case 2:
        expect(r, wt, VARINT, 'log_record.severity_number');
        rec.severityNumber = r.uint32();
        break;
      case 3:
        expect(r, wt, LEN, 'log_record.severity_text');
        rec.severityText = r.string();
        break;
      case 5: {
        expect(r, wt, LEN, 'log_record.body');
        const saved = r.enter();
        rec.body = decodeAnyValue(r, 0);
        r.leave(saved);
        break;
      }
      case 6:
        expect(r, wt, LEN, 'log_record.attributes');
        rec.attributes.push(decodeKeyValueField(r));
        break;
      case 7:
        expect(r, wt, VARINT, 'log_record.dropped_attributes_count');
        rec.droppedAttributesCount = r.uint32();
        break;
      case 8:
        expect(r, wt, I32, 'log_record.flags');
        rec.flags = r.fixed32();
        break;
      case 9:
        expect(r, wt, LEN, 'log_record.trace_id');
        rec.traceId = id(r, 16, 'log_record.trace_id');
        break;
      case 10:
        expect(r, wt, LEN, 'log_record.span_id');
        rec.spanId = id(r, 8, 'log_record.span_id');
        break;
      case 11:
        expect(r, wt, I64, 'log_record.observed_time_unix_nano');
        rec.observedTimeUnixNano = r.fixed64();
        break;
      case 12:
        expect(r, wt, LEN, 'log_record.event_name');
        rec.eventName = r.string();
        break;
      default:
        r.skip(wt);
    }
  }
  return rec;
}
