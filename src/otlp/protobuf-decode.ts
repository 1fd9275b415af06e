/**
 * Decoder for `ExportTraceServiceRequest` in the protobuf encoding, written from the field numbers of
 * opentelemetry-proto (collector/trace/v1/trace_service.proto, trace/v1/trace.proto, common/v1/common.proto,
 * resource/v1/resource.proto). Unknown fields are skipped, as proto3 requires; a known field with the wrong
 * wire type, a truncated message or an id of the wrong length is an error naming the path.
 * Chosen over a protobufjs schema by measurement: see BENCHMARKS.md "receive".
 */
import { SentinelError } from '../errors.js';
import { bytesToHex } from './hex.js';
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
  Status,
  TraceData,
} from './model.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';

const { VARINT, I64, LEN, I32 } = WireType;

/** Decodes protobuf `ExportTraceServiceRequest` bytes into the model. */
export function decodeTraceRequest(bytes: Uint8Array): TraceData {
  const r = new ProtobufReader(bytes);
  const resourceSpans: ResourceSpans[] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1) {
      expect(r, wt, LEN, 'resource_spans');
      const saved = r.enter();
      r.path = 'resource_spans';
      resourceSpans.push(decodeResourceSpans(r));
      r.leave(saved);
      r.path = '';
    } else r.skip(wt);
  }
  return { resourceSpans };
}

/** Refuses a known field with the wrong wire type (the logs decoder shares it). */
export function expect(r: ProtobufReader, got: number, want: number, field: string): void {
  if (got !== want) r.fail(`field ${field}: expected wire type ${want}, got ${got}`);
}

/** `expect`, then the reader, positioned at the field's value. */
function want(r: ProtobufReader, got: number, wire: number, field: string): ProtobufReader {
  expect(r, got, wire, field);
  return r;
}

/** Decodes an embedded message (the reader enters its length and leaves it after). */
function nested<T>(r: ProtobufReader, decode: (r: ProtobufReader) => T): T {
  const saved = r.enter();
  const value = decode(r);
  r.leave(saved);
  return value;
}

/**
 * The content of a resource group (ResourceSpans, ResourceLogs: resource 1, scope groups 2, schema_url 3) or of a
 * scope group (ScopeSpans, ScopeLogs: scope 1, items 2, schema_url 3); the signals share these field numbers.
 * `itemsPath`: the items' field is added to the reader's path while they decode (for the error's field path).
 */
export function decodeGroup<H, T>(
  r: ProtobufReader,
  header: { readonly value: H; readonly field: string; decode(r: ProtobufReader, into: H): void },
  items: { readonly field: string; readonly path: boolean; decode(r: ProtobufReader): T },
): { header: H; items: T[]; schemaUrl: string } {
  const out = { header: header.value, items: [] as T[], schemaUrl: '' };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        nested(want(r, wt, LEN, header.field), (n) => header.decode(n, out.header));
        break;
      case 2: {
        const saved = want(r, wt, LEN, items.field).enter();
        const path = r.path;
        if (items.path) r.path = `${path}.${items.field}`;
        out.items.push(items.decode(r));
        r.path = path;
        r.leave(saved);
        break;
      }
      case 3:
        out.schemaUrl = want(r, wt, LEN, 'schema_url').string();
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}

/** A Resource with every field at its proto3 default. */
export const emptyResourceValue = (): Resource => ({ attributes: [], droppedAttributesCount: 0 });

/** An InstrumentationScope with every field at its proto3 default. */
export const emptyScopeValue = (): InstrumentationScope => ({
  name: '',
  version: '',
  attributes: [],
  droppedAttributesCount: 0,
});

function decodeResourceSpans(r: ProtobufReader): ResourceSpans {
  const g = decodeGroup(
    r,
    { value: emptyResourceValue(), field: 'resource', decode: decodeResource },
    { field: 'scope_spans', path: true, decode: decodeScopeSpans },
  );
  return { resource: g.header, scopeSpans: g.items, schemaUrl: g.schemaUrl };
}

/** Decodes the content of one Resource message (the agent's scanned resources, src/otlp/wire-scan.ts). */
export function decodeResourceMessage(bytes: Uint8Array): Resource {
  const res: Resource = { attributes: [], droppedAttributesCount: 0 };
  decodeResource(new ProtobufReader(bytes), res);
  return res;
}

/** Decodes one KeyValue message's content (a span attribute the sampler reads from the wire). */
export function decodeKeyValueMessage(bytes: Uint8Array): KeyValue {
  const r = new ProtobufReader(bytes);
  return decodeKeyValueBody(r, 0);
}

/** Decodes a Resource message's content at the cursor into `res` (the logs decoder shares it). */
export function decodeResource(r: ProtobufReader, res: Resource): void {
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, LEN, 'resource.attributes');
        res.attributes.push(decodeKeyValueField(r));
        break;
      case 2:
        expect(r, wt, VARINT, 'resource.dropped_attributes_count');
        res.droppedAttributesCount = r.uint32();
        break;
      default:
        r.skip(wt);
    }
  }
}

function decodeScopeSpans(r: ProtobufReader): ScopeSpans {
  const g = decodeGroup(
    r,
    { value: emptyScopeValue(), field: 'scope', decode: decodeScope },
    { field: 'spans', path: false, decode: decodeSpan },
  );
  return { scope: g.header, spans: g.items, schemaUrl: g.schemaUrl };
}

/** Decodes an InstrumentationScope message's content at the cursor into `scope`. */
export function decodeScope(r: ProtobufReader, scope: InstrumentationScope): void {
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, LEN, 'scope.name');
        scope.name = r.string();
        break;
      case 2:
        expect(r, wt, LEN, 'scope.version');
        scope.version = r.string();
        break;
      case 3:
        expect(r, wt, LEN, 'scope.attributes');
        scope.attributes.push(decodeKeyValueField(r));
        break;
      case 4:
        expect(r, wt, VARINT, 'scope.dropped_attributes_count');
        scope.droppedAttributesCount = r.uint32();
        break;
      default:
        r.skip(wt);
    }
  }
}

/** Reads an id of exactly `length` bytes (or empty) as hex. */
export function id(r: ProtobufReader, length: number, field: string): string {
  const { start, end } = r.lengthDelimited();
  const n = end - start;
  if (n === 0) return '';
  if (n !== length) {
    throw new SentinelError(
      'SENTINEL_ERR_OTLP_INVALID',
      `protobuf: ${field} must be ${length} bytes, got ${n}${r.path ? ` in ${r.path}` : ''}`,
    );
  }
  return bytesToHex(r.buf, start, end);
}

/** A Span with every field at its proto3 default. */
function emptySpan(): Span {
  return {
    traceId: '',
    spanId: '',
    traceState: '',
    parentSpanId: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
}

function decodeSpan(r: ProtobufReader): Span {
  const span = emptySpan();
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        span.traceId = id(want(r, wt, LEN, 'span.trace_id'), 16, 'span.trace_id');
        break;
      case 2:
        span.spanId = id(want(r, wt, LEN, 'span.span_id'), 8, 'span.span_id');
        break;
      case 3:
        span.traceState = want(r, wt, LEN, 'span.trace_state').string();
        break;
      case 4:
        span.parentSpanId = id(want(r, wt, LEN, 'span.parent_span_id'), 8, 'span.parent_span_id');
        break;
      case 5:
        span.name = want(r, wt, LEN, 'span.name').string();
        break;
      case 6:
        span.kind = want(r, wt, VARINT, 'span.kind').uint32();
        break;
      case 7:
        span.startTimeUnixNano = want(r, wt, I64, 'span.start_time_unix_nano').fixed64();
        break;
      case 8:
        span.endTimeUnixNano = want(r, wt, I64, 'span.end_time_unix_nano').fixed64();
        break;
      case 9:
        span.attributes.push(decodeKeyValueField(want(r, wt, LEN, 'span.attributes')));
        break;
      case 10:
        span.droppedAttributesCount = want(r, wt, VARINT, 'span.dropped_attributes_count').uint32();
        break;
      case 11:
        span.events.push(nested(want(r, wt, LEN, 'span.events'), decodeEvent));
        break;
      case 12:
        span.droppedEventsCount = want(r, wt, VARINT, 'span.dropped_events_count').uint32();
        break;
      case 13:
        span.links.push(nested(want(r, wt, LEN, 'span.links'), decodeLink));
        break;
      case 14:
        span.droppedLinksCount = want(r, wt, VARINT, 'span.dropped_links_count').uint32();
        break;
      case 15:
        nested(want(r, wt, LEN, 'span.status'), (n) => decodeStatus(n, span.status));
        break;
      case 16:
        span.flags = want(r, wt, I32, 'span.flags').fixed32();
        break;
      default:
        r.skip(wt);
    }
  }
  return span;
}

function decodeStatus(r: ProtobufReader, status: Status): void {
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 2:
        expect(r, wt, LEN, 'status.message');
        status.message = r.string();
        break;
      case 3:
        expect(r, wt, VARINT, 'status.code');
        status.code = r.uint32();
        break;
      default:
        r.skip(wt);
    }
  }
}

function decodeEvent(r: ProtobufReader): SpanEvent {
  const ev: SpanEvent = { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, I64, 'event.time_unix_nano');
        ev.timeUnixNano = r.fixed64();
        break;
      case 2:
        expect(r, wt, LEN, 'event.name');
        ev.name = r.string();
        break;
      case 3:
        expect(r, wt, LEN, 'event.attributes');
        ev.attributes.push(decodeKeyValueField(r));
        break;
      case 4:
        expect(r, wt, VARINT, 'event.dropped_attributes_count');
        ev.droppedAttributesCount = r.uint32();
        break;
      default:
        r.skip(wt);
    }
  }
  return ev;
}

function decodeLink(r: ProtobufReader): SpanLink {
  const link: SpanLink = {
    traceId: '',
    spanId: '',
    traceState: '',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
  };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, LEN, 'link.trace_id');
        link.traceId = id(r, 16, 'link.trace_id');
        break;
      case 2:
        expect(r, wt, LEN, 'link.span_id');
        link.spanId = id(r, 8, 'link.span_id');
        break;
      case 3:
        expect(r, wt, LEN, 'link.trace_state');
        link.traceState = r.string();
        break;
      case 4:
        expect(r, wt, LEN, 'link.attributes');
        link.attributes.push(decodeKeyValueField(r));
        break;
      case 5:
        expect(r, wt, VARINT, 'link.dropped_attributes_count');
        link.droppedAttributesCount = r.uint32();
        break;
      case 6:
        expect(r, wt, I32, 'link.flags');
        link.flags = r.fixed32();
        break;
      default:
        r.skip(wt);
    }
  }
  return link;
}

/** Decodes a length-delimited KeyValue at the cursor; `depth` counts enclosing arrays and kvlists. */
export function decodeKeyValueField(r: ProtobufReader, depth = 0): KeyValue {
  const saved = r.enter();
  const kv = decodeKeyValueBody(r, depth);
  r.leave(saved);
  return kv;
}

function decodeKeyValueBody(r: ProtobufReader, depth: number): KeyValue {
  let key = '';
  let value: AnyValue = EMPTY;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, LEN, 'key_value.key');
        key = r.string();
        break;
      case 2: {
        expect(r, wt, LEN, 'key_value.value');
        const s = r.enter();
        value = decodeAnyValue(r, depth);
        r.leave(s);
        break;
      }
      default:
        r.skip(wt);
    }
  }
  return { key, value };
}

const EMPTY: AnyValue = Object.freeze({ kind: 'empty' });
/** Nesting bound for arrays and kvlists: hostile input cannot blow the stack. */
const MAX_VALUE_DEPTH = 32;

/** Decodes an AnyValue message's content at the cursor (a log record's body). */
export function decodeAnyValue(r: ProtobufReader, depth: number): AnyValue {
  if (depth > MAX_VALUE_DEPTH) r.fail(`attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  let value: AnyValue = EMPTY;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expect(r, wt, LEN, 'any_value.string_value');
        value = { kind: 'string', value: r.string() };
        break;
      case 2:
        expect(r, wt, VARINT, 'any_value.bool_value');
        value = { kind: 'bool', value: r.bool() };
        break;
      case 3:
        expect(r, wt, VARINT, 'any_value.int_value');
        value = { kind: 'int', value: r.int64() };
        break;
      case 4:
        expect(r, wt, I64, 'any_value.double_value');
        value = { kind: 'double', value: r.double() };
        break;
      case 5: {
        expect(r, wt, LEN, 'any_value.array_value');
        const saved = r.enter();
        const values: AnyValue[] = [];
        while (r.pos < r.end) {
          const t = r.uint32();
          if (t >>> 3 === 1) {
            expect(r, t & 7, LEN, 'array_value.values');
            const s = r.enter();
            values.push(decodeAnyValue(r, depth + 1));
            r.leave(s);
          } else r.skip(t & 7);
        }
        r.leave(saved);
        value = { kind: 'array', value: values };
        break;
      }
      case 6: {
        expect(r, wt, LEN, 'any_value.kvlist_value');
        const saved = r.enter();
        const values: KeyValue[] = [];
        while (r.pos < r.end) {
          const t = r.uint32();
          if (t >>> 3 === 1) {
            expect(r, t & 7, LEN, 'kvlist_value.values');
            values.push(decodeKeyValueField(r, depth + 1));
          } else r.skip(t & 7);
        }
        r.leave(saved);
        value = { kind: 'kvlist', value: values };
        break;
      }
      case 7:
        expect(r, wt, LEN, 'any_value.bytes_value');
        value = { kind: 'bytes', value: r.bytes() };
        break;
      default:
        r.skip(wt);
    }
  }
  return value;
}

/**
 * Counts the spans of a protobuf request by walking tags and lengths only (no strings, no objects), so a
 * request refused for lack of memory is still counted by span without paying for a full decode.
 * Returns 0 for bytes that do not parse.
 */
export function countSpansInRequest(bytes: Uint8Array): number {
  try {
    const r = new ProtobufReader(bytes);
    let n = 0;
    while (r.pos < r.end) {
      const tag = r.uint32();
      if (tag !== ((1 << 3) | LEN)) {
        r.skip(tag & 7);
        continue;
      }
      const rsEnd = r.enter();
      while (r.pos < r.end) {
        const t = r.uint32();
        if (t !== ((2 << 3) | LEN)) {
          r.skip(t & 7);
          continue;
        }
        const ssEnd = r.enter();
        while (r.pos < r.end) {
          const s = r.uint32();
          if (s === ((2 << 3) | LEN)) n++;
          r.skip(s & 7);
        }
        r.leave(ssEnd);
      }
      r.leave(rsEnd);
    }
    return n;
  } catch {
    return 0;
  }
}
