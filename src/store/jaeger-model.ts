/**
 * Stored OTLP spans in the Jaeger UI's JSON model (jaegertracing/jaeger `internal/uimodel/model.go`), mapped as
 * Jaeger maps OTLP: the Collector's `pkg/translator/jaeger` (traces_to_jaegerproto.go) to its domain model, then
 * `internal/uimodel/converter/v1/json/from_domain.go` to the UI's. Times in microseconds.
 */
import type { AnyValue, InstrumentationScope, KeyValue, Resource, Span } from '../otlp/index.js';
import type { StoredSpan } from '../storage/index.js';

export type JaegerValueType = 'string' | 'bool' | 'int64' | 'float64' | 'binary';

export interface JaegerKeyValue {
  key: string;
  type: JaegerValueType;
  value: string | boolean | number;
}

export interface JaegerReference {
  refType: 'CHILD_OF' | 'FOLLOWS_FROM';
  traceID: string;
  spanID: string;
}

export interface JaegerLog {
  /** Microseconds since the epoch. */
  timestamp: number;
  fields: JaegerKeyValue[];
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: JaegerReference[];
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags: JaegerKeyValue[];
  logs: JaegerLog[];
  processID: string;
  warnings: string[] | null;
}

export interface JaegerProcess {
  serviceName: string;
  tags: JaegerKeyValue[];
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, JaegerProcess>;
  warnings: string[] | null;
}

/** The classic API's envelope (`structuredResponse` in Jaeger's http_handler.go). */
export interface JaegerResponse<T> {
  data: T;
  total: number;
  limit: number;
  offset: number;
  errors: { code?: number; msg: string; traceID?: string }[] | null;
}

/** The Collector's name for a resource without `service.name` (`tracetranslator.ResourceNoServiceName`). */
export const NO_SERVICE_NAME = 'OTLP_ResourceNoServiceName';

const SPAN_KIND_TAGS = ['', 'internal', 'server', 'client', 'producer', 'consumer'];
const JS_MAX_SAFE = 2n ** 53n - 1n;

/**
 * A trace id as Jaeger prints it (`model.TraceID.String()`): 16 hex digits when the high half is zero, else 32.
 */
export function jaegerTraceId(hex: string): string {
  return hex.length === 32 && hex.startsWith('0000000000000000') ? hex.slice(16) : hex;
}

/** Jaeger's operation kind spelling (lower case, '' for unspecified) from the block's `SpanKind` column. */
export function jaegerSpanKind(columnKind: string): string {
  return columnKind === 'Unspecified' ? '' : columnKind.toLowerCase();
}

/** The string form of an attribute value, as pdata's `Value.AsString()` writes it. */
export function attributeString(v: AnyValue): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'bool':
      return String(v.value);
    case 'int':
      return v.value.toString();
    case 'double':
      return formatDouble(v.value);
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'array':
    case 'kvlist':
      return rawJson(v);
    case 'empty':
      return '';
  }
}

function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** JSON of a value's raw form (pdata `AsRaw` through encoding/json), 64-bit integers exact. */
function rawJson(v: AnyValue): string {
  switch (v.kind) {
    case 'string':
      return JSON.stringify(v.value);
    case 'bool':
      return String(v.value);
    case 'int':
      return v.value.toString();
    case 'double':
      return Number.isFinite(v.value) ? String(v.value) : 'null';
    case 'bytes':
      return JSON.stringify(Buffer.from(v.value).toString('base64'));
    case 'array':
      return `[${v.value.map(rawJson).join(',')}]`;
    case 'kvlist': {
      // encoding/json writes map keys sorted.
      const entries = [...v.value].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return `{${entries.map((kv) => `${JSON.stringify(kv.key)}:${rawJson(kv.value)}`).join(',')}}`;
    }
    case 'empty':
      return 'null';
  }
}

/** One attribute as a Jaeger tag: the type mapping of `attributeToJaegerProtoTag`, the values of `convertKeyValues`. */
export function toJaegerTag(kv: KeyValue): JaegerKeyValue {
  const v = kv.value;
  switch (v.kind) {
    case 'string':
      return { key: kv.key, type: 'string', value: v.value };
    case 'bool':
      return { key: kv.key, type: 'bool', value: v.value };
    case 'int':
      // Beyond 2^53 the UI gets the digits as a string rather than a rounded number.
      return {
        key: kv.key,
        type: 'int64',
        value: v.value > JS_MAX_SAFE || v.value < -JS_MAX_SAFE ? v.value.toString() : Number(v.value),
      };
    case 'double':
      return { key: kv.key, type: 'float64', value: v.value };
    case 'bytes':
      return { key: kv.key, type: 'binary', value: Buffer.from(v.value).toString('base64') };
    default:
      return { key: kv.key, type: 'string', value: attributeString(v) };
  }
}

const str = (key: string, value: string): JaegerKeyValue => ({ key, type: 'string', value });
const micros = (ns: bigint): number => Number(ns / 1000n);

/** The tags of a span, in the translator's order: scope, attributes, kind, status, trace state. */
function spanTags(span: Span, scope: InstrumentationScope): JaegerKeyValue[] {
  const tags: JaegerKeyValue[] = [];
  if (scope.name) tags.push(str('otel.scope.name', scope.name));
  if (scope.version) tags.push(str('otel.scope.version', scope.version));
  for (const kv of span.attributes) tags.push(toJaegerTag(kv));
  const kind = SPAN_KIND_TAGS[span.kind];
  if (kind) tags.push(str('span.kind', kind));
  if (span.status.code === 2) {
    tags.push(str('otel.status_code', 'ERROR'));
    tags.push({ key: 'error', type: 'bool', value: true });
  } else if (span.status.code === 1) {
    tags.push(str('otel.status_code', 'OK'));
  }
  if (span.status.message) tags.push(str('otel.status_description', span.status.message));
  if (span.traceState) tags.push(str('w3c.tracestate', span.traceState));
  return tags;
}

function references(span: Span): JaegerReference[] {
  const refs: JaegerReference[] = [];
  // The parent first: backends look for it as the first CHILD_OF.
  if (span.parentSpanId) {
    refs.push({ refType: 'CHILD_OF', traceID: jaegerTraceId(span.traceId), spanID: span.parentSpanId });
  }
  for (const link of span.links) {
    refs.push({ refType: 'FOLLOWS_FROM', traceID: jaegerTraceId(link.traceId), spanID: link.spanId });
  }
  return refs;
}

/** The process of a resource: `service.name`, and the other attributes as tags. */
export function toJaegerProcess(resource: Resource): JaegerProcess {
  let serviceName: string | undefined;
  const tags: JaegerKeyValue[] = [];
  for (const kv of resource.attributes) {
    if (kv.key === 'service.name') serviceName = attributeString(kv.value);
    else tags.push(toJaegerTag(kv));
  }
  return { serviceName: serviceName ?? NO_SERVICE_NAME, tags };
}

/**
 * One trace in the UI model. Processes are numbered `p1`, `p2`, ... in order of first use, one per distinct
 * (service, tags), as Jaeger's process hashtable does.
 */
export function toJaegerTrace(rows: readonly StoredSpan[]): JaegerTrace {
  const processes: Record<string, JaegerProcess> = {};
  const processIds = new Map<string, string>();
  const byResource = new Map<Resource, string>();
  const processIdOf = (resource: Resource): string => {
    let id = byResource.get(resource);
    if (id !== undefined) return id;
    const process = toJaegerProcess(resource);
    const key = JSON.stringify(process);
    id = processIds.get(key);
    if (id === undefined) {
      id = `p${processIds.size + 1}`;
      processIds.set(key, id);
      processes[id] = process;
    }
    byResource.set(resource, id);
    return id;
  };
  const spans = rows.map(({ span, resource, scope }): JaegerSpan => {
    const processID = processIdOf(resource);
    return {
      traceID: jaegerTraceId(span.traceId),
      spanID: span.spanId,
      operationName: span.name,
      references: references(span),
      startTime: micros(span.startTimeUnixNano),
      duration: micros(span.endTimeUnixNano - span.startTimeUnixNano),
      tags: spanTags(span, scope),
      logs: span.events.map((e) => ({
        timestamp: micros(e.timeUnixNano),
        fields: [...(e.name ? [str('event', e.name)] : []), ...e.attributes.map(toJaegerTag)],
      })),
      processID,
      warnings: null,
    };
  });
  return { traceID: spans[0]?.traceID ?? '', spans, processes, warnings: null };
}

/** The classic API's envelope around `data`. */
export function jaegerResponse<T>(data: T, total = 0): JaegerResponse<T> {
  return { data, total, limit: 0, offset: 0, errors: null };
}
