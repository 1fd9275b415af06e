/**
 * The agent's view of an `ExportTraceServiceRequest`: its protobuf bytes plus an index (issue 13). The scanner
 * walks the request once, checks every field the decoder would check (wire types, lengths, id lengths,
 * attribute nesting), finds the ResourceSpans / ScopeSpans / Span boundaries and reads per span only what the
 * agent's stages use: trace id, name, kind, duration, status code, and whether `sampling.*` attributes are
 * already set. Nothing becomes a Span object; every byte it does not read, unknown fields included, stays
 * where it was and leaves in the exported request.
 */
import { SentinelError } from '../errors.js';
import { bytesToHex, isZeroId } from './hex.js';
import type { KeyValue } from './model.js';
import { decodeResourceMessage } from './protobuf-decode.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';
import { SAMPLING_COMPLETED_ATTRIBUTE, SAMPLING_WEIGHT_ATTRIBUTE } from './sentinel-attributes.js';
import { describeRejections, type SpanTimeProblem } from './validate.js';

const { VARINT, I64, LEN, I32 } = WireType;

/**
 * A resource as it is exported: the Resource message, the other fields of its ResourceSpans (schema_url,
 * unknown ones) and the unknown fields of the request it came in. Interned by content, so that the spans of
 * every request from one SDK share one object (and are exported under one ResourceSpans).
 */
export class WireResource {
  private decoded: KeyValue[] | undefined;
  constructor(
    /** The Resource message's content (no tag, no length). */
    readonly resource: Uint8Array,
    /** ResourceSpans fields other than `resource` and `scope_spans`, as they came (tags included). */
    readonly extra: Uint8Array,
    /** Fields of the request other than `resource_spans` (a newer OTLP's), as they came. */
    readonly requestExtra: Uint8Array,
    readonly serviceName: string,
  ) {}

  /** The resource's attributes, decoded on first use (policies on resource attributes). */
  get attributes(): readonly KeyValue[] {
    this.decoded ??= decodeResourceMessage(this.resource).attributes;
    return this.decoded;
  }
}

/** One ScopeSpans' header: every field but `spans` (scope, schema_url, unknown ones), under its resource. */
export class WireScope {
  constructor(
    readonly resource: WireResource,
    /** ScopeSpans fields other than `spans`, as they came (tags included). */
    readonly header: Uint8Array,
  ) {}
}

/** `marks` bits: what the span already carries of what the sampler writes. */
export const MARK_WEIGHT = 1;
export const MARK_COMPLETED = 2;
export const MARK_TRACE_STATE = 4;

/**
 * One request's spans, scanned: the request bytes and, per span, where its Span message lies and the fields the
 * stages read. Columns rather than an object per span: a buffered span costs a few bytes of index.
 */
export class WireSpans {
  /** Trace ids as hex, until the sampler has taken the spans (then released). */
  traceIds: string[] | undefined;
  /** Span names, until span metrics have read them (then released). */
  names: string[] | undefined;
  constructor(
    readonly buf: Buffer,
    /** The request's ScopeSpans headers; the enricher replaces their resources. */
    readonly scopes: WireScope[],
    readonly count: number,
    readonly scopeIndex: Uint32Array,
    readonly offsets: Uint32Array,
    readonly lengths: Uint32Array,
    readonly kinds: Uint8Array,
    readonly statusCodes: Uint8Array,
    readonly marks: Uint8Array,
    /** end - start in ns, exact below 2^53 (0 when the end precedes the start). */
    readonly durationsNs: Float64Array,
    traceIds: string[],
    names: string[],
  ) {
    this.traceIds = traceIds;
    this.names = names;
  }

  /** The Span message of span `i` (a view into the request bytes). */
  span(i: number): Buffer {
    const off = this.offsets[i] as number;
    return this.buf.subarray(off, off + (this.lengths[i] as number));
  }

  scope(i: number): WireScope {
    return this.scopes[this.scopeIndex[i] as number] as WireScope;
  }
}

/** A scanned request: its spans and what validation took out of it (OTLP `partial_success`). */
export interface ScannedRequest {
  readonly spans: WireSpans;
  readonly rejectedSpans: number;
  readonly errorMessage: string;
}

const SAMPLING_WEIGHT = Buffer.from(SAMPLING_WEIGHT_ATTRIBUTE);
const SAMPLING_COMPLETED = Buffer.from(SAMPLING_COMPLETED_ATTRIBUTE);
const SERVICE_NAME = Buffer.from('service.name');

/**
 * Scans protobuf `ExportTraceServiceRequest` bytes. Refuses what `decodeTraceRequest` refuses (a known field of
 * the wrong wire type, a truncated message, an id of the wrong length: the same coded errors); spans whose
 * trace or span id is empty or all zeroes are left out of the index and counted, as `rejectInvalidSpans` does.
 */
export function scanTraceRequest(bytes: Uint8Array): ScannedRequest {
  const r = new ProtobufReader(bytes);
  const buf = r.buf;
  // First pass: bounds of every ResourceSpans, and the request's own unknown fields.
  const resourceBounds: number[] = [];
  let requestExtra: Buffer[] | undefined;
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    if (tag >>> 3 === 1) {
      expect(r, wt, LEN, 'resource_spans');
      const { start, end } = r.lengthDelimited();
      resourceBounds.push(start, end);
    } else {
      r.skip(wt);
      (requestExtra ??= []).push(buf.subarray(fieldStart, r.pos));
    }
  }
  const reqExtra = requestExtra ? Buffer.concat(requestExtra) : EMPTY_BYTES;
  const b = new IndexBuilder(buf);
  for (let k = 0; k < resourceBounds.length; k += 2) {
    r.pos = resourceBounds[k] as number;
    r.end = resourceBounds[k + 1] as number;
    r.path = 'resource_spans';
    scanResourceSpans(r, b, reqExtra);
  }
  return b.finish();
}

const EMPTY_BYTES = Buffer.alloc(0);

class IndexBuilder {
  scopes: WireScope[] = [];
  count = 0;
  rejected = 0;
  readonly problems = new Map<SpanTimeProblem | 'zero_id', number>();
  cap = 64;
  scopeIndex = new Uint32Array(this.cap);
  offsets = new Uint32Array(this.cap);
  lengths = new Uint32Array(this.cap);
  kinds = new Uint8Array(this.cap);
  codes = new Uint8Array(this.cap);
  marks = new Uint8Array(this.cap);
  durations = new Float64Array(this.cap);
  traceIds: string[] = [];
  names: string[] = [];
  constructor(readonly buf: Buffer) {}

  grow(): void {
    this.cap *= 2;
    const g = <T extends Uint32Array | Uint8Array | Float64Array>(a: T, n: T): T => {
      n.set(a);
      return n;
    };
    this.scopeIndex = g(this.scopeIndex, new Uint32Array(this.cap));
    this.offsets = g(this.offsets, new Uint32Array(this.cap));
    this.lengths = g(this.lengths, new Uint32Array(this.cap));
    this.kinds = g(this.kinds, new Uint8Array(this.cap));
    this.codes = g(this.codes, new Uint8Array(this.cap));
    this.marks = g(this.marks, new Uint8Array(this.cap));
    this.durations = g(this.durations, new Float64Array(this.cap));
  }

  finish(): ScannedRequest {
    const n = this.count;
    const spans = new WireSpans(
      this.buf,
      this.scopes,
      n,
      this.scopeIndex.slice(0, n),
      this.offsets.slice(0, n),
      this.lengths.slice(0, n),
      this.kinds.slice(0, n),
      this.codes.slice(0, n),
      this.marks.slice(0, n),
      this.durations.slice(0, n),
      this.traceIds,
      this.names,
    );
    return {
      spans,
      rejectedSpans: this.rejected,
      errorMessage: describeRejections(this.problems),
    };
  }
}

function expect(r: ProtobufReader, got: number, want: number, field: string): void {
  if (got !== want) r.fail(`field ${field}: expected wire type ${want}, got ${got}`);
}

function scanResourceSpans(r: ProtobufReader, b: IndexBuilder, requestExtra: Uint8Array): void {
  const buf = r.buf;
  let resStart = 0;
  let resEnd = 0;
  const scopeBounds: number[] = [];
  let extra: Buffer[] | undefined;
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1) {
      expect(r, wt, LEN, 'resource');
      const saved = r.enter();
      resStart = r.pos;
      resEnd = r.end;
      checkFields(r, RESOURCE, 0);
      r.leave(saved);
    } else if (field === 2) {
      expect(r, wt, LEN, 'scope_spans');
      const { start, end } = r.lengthDelimited();
      scopeBounds.push(start, end);
    } else {
      if (field === 3) expect(r, wt, LEN, 'schema_url');
      r.skip(wt);
      (extra ??= []).push(buf.subarray(fieldStart, r.pos));
    }
  }
  const resourceBytes = buf.subarray(resStart, resEnd);
  const resource = internResource(resourceBytes, extra ? Buffer.concat(extra) : EMPTY_BYTES, requestExtra);
  const path = r.path;
  for (let k = 0; k < scopeBounds.length; k += 2) {
    r.pos = scopeBounds[k] as number;
    r.end = scopeBounds[k + 1] as number;
    r.path = path + '.scope_spans';
    scanScopeSpans(r, b, resource);
  }
}

function scanScopeSpans(r: ProtobufReader, b: IndexBuilder, resource: WireResource): void {
  const buf = r.buf;
  const scopeEnd = r.end;
  let header: Buffer[] | undefined;
  const scopeNo = b.scopes.length;
  b.scopes.push(undefined as unknown as WireScope); // filled once the header is known
  while (r.pos < scopeEnd) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 2) {
      expect(r, wt, LEN, 'spans');
      const saved = r.enter();
      scanSpan(r, b, scopeNo);
      r.leave(saved);
      continue;
    }
    if (field === 1) {
      expect(r, wt, LEN, 'scope');
      const saved = r.enter();
      checkFields(r, SCOPE, 0);
      r.leave(saved);
    } else {
      if (field === 3) expect(r, wt, LEN, 'schema_url');
      r.skip(wt);
    }
    (header ??= []).push(buf.subarray(fieldStart, r.pos));
  }
  b.scopes[scopeNo] = internScope(resource, header ? Buffer.concat(header) : EMPTY_BYTES);
}

function idField(r: ProtobufReader, length: number, field: string): { start: number; end: number } {
  const bounds = r.lengthDelimited();
  const n = bounds.end - bounds.start;
  if (n !== 0 && n !== length) {
    throw new SentinelError(
      'SENTINEL_ERR_OTLP_INVALID',
      `protobuf: ${field} must be ${length} bytes, got ${n}${r.path ? ` in ${r.path}` : ''}`,
    );
  }
  return bounds;
}

function scanSpan(r: ProtobufReader, b: IndexBuilder, scopeNo: number): void {
  const buf = r.buf;
  const spanStart = r.pos;
  const spanEnd = r.end;
  let traceId = '';
  let spanIdOk = false;
  let name = '';
  let kind = 0;
  let code = 0;
  let marks = 0;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        expect(r, wt, LEN, 'span.trace_id');
        const { start, end } = idField(r, 16, 'span.trace_id');
        if (end > start) traceId = bytesToHex(buf, start, end);
        break;
      }
      case 2: {
        expect(r, wt, LEN, 'span.span_id');
        const { start, end } = idField(r, 8, 'span.span_id');
        spanIdOk = end > start && !allZero(buf, start, end);
        break;
      }
      case 3: {
        expect(r, wt, LEN, 'span.trace_state');
        const { start, end } = r.lengthDelimited();
        if (end > start) marks |= MARK_TRACE_STATE;
        else marks &= ~MARK_TRACE_STATE;
        break;
      }
      case 4:
        expect(r, wt, LEN, 'span.parent_span_id');
        idField(r, 8, 'span.parent_span_id');
        break;
      case 5:
        expect(r, wt, LEN, 'span.name');
        name = r.string();
        break;
      case 6:
        expect(r, wt, VARINT, 'span.kind');
        kind = r.uint32();
        break;
      case 7:
        expect(r, wt, I64, 'span.start_time_unix_nano');
        if (r.pos + 8 > r.end) r.fail('truncated fixed64');
        startLo = buf.readUInt32LE(r.pos);
        startHi = buf.readUInt32LE(r.pos + 4);
        r.pos += 8;
        break;
      case 8:
        expect(r, wt, I64, 'span.end_time_unix_nano');
        if (r.pos + 8 > r.end) r.fail('truncated fixed64');
        endLo = buf.readUInt32LE(r.pos);
        endHi = buf.readUInt32LE(r.pos + 4);
        r.pos += 8;
        break;
      case 9: {
        expect(r, wt, LEN, 'span.attributes');
        const saved = r.enter();
        marks |= samplingMark(r);
        r.pos = r.end;
        r.end = saved;
        break;
      }
      case 10:
      case 12:
      case 14:
        expect(r, wt, VARINT, 'span.dropped_count');
        r.uint32();
        break;
      case 11: {
        expect(r, wt, LEN, 'span.events');
        const saved = r.enter();
        checkFields(r, EVENT, 0);
        r.leave(saved);
        break;
      }
      case 13: {
        expect(r, wt, LEN, 'span.links');
        const saved = r.enter();
        checkFields(r, LINK, 0);
        r.leave(saved);
        break;
      }
      case 15: {
        expect(r, wt, LEN, 'span.status');
        const saved = r.enter();
        code = statusCode(r);
        r.leave(saved);
        break;
      }
      case 16:
        expect(r, wt, I32, 'span.flags');
        r.skip(wt);
        break;
      default:
        r.skip(wt);
    }
  }
  // The door's rules (validate.ts): ids, then times a block can hold (< 2^63 ns) and end >= start.
  const problem: SpanTimeProblem | 'zero_id' | undefined =
    traceId === '' || !spanIdOk || isZeroId(traceId)
      ? 'zero_id'
      : startHi >= 0x80000000
        ? 'start_out_of_range'
        : endHi >= 0x80000000
          ? 'end_out_of_range'
          : endHi < startHi || (endHi === startHi && endLo < startLo)
            ? 'end_before_start'
            : undefined;
  if (problem !== undefined) {
    b.rejected++;
    b.problems.set(problem, (b.problems.get(problem) ?? 0) + 1);
    return;
  }
  if (b.count === b.cap) b.grow();
  const i = b.count++;
  b.scopeIndex[i] = scopeNo;
  b.offsets[i] = spanStart;
  b.lengths[i] = spanEnd - spanStart;
  b.kinds[i] = kind > 255 ? 255 : kind;
  b.codes[i] = code > 255 ? 255 : code;
  b.marks[i] = marks;
  const d = (endHi - startHi) * 4294967296 + (endLo - startLo);
  b.durations[i] = d > 0 ? d : 0;
  b.traceIds.push(traceId);
  b.names.push(name);
}

function allZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Checks one KeyValue (the reader is inside it) and says whether its key is one the sampler writes. */
function samplingMark(r: ProtobufReader): number {
  const buf = r.buf;
  let mark = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1) {
      expect(r, wt, LEN, 'key_value.key');
      const { start, end } = r.lengthDelimited();
      if (bytesEqual(buf, start, end, SAMPLING_WEIGHT)) mark = MARK_WEIGHT;
      else if (bytesEqual(buf, start, end, SAMPLING_COMPLETED)) mark = MARK_COMPLETED;
      else mark = 0;
    } else if (field === 2) {
      expect(r, wt, LEN, 'key_value.value');
      const saved = r.enter();
      checkFields(r, ANY_VALUE, 0);
      r.leave(saved);
    } else r.skip(wt);
  }
  return mark;
}

function statusCode(r: ProtobufReader): number {
  let code = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 3) {
      expect(r, wt, VARINT, 'status.code');
      code = r.uint32();
    } else {
      if (field === 2) expect(r, wt, LEN, 'status.message');
      r.skip(wt);
    }
  }
  return code;
}

export function bytesEqual(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

/**
 * What a message's known fields must be, for the checks the decoder makes: a wire type, or a nested message
 * (checked recursively), or an id of a fixed length. Unknown fields are skipped, as proto3 requires.
 */
type FieldRule = number | { readonly message: () => MessageRule } | { readonly id: number };
type MessageRule = { readonly name: string; readonly fields: ReadonlyMap<number, FieldRule> };

const rule = (name: string, fields: Array<[number, FieldRule]>): MessageRule => ({
  name,
  fields: new Map(fields),
});
const ANY_VALUE: MessageRule = rule('any_value', [
  [1, LEN],
  [2, VARINT],
  [3, VARINT],
  [4, I64],
  [5, { message: () => ARRAY_VALUE }],
  [6, { message: () => KEY_VALUE_LIST }],
  [7, LEN],
]);
const KEY_VALUE: MessageRule = rule('key_value', [
  [1, LEN],
  [2, { message: () => ANY_VALUE }],
]);
const ARRAY_VALUE: MessageRule = rule('array_value', [[1, { message: () => ANY_VALUE }]]);
const KEY_VALUE_LIST: MessageRule = rule('kvlist_value', [[1, { message: () => KEY_VALUE }]]);
const RESOURCE: MessageRule = rule('resource', [
  [1, { message: () => KEY_VALUE }],
  [2, VARINT],
]);
const SCOPE: MessageRule = rule('scope', [
  [1, LEN],
  [2, LEN],
  [3, { message: () => KEY_VALUE }],
  [4, VARINT],
]);
const EVENT: MessageRule = rule('event', [
  [1, I64],
  [2, LEN],
  [3, { message: () => KEY_VALUE }],
  [4, VARINT],
]);
const LINK: MessageRule = rule('link', [
  [1, { id: 16 }],
  [2, { id: 8 }],
  [3, LEN],
  [4, { message: () => KEY_VALUE }],
  [5, VARINT],
  [6, I32],
]);

/** Nesting bound for arrays and kvlists, the decoder's: hostile input cannot blow the stack. */
const MAX_VALUE_DEPTH = 32;

/**
 * Walks a message (the reader is inside it) checking what the decoder would check, building nothing. `depth`
 * counts the arrays and kvlists around it.
 */
function checkFields(r: ProtobufReader, m: MessageRule, depth: number): void {
  if (m === ANY_VALUE && depth > MAX_VALUE_DEPTH)
    r.fail(`attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const f = m.fields.get(tag >>> 3);
    if (f === undefined) {
      r.skip(wt);
    } else if (typeof f === 'number') {
      expect(r, wt, f, `${m.name}.${tag >>> 3}`);
      r.skip(wt);
    } else if ('id' in f) {
      expect(r, wt, LEN, `${m.name}.${tag >>> 3}`);
      idField(r, f.id, `${m.name}.${tag >>> 3 === 1 ? 'trace_id' : 'span_id'}`);
    } else {
      expect(r, wt, LEN, `${m.name}.${tag >>> 3}`);
      const child = f.message();
      const saved = r.enter();
      checkFields(r, child, child === ARRAY_VALUE || child === KEY_VALUE_LIST ? depth + 1 : depth);
      r.leave(saved);
    }
  }
}

// Interning: the spans of every request from one SDK share a resource and scopes, so they are kept once
// (copied out of the request, which is then free to go) and exported under one ResourceSpans.
const MAX_INTERNED = 4096;
const resources = new Map<string, WireResource>();
const scopesByResource = new WeakMap<WireResource, Map<string, WireScope>>();

const latin1 = (b: Uint8Array): string =>
  b.length === 0 ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** The interned WireResource for these bytes (copied on first sight). */
export function internResource(
  resource: Uint8Array,
  extra: Uint8Array,
  requestExtra: Uint8Array,
): WireResource {
  const key = `${resource.length}:${extra.length}:${latin1(resource)}${latin1(extra)}${latin1(requestExtra)}`;
  let r = resources.get(key);
  if (r === undefined) {
    if (resources.size >= MAX_INTERNED) resources.clear();
    r = new WireResource(
      resource.slice(),
      extra.slice(),
      requestExtra.length ? requestExtra.slice() : requestExtra,
      serviceNameOf(resource),
    );
    resources.set(key, r);
  }
  return r;
}

/** The interned WireScope of this header under `resource`. */
export function internScope(resource: WireResource, header: Uint8Array): WireScope {
  let scopes = scopesByResource.get(resource);
  if (scopes === undefined) {
    scopes = new Map();
    scopesByResource.set(resource, scopes);
  }
  const key = latin1(header);
  let s = scopes.get(key);
  if (s === undefined) {
    if (scopes.size >= MAX_INTERNED) scopes.clear();
    s = new WireScope(resource, header.slice());
    scopes.set(key, s);
  }
  return s;
}

/** `service.name` of a Resource message, read without decoding the other attributes. */
function serviceNameOf(resource: Uint8Array): string {
  const r = new ProtobufReader(resource);
  let name = '';
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag !== ((1 << 3) | LEN)) {
      r.skip(tag & 7);
      continue;
    }
    const saved = r.enter();
    let isName = false;
    while (r.pos < r.end) {
      const t = r.uint32();
      if (t === ((1 << 3) | LEN)) {
        const { start, end } = r.lengthDelimited();
        isName = bytesEqual(r.buf, start, end, SERVICE_NAME);
      } else if (t === ((2 << 3) | LEN) && isName) {
        const inner = r.enter();
        while (r.pos < r.end) {
          const v = r.uint32();
          if (v === ((1 << 3) | LEN)) name = r.string();
          else r.skip(v & 7);
        }
        r.leave(inner);
      } else r.skip(t & 7);
    }
    r.leave(saved);
  }
  return name;
}
