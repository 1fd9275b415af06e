/**
 * OTLP/JSON (the OTLP specification's JSON encoding: proto3 JSON mapping with hex trace and span ids,
 * int64 and fixed64 as decimal strings or numbers, enums as integers or their names, bytes as base64).
 * Field names are accepted in lowerCamelCase and in the proto's snake_case; unknown fields are ignored,
 * as the specification requires of receivers.
 */
import { SentinelError } from '../errors.js';
import { isHex } from './hex.js';
import type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanLink,
  TraceData,
} from './model.js';

export type Obj = Record<string, unknown>;

export const SPAN_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
export const STATUS_CODE_NAMES: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};
export const MAX_VALUE_DEPTH = 32;

export function fail(path: string, what: string): never {
  throw new SentinelError('SENTINEL_ERR_OTLP_DECODE', `json: ${path}: ${what}`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** The value of field `camel` (or its snake_case twin) of `o`. */
export function field(o: Obj, camel: string, snake?: string): unknown {
  const v = o[camel];
  if (v !== undefined) return v;
  return snake === undefined ? undefined : o[snake];
}

export function obj(v: unknown, path: string): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(path, `expected an object, got ${typeName(v)}`);
  return v as Obj;
}

export function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(path, `expected an array, got ${typeName(v)}`);
  return v;
}

export function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(path, `expected a string, got ${typeName(v)}`);
  return v;
}

export function uint(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    fail(path, `expected an unsigned 32-bit integer, got ${typeName(v)}`);
  }
  return n;
}

export function int64(v: unknown, path: string, unsigned: boolean): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && (unsigned ? /^\d+$/ : /^-?\d+$/).test(v)) {
    const b = BigInt(v);
    if (unsigned ? b < 2n ** 64n : b >= -(2n ** 63n) && b < 2n ** 63n) return b;
  }
  fail(
    path,
    `expected a${unsigned ? 'n unsigned' : ''} 64-bit integer as a decimal string or number, got ${typeName(v)}`,
  );
}

export function enumValue(v: unknown, names: Record<string, number>, path: string): number {
  if (typeof v === 'string' && v in names) return names[v] as number;
  return uint(v, path);
}

export function hexId(v: unknown, bytes: number, path: string): string {
  const s = str(v, path);
  if (s === '') return '';
  if (!isHex(s, bytes * 2)) {
    throw new SentinelError(
      'SENTINEL_ERR_OTLP_INVALID',
      `json: ${path}: expected ${bytes * 2} hex digits, got ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '...' : s)}`,
    );
  }
  return s.toLowerCase();
}

export function double(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  fail(path, `expected a number, got ${typeName(v)}`);
}

export function base64(v: unknown, path: string): Uint8Array {
  const s = str(v, path);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) fail(path, 'expected base64');
  return new Uint8Array(Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64'));
}

function anyValue(v: unknown, path: string, depth: number): AnyValue {
  if (depth > MAX_VALUE_DEPTH) fail(path, `attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  const o = obj(v, path);
  if (!o) return { kind: 'empty' };
  let x: unknown;
  if ((x = field(o, 'stringValue', 'string_value')) !== undefined)
    return { kind: 'string', value: str(x, path) };
  if ((x = field(o, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') fail(path + '.boolValue', `expected true or false, got ${typeName(x)}`);
    return { kind: 'bool', value: x };
  }
  if ((x = field(o, 'intValue', 'int_value')) !== undefined)
    return { kind: 'int', value: int64(x, path + '.intValue', false) };
  if ((x = field(o, 'doubleValue', 'double_value')) !== undefined)
    return { kind: 'double', value: double(x, path + '.doubleValue') };
  if ((x = field(o, 'bytesValue', 'bytes_value')) !== undefined)
    return { kind: 'bytes', value: base64(x, path + '.bytesValue') };
  if ((x = field(o, 'arrayValue', 'array_value')) !== undefined) {
    const a = obj(x, path + '.arrayValue');
    const values = arr(a ? a['values'] : undefined, path + '.arrayValue.values');
    return {
      kind: 'array',
      value: values.map((e, i) => anyValue(e, `${path}.arrayValue.values[${i}]`, depth + 1)),
    };
  }
  if ((x = field(o, 'kvlistValue', 'kvlist_value')) !== undefined) {
    const a = obj(x, path + '.kvlistValue');
    return {
      kind: 'kvlist',
      value: keyValues(a ? a['values'] : undefined, path + '.kvlistValue.values', depth + 1),
    };
  }
  return { kind: 'empty' };
}

function keyValues(v: unknown, path: string, depth = 0): KeyValue[] {
  return arr(v, path).map((e, i) => {
    const p = `${path}[${i}]`;
    const o = obj(e, p) ?? {};
    return { key: str(o['key'], p + '.key'), value: anyValue(o['value'], p + '.value', depth) };
  });
}

function resource(v: unknown, path: string): Resource {
  const o = obj(v, path) ?? {};
  return {
    attributes: keyValues(o['attributes'], path + '.attributes'),
    droppedAttributesCount: uint(
      field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    ),
  };
}

function scope(v: unknown, path: string): InstrumentationScope {
  const o = obj(v, path) ?? {};
  return {
    name: str(o['name'], path + '.name'),
    version: str(o['version'], path + '.version'),
    attributes: keyValues(o['attributes'], path + '.attributes'),
    droppedAttributesCount: uint(
      field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    ),
  };
}

function event(v: unknown, path: string): SpanEvent {
  const o = obj(v, path) ?? {};
  return {
    timeUnixNano: int64(field(o, 'timeUnixNano', 'time_unix_nano'), path + '.timeUnixNano', true),
    name: str(o['name'], path + '.name'),
    attributes: keyValues(o['attributes'], path + '.attributes'),
    droppedAttributesCount: uint(
      field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    ),
  };
}

function link(v: unknown, path: string): SpanLink {
  const o = obj(v, path) ?? {};
  return {
    traceId: hexId(field(o, 'traceId', 'trace_id'), 16, path + '.traceId'),
    spanId: hexId(field(o, 'spanId', 'span_id'), 8, path + '.spanId'),
    traceState: str(field(o, 'traceState', 'trace_state'), path + '.traceState'),
    attributes: keyValues(o['attributes'], path + '.attributes'),
    droppedAttributesCount: uint(
      field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    ),
    flags: uint(o['flags'], path + '.flags'),
  };
}

function span(v: unknown, path: string): Span {
  const o = obj(v, path) ?? {};
  const status = obj(o['status'], path + '.status') ?? {};
  return {
    traceId: hexId(field(o, 'traceId', 'trace_id'), 16, path + '.traceId'),
    spanId: hexId(field(o, 'spanId', 'span_id'), 8, path + '.spanId'),
    traceState: str(field(o, 'traceState', 'trace_state'), path + '.traceState'),
    parentSpanId: hexId(field(o, 'parentSpanId', 'parent_span_id'), 8, path + '.parentSpanId'),
    flags: uint(o['flags'], path + '.flags'),
    name: str(o['name'], path + '.name'),
    kind: enumValue(o['kind'], SPAN_KIND_NAMES, path + '.kind'),
    startTimeUnixNano: int64(
      field(o, 'startTimeUnixNano', 'start_time_unix_nano'),
      path + '.startTimeUnixNano',
      true,
    ),
    endTimeUnixNano: int64(
      field(o, 'endTimeUnixNano', 'end_time_unix_nano'),
      path + '.endTimeUnixNano',
      true,
    ),
    attributes: keyValues(o['attributes'], path + '.attributes'),
    droppedAttributesCount: uint(
      field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    ),
    events: arr(o['events'], path + '.events').map((e, i) => event(e, `${path}.events[${i}]`)),
    droppedEventsCount: uint(
      field(o, 'droppedEventsCount', 'dropped_events_count'),
      path + '.droppedEventsCount',
    ),
    links: arr(o['links'], path + '.links').map((e, i) => link(e, `${path}.links[${i}]`)),
    droppedLinksCount: uint(
      field(o, 'droppedLinksCount', 'dropped_links_count'),
      path + '.droppedLinksCount',
    ),
    status: {
      code: enumValue(status['code'], STATUS_CODE_NAMES, path + '.status.code'),
      message: str(status['message'], path + '.status.message'),
    },
  };
}

/** Parses an OTLP/JSON request body to its root object (a coded error when it is not JSON or not an object). */
export function parseJsonRequest(input: string | Uint8Array): { root: Obj; textLength: number } {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SentinelError('SENTINEL_ERR_OTLP_DECODE', `json: not valid JSON: ${(err as Error).message}`);
  }
  const root = obj(doc, '(request)');
  if (!root) fail('(request)', 'expected an ExportTraceServiceRequest object');
  return { root, textLength: text.length };
}

/** Decodes an OTLP/JSON `ExportTraceServiceRequest`. */
export function decodeTraceRequestJson(input: string | Uint8Array): TraceData {
  const { root } = parseJsonRequest(input);
  const resourceSpans: ResourceSpans[] = arr(
    field(root, 'resourceSpans', 'resource_spans'),
    'resourceSpans',
  ).map((rsv, i) => {
    const p = `resourceSpans[${i}]`;
    const rso = obj(rsv, p) ?? {};
    const scopeSpans: ScopeSpans[] = arr(field(rso, 'scopeSpans', 'scope_spans'), p + '.scopeSpans').map(
      (ssv, j) => {
        const q = `${p}.scopeSpans[${j}]`;
        const sso = obj(ssv, q) ?? {};
        return {
          scope: scope(sso['scope'], q + '.scope'),
          spans: arr(sso['spans'], q + '.spans').map((sv, k) => span(sv, `${q}.spans[${k}]`)),
          schemaUrl: str(field(sso, 'schemaUrl', 'schema_url'), q + '.schemaUrl'),
        };
      },
    );
    return {
      resource: resource(rso['resource'], p + '.resource'),
      scopeSpans,
      schemaUrl: str(field(rso, 'schemaUrl', 'schema_url'), p + '.schemaUrl'),
    };
  });
  return { resourceSpans };
}

// ---- encoding ----

/** A JSON-ready OTLP `AnyValue`. */
export function anyValueToJson(v: AnyValue): Obj {
  switch (v.kind) {
    case 'string':
      return { stringValue: v.value };
    case 'bool':
      return { boolValue: v.value };
    case 'int':
      return { intValue: v.value.toString() };
    case 'double':
      // NaN, the infinities and -0 have no JSON number; proto3 JSON spells them as strings.
      return {
        doubleValue:
          Number.isFinite(v.value) && !Object.is(v.value, -0)
            ? v.value
            : Object.is(v.value, -0)
              ? '-0'
              : String(v.value),
      };
    case 'bytes':
      return { bytesValue: Buffer.from(v.value).toString('base64') };
    case 'array':
      return { arrayValue: { values: v.value.map(anyValueToJson) } };
    case 'kvlist':
      return { kvlistValue: { values: keyValuesToJson(v.value) } };
    case 'empty':
      return {};
  }
}

/** JSON-ready OTLP attributes. */
export function keyValuesToJson(kvs: readonly KeyValue[]): Obj[] {
  return kvs.map((kv) => ({ key: kv.key, value: anyValueToJson(kv.value) }));
}

function withDropped<T extends Obj>(o: T, key: string, n: number): T {
  if (n) (o as Obj)[key] = n;
  return o;
}

/** One span as OTLP/JSON. */
export function spanToJson(s: Span): Obj {
  const o: Obj = { traceId: s.traceId, spanId: s.spanId };
  if (s.traceState) o['traceState'] = s.traceState;
  if (s.parentSpanId) o['parentSpanId'] = s.parentSpanId;
  if (s.flags) o['flags'] = s.flags;
  o['name'] = s.name;
  o['kind'] = s.kind;
  o['startTimeUnixNano'] = s.startTimeUnixNano.toString();
  o['endTimeUnixNano'] = s.endTimeUnixNano.toString();
  o['attributes'] = keyValuesToJson(s.attributes);
  withDropped(o, 'droppedAttributesCount', s.droppedAttributesCount);
  if (s.events.length)
    o['events'] = s.events.map((e) =>
      withDropped(
        { timeUnixNano: e.timeUnixNano.toString(), name: e.name, attributes: keyValuesToJson(e.attributes) },
        'droppedAttributesCount',
        e.droppedAttributesCount,
      ),
    );
  withDropped(o, 'droppedEventsCount', s.droppedEventsCount);
  if (s.links.length)
    o['links'] = s.links.map((l) => {
      const lo: Obj = { traceId: l.traceId, spanId: l.spanId };
      if (l.traceState) lo['traceState'] = l.traceState;
      lo['attributes'] = keyValuesToJson(l.attributes);
      withDropped(lo, 'droppedAttributesCount', l.droppedAttributesCount);
      if (l.flags) lo['flags'] = l.flags;
      return lo;
    });
  withDropped(o, 'droppedLinksCount', s.droppedLinksCount);
  const status: Obj = {};
  if (s.status.message) status['message'] = s.status.message;
  if (s.status.code) status['code'] = s.status.code;
  o['status'] = status;
  return o;
}

/** The model as a JSON-ready OTLP `ExportTraceServiceRequest` object. */
export function traceDataToJson(data: TraceData): { resourceSpans: Obj[] } {
  return {
    resourceSpans: data.resourceSpans.map((rs) => {
      const out: Obj = {
        resource: withDropped(
          { attributes: keyValuesToJson(rs.resource.attributes) },
          'droppedAttributesCount',
          rs.resource.droppedAttributesCount,
        ),
        scopeSpans: rs.scopeSpans.map((ss) => {
          const so: Obj = {
            scope: withDropped(
              {
                name: ss.scope.name,
                version: ss.scope.version,
                attributes: keyValuesToJson(ss.scope.attributes),
              },
              'droppedAttributesCount',
              ss.scope.droppedAttributesCount,
            ),
            spans: ss.spans.map(spanToJson),
          };
          if (ss.schemaUrl) so['schemaUrl'] = ss.schemaUrl;
          return so;
        }),
      };
      if (rs.schemaUrl) out['schemaUrl'] = rs.schemaUrl;
      return out;
    }),
  };
}

/** Encodes the model as an OTLP/JSON `ExportTraceServiceRequest` string. */
export function encodeTraceRequestJson(data: TraceData): string {
  return JSON.stringify(traceDataToJson(data));
}

/** OTLP/JSON `ExportTraceServiceResponse`. */
export function encodeTraceResponseJson(partial?: { rejectedSpans: number; errorMessage: string }): string {
  if (!partial || (partial.rejectedSpans === 0 && !partial.errorMessage)) return '{}';
  return JSON.stringify({
    partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage },
  });
}
