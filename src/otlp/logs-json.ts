/**
 * OTLP/JSON encoding of logs (the OTLP specification's JSON mapping: lowerCamelCase names, hex trace and span
 * ids, 64-bit integers as decimal strings, enums as integers, proto3 defaults left out), for the store's query API.
 */
import { anyValueToJson, keyValuesToJson, type Obj } from './json-codec.js';
import type { LogRecord, LogsData } from './logs-model.js';
import type { InstrumentationScope, Resource } from './model.js';

/** One log record as OTLP/JSON. */
export function logRecordToJson(rec: LogRecord): Obj {
  const o: Obj = {};
  if (rec.timeUnixNano) o['timeUnixNano'] = rec.timeUnixNano.toString();
  if (rec.observedTimeUnixNano) o['observedTimeUnixNano'] = rec.observedTimeUnixNano.toString();
  if (rec.severityNumber) o['severityNumber'] = rec.severityNumber;
  if (rec.severityText) o['severityText'] = rec.severityText;
  if (rec.body.kind !== 'empty') o['body'] = anyValueToJson(rec.body);
  o['attributes'] = keyValuesToJson(rec.attributes);
  if (rec.droppedAttributesCount) o['droppedAttributesCount'] = rec.droppedAttributesCount;
  if (rec.flags) o['flags'] = rec.flags;
  if (rec.traceId) o['traceId'] = rec.traceId;
  if (rec.spanId) o['spanId'] = rec.spanId;
  if (rec.eventName) o['eventName'] = rec.eventName;
  return o;
}

/** A resource as OTLP/JSON. */
export function resourceToJson(resource: Resource): Obj {
  const o: Obj = { attributes: keyValuesToJson(resource.attributes) };
  if (resource.droppedAttributesCount) o['droppedAttributesCount'] = resource.droppedAttributesCount;
  return o;
}

/** An instrumentation scope as OTLP/JSON. */
export function scopeToJson(scope: InstrumentationScope): Obj {
  const o: Obj = { name: scope.name };
  if (scope.version) o['version'] = scope.version;
  o['attributes'] = keyValuesToJson(scope.attributes);
  if (scope.droppedAttributesCount) o['droppedAttributesCount'] = scope.droppedAttributesCount;
  return o;
}

/** The logs model as a JSON-ready OTLP `ExportLogsServiceRequest` / `LogsData` object. */
export function logsDataToJson(data: LogsData): { resourceLogs: Obj[] } {
  return {
    resourceLogs: data.resourceLogs.map((rl) => {
      const out: Obj = {
        resource: resourceToJson(rl.resource),
        scopeLogs: rl.scopeLogs.map((sl) => {
          const so: Obj = { scope: scopeToJson(sl.scope), logRecords: sl.logRecords.map(logRecordToJson) };
          if (sl.schemaUrl) so['schemaUrl'] = sl.schemaUrl;
          return so;
        }),
      };
      if (rl.schemaUrl) out['schemaUrl'] = rl.schemaUrl;
      return out;
    }),
  };
}
