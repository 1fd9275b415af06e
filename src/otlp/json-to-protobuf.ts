/**
 * OTLP/JSON to protobuf in one pass, for the agent's byte path (issue 13): the JSON is parsed once and written
 * as protobuf without building the span model. A field present in the JSON is written even when it holds its
 * default (`"droppedAttributesCount": 0`), as protobufjs does for a message with the field set: the bytes are
 * then those the SDK's own protobuf serializer writes for the same spans. Validation and errors are
 * json-codec.ts's (same helpers, same messages).
 */
import { hexToBytes } from './hex.js';
import {
  arr,
  base64,
  double,
  enumValue,
  fail,
  field,
  hexId,
  int64,
  MAX_VALUE_DEPTH,
  obj,
  parseJsonRequest,
  SPAN_KIND_NAMES,
  STATUS_CODE_NAMES,
  str,
  uint,
  type Obj,
} from './json-codec.js';
import { ProtobufWriter } from './protobuf-encode.js';
import { WireType } from './protobuf-reader.js';

const { VARINT, I64, I32 } = WireType;

export const present = (v: unknown): boolean => v !== undefined && v !== null;

export function writeString(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (present(v)) w.string(n, str(v, path), true);
}

export function writeUint(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (!present(v)) return;
  w.tag(n, VARINT);
  w.varint(uint(v, path));
}

export function writeEnum(
  w: ProtobufWriter,
  n: number,
  v: unknown,
  names: Record<string, number>,
  path: string,
): void {
  if (!present(v)) return;
  w.tag(n, VARINT);
  w.varint(enumValue(v, names, path));
}

export function writeFixed64(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (!present(v)) return;
  w.tag(n, I64);
  w.ensure(8);
  w.buf.writeBigUInt64LE(int64(v, path, true), w.pos);
  w.pos += 8;
}

export function writeFixed32(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (!present(v)) return;
  w.tag(n, I32);
  w.ensure(4);
  w.buf.writeUInt32LE(uint(v, path), w.pos);
  w.pos += 4;
}

export function writeId(w: ProtobufWriter, n: number, v: unknown, bytes: number, path: string): void {
  if (!present(v)) return;
  const hex = hexId(v, bytes, path);
  w.bytes(n, hex === '' ? new Uint8Array(0) : (hexToBytes(hex) as Uint8Array), true);
}

export function writeAnyValue(w: ProtobufWriter, v: unknown, path: string, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) fail(path, `attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  const o = obj(v, path);
  if (!o) return;
  let x: unknown;
  if ((x = field(o, 'stringValue', 'string_value')) !== undefined) writeString(w, 1, x, path);
  else if ((x = field(o, 'boolValue', 'bool_value')) !== undefined) {
    if (typeof x !== 'boolean') fail(path + '.boolValue', `expected true or false, got ${JSON.stringify(x)}`);
    w.tag(2, VARINT);
    w.varint(x ? 1 : 0);
  } else if ((x = field(o, 'intValue', 'int_value')) !== undefined) {
    w.int64(3, int64(x, path + '.intValue', false), true);
  } else if ((x = field(o, 'doubleValue', 'double_value')) !== undefined)
    w.double(4, double(x, path + '.doubleValue'), true);
  else if ((x = field(o, 'bytesValue', 'bytes_value')) !== undefined)
    w.bytes(7, base64(x, path + '.bytesValue'), true);
  else if ((x = field(o, 'arrayValue', 'array_value')) !== undefined) {
    const a = obj(x, path + '.arrayValue');
    const t = w.begin(5);
    const values = arr(a ? a['values'] : undefined, path + '.arrayValue.values');
    values.forEach((e, i) => {
      const vt = w.begin(1);
      writeAnyValue(w, e, `${path}.arrayValue.values[${i}]`, depth + 1);
      w.end(vt);
    });
    w.end(t);
  } else if ((x = field(o, 'kvlistValue', 'kvlist_value')) !== undefined) {
    const a = obj(x, path + '.kvlistValue');
    const t = w.begin(6);
    writeKeyValues(w, 1, a ? a['values'] : undefined, path + '.kvlistValue.values', depth + 1);
    w.end(t);
  }
}

export function writeKeyValues(w: ProtobufWriter, n: number, v: unknown, path: string, depth = 0): void {
  arr(v, path).forEach((e, i) => {
    const p = `${path}[${i}]`;
    const o = obj(e, p) ?? {};
    const t = w.begin(n);
    writeString(w, 1, o['key'], p + '.key');
    if (present(o['value'])) {
      const vt = w.begin(2);
      writeAnyValue(w, o['value'], p + '.value', depth);
      w.end(vt);
    }
    w.end(t);
  });
}

export function writeMessage(
  w: ProtobufWriter,
  n: number,
  v: unknown,
  path: string,
  body: (o: Obj) => void,
): void {
  const o = obj(v, path);
  if (!o) return;
  const t = w.begin(n);
  body(o);
  w.end(t);
}

function writeSpan(w: ProtobufWriter, o: Obj, path: string): void {
  writeId(w, 1, field(o, 'traceId', 'trace_id'), 16, path + '.traceId');
  writeId(w, 2, field(o, 'spanId', 'span_id'), 8, path + '.spanId');
  writeString(w, 3, field(o, 'traceState', 'trace_state'), path + '.traceState');
  writeId(w, 4, field(o, 'parentSpanId', 'parent_span_id'), 8, path + '.parentSpanId');
  writeString(w, 5, o['name'], path + '.name');
  writeEnum(w, 6, o['kind'], SPAN_KIND_NAMES, path + '.kind');
  writeFixed64(w, 7, field(o, 'startTimeUnixNano', 'start_time_unix_nano'), path + '.startTimeUnixNano');
  writeFixed64(w, 8, field(o, 'endTimeUnixNano', 'end_time_unix_nano'), path + '.endTimeUnixNano');
  writeKeyValues(w, 9, o['attributes'], path + '.attributes');
  writeUint(
    w,
    10,
    field(o, 'droppedAttributesCount', 'dropped_attributes_count'),
    path + '.droppedAttributesCount',
  );
  arr(o['events'], path + '.events').forEach((e, i) => {
    const p = `${path}.events[${i}]`;
    writeMessage(w, 11, e ?? {}, p, (ev) => {
      writeFixed64(w, 1, field(ev, 'timeUnixNano', 'time_unix_nano'), p + '.timeUnixNano');
      writeString(w, 2, ev['name'], p + '.name');
      writeKeyValues(w, 3, ev['attributes'], p + '.attributes');
      writeUint(
        w,
        4,
        field(ev, 'droppedAttributesCount', 'dropped_attributes_count'),
        p + '.droppedAttributesCount',
      );
    });
  });
  writeUint(w, 12, field(o, 'droppedEventsCount', 'dropped_events_count'), path + '.droppedEventsCount');
  arr(o['links'], path + '.links').forEach((e, i) => {
    const p = `${path}.links[${i}]`;
    writeMessage(w, 13, e ?? {}, p, (l) => {
      writeId(w, 1, field(l, 'traceId', 'trace_id'), 16, p + '.traceId');
      writeId(w, 2, field(l, 'spanId', 'span_id'), 8, p + '.spanId');
      writeString(w, 3, field(l, 'traceState', 'trace_state'), p + '.traceState');
      writeKeyValues(w, 4, l['attributes'], p + '.attributes');
      writeUint(
        w,
        5,
        field(l, 'droppedAttributesCount', 'dropped_attributes_count'),
        p + '.droppedAttributesCount',
      );
      writeFixed32(w, 6, l['flags'], p + '.flags');
    });
  });
  writeUint(w, 14, field(o, 'droppedLinksCount', 'dropped_links_count'), path + '.droppedLinksCount');
  writeMessage(w, 15, o['status'], path + '.status', (st) => {
    writeString(w, 2, st['message'], path + '.status.message');
    writeEnum(w, 3, st['code'], STATUS_CODE_NAMES, path + '.status.code');
  });
  writeFixed32(w, 16, o['flags'], path + '.flags');
}

/** A Resource message (field 1 of ResourceSpans, ResourceLogs and ResourceMetrics). */
export function writeResource(w: ProtobufWriter, v: unknown, path: string): void {
  writeMessage(w, 1, v, path, (r) => {
    writeKeyValues(w, 1, r['attributes'], path + '.attributes');
    writeUint(
      w,
      2,
      field(r, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    );
  });
}

/** An InstrumentationScope message (field 1 of ScopeSpans, ScopeLogs and ScopeMetrics). */
export function writeScope(w: ProtobufWriter, v: unknown, path: string): void {
  writeMessage(w, 1, v, path, (sc) => {
    writeString(w, 1, sc['name'], path + '.name');
    writeString(w, 2, sc['version'], path + '.version');
    writeKeyValues(w, 3, sc['attributes'], path + '.attributes');
    writeUint(
      w,
      4,
      field(sc, 'droppedAttributesCount', 'dropped_attributes_count'),
      path + '.droppedAttributesCount',
    );
  });
}

/** The JSON names of one signal's request levels: `resourceSpans` / `scopeSpans` / `spans`, and so on. */
export interface RequestShape {
  readonly resource: readonly [camel: string, snake: string];
  readonly scope: readonly [camel: string, snake: string];
  readonly items: readonly [camel: string, snake: string];
}

/**
 * Converts an OTLP/JSON export request of any signal to protobuf: `resource_<signal>` (1) { resource (1),
 * `scope_<signal>` (2) { scope (1), items (2), schema_url (3) }, schema_url (3) }, the same numbers in all three.
 */
export function transcodeRequestJson(
  input: string | Uint8Array,
  shape: RequestShape,
  writeItem: (w: ProtobufWriter, o: Obj, path: string) => void,
): Buffer {
  const { root, textLength } = parseJsonRequest(input);
  const w = new ProtobufWriter(Math.max(256, textLength));
  const [rc, rs] = shape.resource;
  const [sc, ss] = shape.scope;
  const [ic, is] = shape.items;
  arr(field(root, rc, rs), rc).forEach((rv, i) => {
    const p = `${rc}[${i}]`;
    writeMessage(w, 1, rv ?? {}, p, (ro) => {
      writeResource(w, ro['resource'], p + '.resource');
      arr(field(ro, sc, ss), `${p}.${sc}`).forEach((sv, j) => {
        const q = `${p}.${sc}[${j}]`;
        writeMessage(w, 2, sv ?? {}, q, (so) => {
          writeScope(w, so['scope'], q + '.scope');
          arr(field(so, ic, is), `${q}.${ic}`).forEach((v, k) => {
            const ip = `${q}.${ic}[${k}]`;
            writeMessage(w, 2, v ?? {}, ip, (o) => writeItem(w, o, ip));
          });
          writeString(w, 3, field(so, 'schemaUrl', 'schema_url'), q + '.schemaUrl');
        });
      });
      writeString(w, 3, field(ro, 'schemaUrl', 'schema_url'), p + '.schemaUrl');
    });
  });
  return Buffer.from(w.finish());
}

/** Converts an OTLP/JSON `ExportTraceServiceRequest` to its protobuf encoding, keeping fields' presence. */
export function transcodeTraceRequestJson(input: string | Uint8Array): Buffer {
  return transcodeRequestJson(
    input,
    {
      resource: ['resourceSpans', 'resource_spans'],
      scope: ['scopeSpans', 'scope_spans'],
      items: ['spans', 'spans'],
    },
    writeSpan,
  );
}
