import type { SchemaElement } from 'hyparquet';
import type { ColumnSource } from 'hyparquet-writer';
import type { InstrumentationScope, KeyValue, Resource, Span, SpanEvent, SpanLink } from '../otlp/index.js';
import {
  DEPLOYMENT_VARIANT_ATTRIBUTE,
  findAttribute,
  SAMPLING_WEIGHT_ATTRIBUTE,
  stringAttribute,
} from '../otlp/index.js';
import type { StoredSpan } from './stored-span.js';
import { cellInt64, cellString, columnSources } from './column-cells.js';
import {
  attributesFromNode,
  decodeAttributes,
  encodeAttributes,
  parseJsonNode,
  type JsonNode,
} from './typed-json.js';

/**
 * The columns of a block (CONTRACT.md "Stored columns", after the ClickHouse exporter's `otel_traces`), then the
 * columns that keep the rest of OTLP so nothing received is lost (flags, dropped counts, scope attributes,
 * schema URLs). Order here is the order in the file.
 */
export const BLOCK_COLUMNS = [
  'Timestamp',
  'TraceId',
  'SpanId',
  'ParentSpanId',
  'TraceState',
  'SpanName',
  'SpanKind',
  'ServiceName',
  'ResourceAttributes',
  'ScopeName',
  'ScopeVersion',
  'SpanAttributes',
  'Duration',
  'StatusCode',
  'StatusMessage',
  'Events',
  'Links',
  'K8sNamespaceName',
  'K8sPodName',
  'K8sNodeName',
  'K8sDeploymentName',
  'DeploymentVariant',
  'ServiceVersion',
  'SampleWeight',
  // Lossless extras, not in otel_traces:
  'TraceFlags',
  'DroppedAttributesCount',
  'DroppedEventsCount',
  'DroppedLinksCount',
  'ScopeAttributes',
  'ScopeDroppedAttributesCount',
  'ScopeSchemaUrl',
  'ResourceDroppedAttributesCount',
  'ResourceSchemaUrl',
] as const;
export type BlockColumn = (typeof BLOCK_COLUMNS)[number];

/** How a column is stored (the logs columns share these, src/storage/logs-columns.ts). */
export type Kind = 'string' | 'json' | 'int64' | 'double' | 'timestamp';

const COLUMN_KINDS: Record<BlockColumn, Kind> = {
  Timestamp: 'timestamp',
  TraceId: 'string',
  SpanId: 'string',
  ParentSpanId: 'string',
  TraceState: 'string',
  SpanName: 'string',
  SpanKind: 'string',
  ServiceName: 'string',
  ResourceAttributes: 'json',
  ScopeName: 'string',
  ScopeVersion: 'string',
  SpanAttributes: 'json',
  Duration: 'int64',
  StatusCode: 'string',
  StatusMessage: 'string',
  Events: 'json',
  Links: 'json',
  K8sNamespaceName: 'string',
  K8sPodName: 'string',
  K8sNodeName: 'string',
  K8sDeploymentName: 'string',
  DeploymentVariant: 'string',
  ServiceVersion: 'string',
  SampleWeight: 'double',
  TraceFlags: 'int64',
  DroppedAttributesCount: 'int64',
  DroppedEventsCount: 'int64',
  DroppedLinksCount: 'int64',
  ScopeAttributes: 'json',
  ScopeDroppedAttributesCount: 'int64',
  ScopeSchemaUrl: 'string',
  ResourceDroppedAttributesCount: 'int64',
  ResourceSchemaUrl: 'string',
};

/** The Parquet schema element of a column of `kind`. */
export function schemaElement(name: string, kind: Kind): SchemaElement {
  const required = { name, repetition_type: 'REQUIRED' } as const;
  switch (kind) {
    case 'string':
      return { ...required, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'json':
      // Plain UTF-8 strings holding JSON text. Not the JSON logical type: hyparquet-writer would
      // JSON.stringify the (already JSON) text a second time, and DuckDB reads a bare JSON logical type
      // as BLOB. As VARCHAR / String, DuckDB's `->>` and ClickHouse's JSONExtract* read it directly.
      return { ...required, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'int64':
      return { ...required, type: 'INT64' };
    case 'double':
      return { ...required, type: 'DOUBLE' };
    case 'timestamp':
      // TIMESTAMP(NANOS) of UTC wall time. Not flagged isAdjustedToUTC: DuckDB would then read it as
      // TIMESTAMPTZ, which holds microseconds; this way it is TIMESTAMP_NS, and ClickHouse DateTime64(9).
      return {
        ...required,
        type: 'INT64',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'NANOS' },
      };
  }
}

/** The Parquet schema of a block. */
export function blockSchema(): SchemaElement[] {
  return [
    { name: 'root', num_children: BLOCK_COLUMNS.length },
    ...BLOCK_COLUMNS.map((c) => schemaElement(c, COLUMN_KINDS[c])),
  ];
}

const STATISTICS_COLUMNS = new Set<BlockColumn>([
  'Timestamp',
  'TraceId',
  'ServiceName',
  'SpanName',
  'Duration',
  'StatusCode',
  'DeploymentVariant',
]);

/** ClickHouse `otel_traces` spells kinds and status codes as pdata's names. */
const SPAN_KIND_NAMES = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
const STATUS_CODE_NAMES = ['Unset', 'Ok', 'Error'];

/** `SpanKind` column value for an OTLP kind number; unknown numbers are kept as their digits. */
export function spanKindName(kind: number): string {
  return SPAN_KIND_NAMES[kind] ?? String(kind);
}
export function statusCodeName(code: number): string {
  return STATUS_CODE_NAMES[code] ?? String(code);
}
function nameToNumber(names: string[], value: string): number {
  const i = names.indexOf(value);
  return i >= 0 ? i : Number(value);
}

/** `sampling.weight` (CONTRACT.md): the inverse keep probability, 1 when absent or not a positive number. */
export function sampleWeight(attributes: readonly KeyValue[]): number {
  const v = findAttribute(attributes, SAMPLING_WEIGHT_ATTRIBUTE);
  const n = v?.kind === 'double' ? v.value : v?.kind === 'int' ? Number(v.value) : NaN;
  return Number.isFinite(n) && n > 0 ? n : 1;
}

function encodeEvents(events: readonly SpanEvent[]): string {
  if (events.length === 0) return '[]';
  return (
    '[' +
    events
      .map(
        (e) =>
          `{"Timestamp":${e.timeUnixNano},"Name":${JSON.stringify(e.name)},"Attributes":${encodeAttributes(
            e.attributes,
          )},"DroppedAttributesCount":${e.droppedAttributesCount}}`,
      )
      .join(',') +
    ']'
  );
}

function encodeLinks(links: readonly SpanLink[]): string {
  if (links.length === 0) return '[]';
  return (
    '[' +
    links
      .map(
        (l) =>
          `{"TraceId":${JSON.stringify(l.traceId)},"SpanId":${JSON.stringify(l.spanId)},"TraceState":${JSON.stringify(
            l.traceState,
          )},"Attributes":${encodeAttributes(l.attributes)},"DroppedAttributesCount":${
            l.droppedAttributesCount
          },"Flags":${l.flags}}`,
      )
      .join(',') +
    ']'
  );
}

/** Per-resource values computed once per resource object, not per span (or log record). */
export interface ResourceCells {
  attributes: string;
  serviceName: string;
  namespace: string;
  pod: string;
  node: string;
  deployment: string;
  variant: string;
  serviceVersion: string;
}

/** The resource's cells: its typed-JSON attributes, service, Kubernetes identity and variant. */
export function resourceCells(resource: Resource): ResourceCells {
  const a = resource.attributes;
  return {
    attributes: encodeAttributes(a),
    serviceName: stringAttribute(a, 'service.name') ?? '',
    namespace: stringAttribute(a, 'k8s.namespace.name') ?? '',
    pod: stringAttribute(a, 'k8s.pod.name') ?? '',
    node: stringAttribute(a, 'k8s.node.name') ?? '',
    deployment: stringAttribute(a, 'k8s.deployment.name') ?? '',
    variant: stringAttribute(a, DEPLOYMENT_VARIANT_ATTRIBUTE) ?? '',
    serviceVersion: stringAttribute(a, 'service.version') ?? '',
  };
}

/** Orders rows as a block stores them: by trace id, then start time, then span id (for a stable order). */
export function compareRows(a: StoredSpan, b: StoredSpan): number {
  const x = a.span;
  const y = b.span;
  if (x.traceId !== y.traceId) return x.traceId < y.traceId ? -1 : 1;
  if (x.startTimeUnixNano !== y.startTimeUnixNano) return x.startTimeUnixNano < y.startTimeUnixNano ? -1 : 1;
  return x.spanId < y.spanId ? -1 : x.spanId > y.spanId ? 1 : 0;
}

/** Turns sorted rows into hyparquet-writer column sources (one array per column). */
export function toColumnData(rows: readonly StoredSpan[]): ColumnSource[] {
  const n = rows.length;
  const cols = {} as Record<BlockColumn, unknown[]>;
  for (const c of BLOCK_COLUMNS) cols[c] = new Array<unknown>(n);
  const resCache = new Map<Resource, ResourceCells>();
  const scopeCache = new Map<InstrumentationScope, string>();
  for (let i = 0; i < n; i++) {
    const { span, resource, resourceSchemaUrl, scope, scopeSchemaUrl } = rows[i] as StoredSpan;
    let rc = resCache.get(resource);
    if (!rc) resCache.set(resource, (rc = resourceCells(resource)));
    let sa = scopeCache.get(scope);
    if (sa === undefined) scopeCache.set(scope, (sa = encodeAttributes(scope.attributes)));
    cols.Timestamp[i] = span.startTimeUnixNano;
    cols.TraceId[i] = span.traceId;
    cols.SpanId[i] = span.spanId;
    cols.ParentSpanId[i] = span.parentSpanId;
    cols.TraceState[i] = span.traceState;
    cols.SpanName[i] = span.name;
    cols.SpanKind[i] = spanKindName(span.kind);
    cols.ServiceName[i] = rc.serviceName;
    cols.ResourceAttributes[i] = rc.attributes;
    cols.ScopeName[i] = scope.name;
    cols.ScopeVersion[i] = scope.version;
    cols.SpanAttributes[i] = encodeAttributes(span.attributes);
    // end - start as sent (negative only for a malformed span), so the end time is recoverable exactly.
    cols.Duration[i] = span.endTimeUnixNano - span.startTimeUnixNano;
    cols.StatusCode[i] = statusCodeName(span.status.code);
    cols.StatusMessage[i] = span.status.message;
    cols.Events[i] = encodeEvents(span.events);
    cols.Links[i] = encodeLinks(span.links);
    cols.K8sNamespaceName[i] = rc.namespace;
    cols.K8sPodName[i] = rc.pod;
    cols.K8sNodeName[i] = rc.node;
    cols.K8sDeploymentName[i] = rc.deployment;
    cols.DeploymentVariant[i] = rc.variant;
    cols.ServiceVersion[i] = rc.serviceVersion;
    cols.SampleWeight[i] = sampleWeight(span.attributes);
    cols.TraceFlags[i] = BigInt(span.flags);
    cols.DroppedAttributesCount[i] = BigInt(span.droppedAttributesCount);
    cols.DroppedEventsCount[i] = BigInt(span.droppedEventsCount);
    cols.DroppedLinksCount[i] = BigInt(span.droppedLinksCount);
    cols.ScopeAttributes[i] = sa;
    cols.ScopeDroppedAttributesCount[i] = BigInt(scope.droppedAttributesCount);
    cols.ScopeSchemaUrl[i] = scopeSchemaUrl;
    cols.ResourceDroppedAttributesCount[i] = BigInt(resource.droppedAttributesCount);
    cols.ResourceSchemaUrl[i] = resourceSchemaUrl;
  }
  return columnSources(BLOCK_COLUMNS, cols, STATISTICS_COLUMNS);
}

/** A row as hyparquet reads it (object format, TIMESTAMP kept as bigint nanoseconds). */
export type BlockRow = Partial<Record<BlockColumn, unknown>>;

const str = cellString<BlockColumn>;
const big = cellInt64<BlockColumn>;
function num(row: BlockRow, c: BlockColumn): number {
  return Number(big(row, c));
}

function field(node: JsonNode, name: string): JsonNode | undefined {
  if (node.t !== 'obj') return undefined;
  for (const [k, v] of node.v) if (k === name) return v;
  return undefined;
}
function fieldStr(node: JsonNode, name: string): string {
  const v = field(node, name);
  return v?.t === 'str' ? v.v : '';
}
function fieldInt(node: JsonNode, name: string): bigint {
  const v = field(node, name);
  return v?.t === 'int' ? v.v : 0n;
}
function fieldAttrs(node: JsonNode, name: string): KeyValue[] {
  const v = field(node, name);
  return v ? attributesFromNode(v) : [];
}

function decodeEvents(text: string): SpanEvent[] {
  const node = parseJsonNode(text);
  if (node.t !== 'arr') throw new SyntaxError('Events: expected a JSON array');
  return node.v.map((e) => ({
    timeUnixNano: fieldInt(e, 'Timestamp'),
    name: fieldStr(e, 'Name'),
    attributes: fieldAttrs(e, 'Attributes'),
    droppedAttributesCount: Number(fieldInt(e, 'DroppedAttributesCount')),
  }));
}

function decodeLinks(text: string): SpanLink[] {
  const node = parseJsonNode(text);
  if (node.t !== 'arr') throw new SyntaxError('Links: expected a JSON array');
  return node.v.map((l) => ({
    traceId: fieldStr(l, 'TraceId'),
    spanId: fieldStr(l, 'SpanId'),
    traceState: fieldStr(l, 'TraceState'),
    attributes: fieldAttrs(l, 'Attributes'),
    droppedAttributesCount: Number(fieldInt(l, 'DroppedAttributesCount')),
    flags: Number(fieldInt(l, 'Flags')),
  }));
}

/** Decoders share resources and scopes between rows with the same cells, as the writer shared them. */
export class RowDecoder {
  private readonly resources = new Map<string, Resource>();
  private readonly scopes = new Map<string, InstrumentationScope>();

  decode(row: BlockRow): StoredSpan {
    const start = big(row, 'Timestamp');
    const resAttrs = str(row, 'ResourceAttributes');
    const resDropped = num(row, 'ResourceDroppedAttributesCount');
    const rkey = `${resDropped}\u0000${resAttrs}`;
    let resource = this.resources.get(rkey);
    if (!resource) {
      resource = { attributes: decodeAttributes(resAttrs), droppedAttributesCount: resDropped };
      this.resources.set(rkey, resource);
    }
    const scopeName = str(row, 'ScopeName');
    const scopeVersion = str(row, 'ScopeVersion');
    const scopeAttrs = str(row, 'ScopeAttributes');
    const scopeDropped = num(row, 'ScopeDroppedAttributesCount');
    const skey = `${scopeName}\u0000${scopeVersion}\u0000${scopeDropped}\u0000${scopeAttrs}`;
    let scope = this.scopes.get(skey);
    if (!scope) {
      scope = {
        name: scopeName,
        version: scopeVersion,
        attributes: decodeAttributes(scopeAttrs),
        droppedAttributesCount: scopeDropped,
      };
      this.scopes.set(skey, scope);
    }
    const span: Span = {
      traceId: str(row, 'TraceId'),
      spanId: str(row, 'SpanId'),
      traceState: str(row, 'TraceState'),
      parentSpanId: str(row, 'ParentSpanId'),
      flags: num(row, 'TraceFlags'),
      name: str(row, 'SpanName'),
      kind: nameToNumber(SPAN_KIND_NAMES, str(row, 'SpanKind')),
      startTimeUnixNano: start,
      endTimeUnixNano: start + big(row, 'Duration'),
      attributes: decodeAttributes(str(row, 'SpanAttributes')),
      droppedAttributesCount: num(row, 'DroppedAttributesCount'),
      events: decodeEvents(str(row, 'Events') || '[]'),
      droppedEventsCount: num(row, 'DroppedEventsCount'),
      links: decodeLinks(str(row, 'Links') || '[]'),
      droppedLinksCount: num(row, 'DroppedLinksCount'),
      status: {
        code: nameToNumber(STATUS_CODE_NAMES, str(row, 'StatusCode')),
        message: str(row, 'StatusMessage'),
      },
    };
    return {
      span,
      resource,
      resourceSchemaUrl: str(row, 'ResourceSchemaUrl'),
      scope,
      scopeSchemaUrl: str(row, 'ScopeSchemaUrl'),
    };
  }
}
