import type { SchemaElement } from 'hyparquet';
import type { ColumnSource } from 'hyparquet-writer';
import type {
  AnyValue,
  InstrumentationScope,
  LogRecord,
  LogsData,
  Resource,
  ResourceLogs,
} from '../otlp/index.js';
import { parseSeverity } from '../otlp/index.js';
import {
  resourceCells,
  sampleWeight,
  schemaElement,
  type Kind,
  type ResourceCells,
} from './block-columns.js';
import { cellInt64, cellString, columnSources } from './column-cells.js';
import {
  anyValueFromNode,
  decodeAttributes,
  encodeAnyValue,
  encodeAttributes,
  parseJsonNode,
} from './typed-json.js';

/**
 * The columns of a logs block (issue 16): the ClickHouse exporter's `otel_logs` (exporter/clickhouseexporter,
 * logs_table.sql and its insert), the Kubernetes, variant and weight columns the span blocks have, then the
 * columns that keep the rest of OTLP so nothing received is lost. Order here is the order in the file.
 */
export const LOGS_COLUMNS = [
  'Timestamp',
  'TimestampTime',
  'TraceId',
  'SpanId',
  'TraceFlags',
  'SeverityText',
  'SeverityNumber',
  'ServiceName',
  'Body',
  'ResourceSchemaUrl',
  'ResourceAttributes',
  'ScopeSchemaUrl',
  'ScopeName',
  'ScopeVersion',
  'ScopeAttributes',
  'LogAttributes',
  'K8sNamespaceName',
  'K8sPodName',
  'K8sNodeName',
  'K8sDeploymentName',
  'DeploymentVariant',
  'SampleWeight',
  // Lossless extras, not in otel_logs:
  'ObservedTimestamp',
  'EventName',
  'BodyValue',
  'DroppedAttributesCount',
  'ScopeDroppedAttributesCount',
  'ResourceDroppedAttributesCount',
] as const;
export type LogsColumn = (typeof LOGS_COLUMNS)[number];

const COLUMN_KINDS: Record<Exclude<LogsColumn, 'TimestampTime'>, Kind> = {
  Timestamp: 'timestamp',
  TraceId: 'string',
  SpanId: 'string',
  TraceFlags: 'int64',
  SeverityText: 'string',
  SeverityNumber: 'int64',
  ServiceName: 'string',
  Body: 'string',
  ResourceSchemaUrl: 'string',
  ResourceAttributes: 'json',
  ScopeSchemaUrl: 'string',
  ScopeName: 'string',
  ScopeVersion: 'string',
  ScopeAttributes: 'json',
  LogAttributes: 'json',
  K8sNamespaceName: 'string',
  K8sPodName: 'string',
  K8sNodeName: 'string',
  K8sDeploymentName: 'string',
  DeploymentVariant: 'string',
  SampleWeight: 'double',
  ObservedTimestamp: 'timestamp',
  EventName: 'string',
  BodyValue: 'json',
  DroppedAttributesCount: 'int64',
  ScopeDroppedAttributesCount: 'int64',
  ResourceDroppedAttributesCount: 'int64',
};

/** The Parquet schema of a logs block. */
export function logsBlockSchema(): SchemaElement[] {
  return [
    { name: 'root', num_children: LOGS_COLUMNS.length },
    ...LOGS_COLUMNS.map((c) =>
      c === 'TimestampTime'
        ? // ClickHouse's `DateTime DEFAULT toDateTime(Timestamp)`: whole seconds; Parquet has no seconds unit.
          ({
            name: c,
            repetition_type: 'REQUIRED',
            type: 'INT64',
            logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MILLIS' },
          } satisfies SchemaElement)
        : schemaElement(c, COLUMN_KINDS[c]),
    ),
  ];
}

/** Columns whose min/max engines (and the store's search) prune row groups on. */
const STATISTICS_COLUMNS = new Set<LogsColumn>(['Timestamp', 'ServiceName', 'SeverityNumber', 'TraceId']);

/** One log record with the resource and scope it was sent under: one row of a logs block. */
export interface StoredLog {
  record: LogRecord;
  resource: Resource;
  resourceSchemaUrl: string;
  scope: InstrumentationScope;
  scopeSchemaUrl: string;
}

/** Flattens decoded logs into rows (resources and scopes shared by reference). */
export function flattenLogsData(data: LogsData, out: StoredLog[] = []): StoredLog[] {
  for (const rl of data.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const record of sl.logRecords) {
        out.push({
          record,
          resource: rl.resource,
          resourceSchemaUrl: rl.schemaUrl,
          scope: sl.scope,
          scopeSchemaUrl: sl.schemaUrl,
        });
      }
    }
  }
  return out;
}

/**
 * Groups rows back into OTLP shape: consecutive rows with the same resource (by content) share a ResourceLogs,
 * and within it rows with the same scope a ScopeLogs; row order is kept.
 */
export function toLogsData(rows: readonly StoredLog[]): LogsData {
  const data: LogsData = { resourceLogs: [] };
  const resources = new Map<string, ResourceLogs>();
  const scopes = new Map<string, ResourceLogs['scopeLogs'][number]>();
  for (const row of rows) {
    const rkey = `${row.resourceSchemaUrl}\u0000${row.resource.droppedAttributesCount}\u0000${encodeAttributes(row.resource.attributes)}`;
    let rl = resources.get(rkey);
    if (!rl) {
      rl = { resource: row.resource, scopeLogs: [], schemaUrl: row.resourceSchemaUrl };
      resources.set(rkey, rl);
      data.resourceLogs.push(rl);
    }
    const sc = row.scope;
    const skey = `${rkey}\u0001${row.scopeSchemaUrl}\u0000${sc.name}\u0000${sc.version}\u0000${sc.droppedAttributesCount}\u0000${encodeAttributes(sc.attributes)}`;
    let sl = scopes.get(skey);
    if (!sl) {
      sl = { scope: sc, logRecords: [], schemaUrl: row.scopeSchemaUrl };
      scopes.set(skey, sl);
      rl.scopeLogs.push(sl);
    }
    sl.logRecords.push(row.record);
  }
  return data;
}

/** The time a row is filed under: `time_unix_nano`, else the observed time (the ClickHouse exporter's rule). */
export function logTimestamp(record: LogRecord): bigint {
  return record.timeUnixNano !== 0n ? record.timeUnixNano : record.observedTimeUnixNano;
}

/**
 * The severity a search compares: `severity_number`, else the number `severity_text` names (`WARN` is 13), else 0
 * (unspecified). Loggers bridged without a number still answer `severity=WARN`.
 */
export function logSeverity(record: LogRecord): number {
  return record.severityNumber || (record.severityText ? (parseSeverity(record.severityText) ?? 0) : 0);
}

/** The service of a row's resource (`service.name`), '' without one. */
export function logServiceName(row: StoredLog): string {
  for (const kv of row.resource.attributes)
    if (kv.key === 'service.name' && kv.value.kind === 'string') return kv.value.value;
  return '';
}

/** Orders rows as ClickHouse's `otel_logs` does: by service, then time; then trace id for a stable order. */
export function compareLogRows(a: StoredLog, b: StoredLog): number {
  const sa = logServiceName(a);
  const sb = logServiceName(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  const ta = logTimestamp(a.record);
  const tb = logTimestamp(b.record);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.record.traceId < b.record.traceId ? -1 : a.record.traceId > b.record.traceId ? 1 : 0;
}

/** A value as pdata's `Value.AsString()` gives it, which the ClickHouse exporter writes into `Body`. */
export function anyValueAsString(v: AnyValue): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'empty':
      return '';
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    default:
      return JSON.stringify(rawValue(v));
  }
}

/** pdata's `AsRaw()`: the JSON a map or slice body is rendered from. */
function rawValue(v: AnyValue): unknown {
  switch (v.kind) {
    case 'string':
    case 'bool':
    case 'double':
      return v.value;
    case 'int':
      return Number.isSafeInteger(Number(v.value)) ? Number(v.value) : v.value.toString();
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'array':
      return v.value.map(rawValue);
    case 'kvlist': {
      const o: Record<string, unknown> = {};
      for (const kv of v.value) o[kv.key] = rawValue(kv.value);
      return o;
    }
    case 'empty':
      return null;
  }
}

/** Turns sorted rows into hyparquet-writer column sources. */
export function toLogsColumnData(rows: readonly StoredLog[]): ColumnSource[] {
  const n = rows.length;
  const cols = {} as Record<LogsColumn, unknown[]>;
  for (const c of LOGS_COLUMNS) cols[c] = new Array<unknown>(n);
  const resCache = new Map<Resource, ResourceCells>();
  const scopeCache = new Map<InstrumentationScope, string>();
  for (let i = 0; i < n; i++) {
    const { record: r, resource, resourceSchemaUrl, scope, scopeSchemaUrl } = rows[i] as StoredLog;
    let rc = resCache.get(resource);
    if (!rc) resCache.set(resource, (rc = resourceCells(resource)));
    let sa = scopeCache.get(scope);
    if (sa === undefined) scopeCache.set(scope, (sa = encodeAttributes(scope.attributes)));
    const ts = logTimestamp(r);
    cols.Timestamp[i] = ts;
    cols.TimestampTime[i] = (ts / 1_000_000_000n) * 1000n;
    cols.TraceId[i] = r.traceId;
    cols.SpanId[i] = r.spanId;
    cols.TraceFlags[i] = BigInt(r.flags);
    cols.SeverityText[i] = r.severityText;
    cols.SeverityNumber[i] = BigInt(r.severityNumber);
    cols.ServiceName[i] = rc.serviceName;
    cols.Body[i] = anyValueAsString(r.body);
    cols.ResourceSchemaUrl[i] = resourceSchemaUrl;
    cols.ResourceAttributes[i] = rc.attributes;
    cols.ScopeSchemaUrl[i] = scopeSchemaUrl;
    cols.ScopeName[i] = scope.name;
    cols.ScopeVersion[i] = scope.version;
    cols.ScopeAttributes[i] = sa;
    cols.LogAttributes[i] = encodeAttributes(r.attributes);
    cols.K8sNamespaceName[i] = rc.namespace;
    cols.K8sPodName[i] = rc.pod;
    cols.K8sNodeName[i] = rc.node;
    cols.K8sDeploymentName[i] = rc.deployment;
    cols.DeploymentVariant[i] = rc.variant;
    cols.SampleWeight[i] = sampleWeight(r.attributes);
    cols.ObservedTimestamp[i] = r.observedTimeUnixNano;
    cols.EventName[i] = r.eventName;
    cols.BodyValue[i] = encodeAnyValue(r.body);
    cols.DroppedAttributesCount[i] = BigInt(r.droppedAttributesCount);
    cols.ScopeDroppedAttributesCount[i] = BigInt(scope.droppedAttributesCount);
    cols.ResourceDroppedAttributesCount[i] = BigInt(resource.droppedAttributesCount);
  }
  return columnSources(LOGS_COLUMNS, cols, STATISTICS_COLUMNS);
}

/** A logs row as hyparquet reads it (object format, nanosecond timestamps kept as bigint). */
export type LogsRow = Partial<Record<LogsColumn, unknown>>;

const str = cellString<LogsColumn>;
const big = cellInt64<LogsColumn>;

/** Decodes logs rows back to records, sharing resources and scopes between rows with the same cells. */
export class LogsRowDecoder {
  private readonly resources = new Map<string, Resource>();
  private readonly scopes = new Map<string, InstrumentationScope>();

  decode(row: LogsRow): StoredLog {
    const resAttrs = str(row, 'ResourceAttributes');
    const resDropped = Number(big(row, 'ResourceDroppedAttributesCount'));
    const rkey = `${resDropped}\u0000${resAttrs}`;
    let resource = this.resources.get(rkey);
    if (!resource) {
      resource = { attributes: decodeAttributes(resAttrs), droppedAttributesCount: resDropped };
      this.resources.set(rkey, resource);
    }
    const name = str(row, 'ScopeName');
    const version = str(row, 'ScopeVersion');
    const scopeAttrs = str(row, 'ScopeAttributes');
    const scopeDropped = Number(big(row, 'ScopeDroppedAttributesCount'));
    const skey = `${name}\u0000${version}\u0000${scopeDropped}\u0000${scopeAttrs}`;
    let scope = this.scopes.get(skey);
    if (!scope) {
      scope = {
        name,
        version,
        attributes: decodeAttributes(scopeAttrs),
        droppedAttributesCount: scopeDropped,
      };
      this.scopes.set(skey, scope);
    }
    const bodyText = str(row, 'BodyValue');
    const record: LogRecord = {
      timeUnixNano: big(row, 'Timestamp'),
      observedTimeUnixNano: big(row, 'ObservedTimestamp'),
      severityNumber: Number(big(row, 'SeverityNumber')),
      severityText: str(row, 'SeverityText'),
      body: bodyText
        ? anyValueFromNode(parseJsonNode(bodyText))
        : { kind: 'string', value: str(row, 'Body') },
      attributes: decodeAttributes(str(row, 'LogAttributes') || '{}'),
      droppedAttributesCount: Number(big(row, 'DroppedAttributesCount')),
      flags: Number(big(row, 'TraceFlags')),
      traceId: str(row, 'TraceId'),
      spanId: str(row, 'SpanId'),
      eventName: str(row, 'EventName'),
    };
    return {
      record,
      resource,
      resourceSchemaUrl: str(row, 'ResourceSchemaUrl'),
      scope,
      scopeSchemaUrl: str(row, 'ScopeSchemaUrl'),
    };
  }
}
