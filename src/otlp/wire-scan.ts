/**
 * The agent's view of an `ExportTraceServiceRequest`: its protobuf bytes plus an index (issue 13). The scanner
 * walks the request once, checks every field the decoder would check (wire types, lengths, id lengths,
 * attribute nesting), finds the ResourceSpans / ScopeSpans / Span boundaries and reads per span only what the
 * agent's stages use: trace id, name, kind, duration, status code, and whether `sampling.*` attributes are
 * already set. Nothing becomes a Span object; every byte it does not read, unknown fields included, stays
 * where it was and leaves in the exported request.
 */
import { SentinelError } from '../errors.js';
import { dataViewOf } from './byte-copy.js';
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
    /** start_time_unix_nano, high and low 32 bits (the latency policy reads them with durationsNs). */
    readonly startsHi: Uint32Array,
    readonly startsLo: Uint32Array,
  ) {
    this.traceIds = traceIds;
    this.names = names;
  }

  private view: DataView | undefined;
  /** A DataView of `buf`, made on first use: copies out of the request (byte-copy.ts) share it. */
  get dataView(): DataView {
    return (this.view ??= dataViewOf(this.buf));
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
  const b = new IndexBuilder(r.buf);
  walkRequest(r, b, SPANS_LAYOUT);
  return b.finish();
}

/**
 * Where a signal's items lie in its request: the field names of ExportTraceServiceRequest and
 * ExportLogsServiceRequest differ, their numbers do not (resource_* 1; resource 1, scope_* 2; scope 1, items 2),
 * so one walk finds the boundaries of both and `scanItem` reads an item (a Span, a LogRecord).
 */
export interface RequestLayout<B extends { scopes: WireScope[] }> {
  readonly resources: string;
  readonly scopes: string;
  readonly items: string;
  scanItem(r: ProtobufReader, b: B, scopeNo: number): void;
}

const SPANS_LAYOUT: RequestLayout<IndexBuilder> = {
  resources: 'resource_spans',
  scopes: 'scope_spans',
  items: 'spans',
  scanItem: (r, b, scopeNo) => scanSpan(r, b, scopeNo),
};

/** Walks a request: the bounds of every resource_* message first, and the request's own unknown fields. */
export function walkRequest<B extends { scopes: WireScope[] }>(
  r: ProtobufReader,
  b: B,
  layout: RequestLayout<B>,
): void {
  const buf = r.buf;
  // Scratch (a walk never nests): the bounds of each resource_* message.
  // Written up to `nBounds` and never shortened: `length = 0` would let V8 free the array's store, and the next
  // push allocate it again (per resource and per scope, that was most of what the scanner still allocated).
  const resourceBounds = RESOURCE_BOUNDS;
  let nBounds = 0;
  let requestExtra: Buffer[] | undefined;
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    if (tag >>> 3 === 1) {
      expect(r, wt, LEN, layout.resources);
      const end = r.lengthPrefix();
      resourceBounds[nBounds++] = r.pos;
      resourceBounds[nBounds++] = end;
      r.pos = end;
    } else {
      r.skip(wt);
      (requestExtra ??= []).push(buf.subarray(fieldStart, r.pos));
    }
  }
  const reqExtra = requestExtra ? Buffer.concat(requestExtra) : EMPTY_BYTES;
  for (let k = 0; k < nBounds; k += 2) {
    r.pos = resourceBounds[k] as number;
    r.end = resourceBounds[k + 1] as number;
    r.path = layout.resources;
    scanResource(r, b, reqExtra, layout);
  }
}

const EMPTY_BYTES = Buffer.alloc(0);
const RESOURCE_BOUNDS: number[] = [];

/**
 * The scanner's columns while it walks a request, shared by every scan (a scan runs to its end synchronously, so
 * one set serves them all) and grown as needed: a set of nine typed arrays per request, and again at each doubling,
 * were a sixth of the scanner's allocations. `finish` copies the request's rows into one exact-size buffer.
 */
const scratch = {
  cap: 0,
  scopeIndex: new Uint32Array(0),
  offsets: new Uint32Array(0),
  lengths: new Uint32Array(0),
  kinds: new Uint8Array(0),
  codes: new Uint8Array(0),
  marks: new Uint8Array(0),
  durations: new Float64Array(0),
  startsHi: new Uint32Array(0),
  startsLo: new Uint32Array(0),
};

/** New scratch columns of `cap` rows, the rows written so far copied unless `fresh`. */
function growScratch(cap: number, fresh = false): void {
  const g = <T extends Uint32Array | Uint8Array | Float64Array>(a: T, n: T): T => {
    if (!fresh) n.set(a);
    return n;
  };
  scratch.cap = cap;
  scratch.scopeIndex = g(scratch.scopeIndex, new Uint32Array(cap));
  scratch.offsets = g(scratch.offsets, new Uint32Array(cap));
  scratch.lengths = g(scratch.lengths, new Uint32Array(cap));
  scratch.kinds = g(scratch.kinds, new Uint8Array(cap));
  scratch.codes = g(scratch.codes, new Uint8Array(cap));
  scratch.marks = g(scratch.marks, new Uint8Array(cap));
  scratch.durations = g(scratch.durations, new Float64Array(cap));
  scratch.startsHi = g(scratch.startsHi, new Uint32Array(cap));
  scratch.startsLo = g(scratch.startsLo, new Uint32Array(cap));
}
growScratch(256);

const SCRATCH_IDS: string[] = [];
/** The ids a scan has made strings of (traceIdAt), by slot; a slot belongs to the scan of its generation. */
const ID_SLOTS = 256;
const idGeneration = new Int32Array(ID_SLOTS);
const idOffset = new Int32Array(ID_SLOTS);
const idString: string[] = new Array<string>(ID_SLOTS).fill('');
let scanGeneration = 0;

/** A new scan's generation, never 0 (an unused slot's) and never one a live slot still has. */
function nextScanGeneration(): number {
  scanGeneration = (scanGeneration + 1) | 0;
  if (scanGeneration === 0) {
    idGeneration.fill(0);
    scanGeneration = 1;
  }
  return scanGeneration;
}
const SCRATCH_NAMES: string[] = [];
/** Scratch kept between scans at most (rows); a larger request's scratch is let go after it. */
const MAX_KEPT_SCRATCH = 4096;

/** Bytes per span of a request's columns: durations (8), five uint32 columns (20), three uint8 (3). */
export const SPAN_COLUMN_BYTES = 8 + 5 * 4 + 3;

/** A scanned request's per-span columns, named as WireSpans names them. */
export interface SpanColumns {
  readonly durationsNs: Float64Array;
  readonly scopeIndex: Uint32Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly startsHi: Uint32Array;
  readonly startsLo: Uint32Array;
  readonly kinds: Uint8Array;
  readonly statusCodes: Uint8Array;
  readonly marks: Uint8Array;
}

/**
 * Views for `n` spans' columns in `ab` from byte `at` (a multiple of 8), `n * SPAN_COLUMN_BYTES` bytes: the 8-byte
 * column first, so that every view is aligned. The scanner's `finish` fills a buffer of its own; the sampler copies
 * a request it holds into a chunk (sampling/held-requests.ts).
 */
export function spanColumnsIn(ab: ArrayBufferLike, at: number, n: number): SpanColumns {
  let p = at + 8 * n;
  const u32 = (): Uint32Array => {
    const view = new Uint32Array(ab, p, n);
    p += 4 * n;
    return view;
  };
  const u8 = (): Uint8Array => {
    const view = new Uint8Array(ab, p, n);
    p += n;
    return view;
  };
  return {
    durationsNs: new Float64Array(ab, at, n),
    scopeIndex: u32(),
    offsets: u32(),
    lengths: u32(),
    startsHi: u32(),
    startsLo: u32(),
    kinds: u8(),
    statusCodes: u8(),
    marks: u8(),
  };
}

class IndexBuilder {
  scopes: WireScope[] = [];
  count = 0;
  rejected = 0;
  /** Refused spans by problem; made on the first (most requests have none). */
  private problems: Map<SpanTimeProblem | 'zero_id', number> | undefined;
  /** Per span, written into shared scratch and copied out exactly at `finish` (no growth per request). */
  private readonly traceIds = SCRATCH_IDS;
  private readonly names = SCRATCH_NAMES;
  constructor(readonly buf: Buffer) {}

  private readonly generation = nextScanGeneration();

  /**
   * The hex trace id of `buf[start, end)` ('' when empty), one string per distinct id of the request: a small
   * table of the ids seen in this scan (by a hash of their first and last words, checked byte for byte) gives a
   * later span of the same trace its string (a string per span was a tenth of the scanner's garbage; spans of
   * a trace are often not side by side, as when a request carries several services' resources).
   */
  traceIdAt(start: number, end: number): string {
    if (end === start) return '';
    const buf = this.buf;
    if (end - start !== 16) return bytesToHex(buf, start, end);
    // Read signed: a uint32 of 2^31 or more would be a heap number (the scanner's time reads, session 13).
    const slot = (buf.readInt32LE(start) ^ buf.readInt32LE(start + 12)) & (ID_SLOTS - 1);
    if (idGeneration[slot] === this.generation) {
      const at = idOffset[slot] as number;
      let i = 0;
      while (i < 16 && buf[start + i] === buf[at + i]) i++;
      if (i === 16) return idString[slot] as string;
    }
    const id = bytesToHex(buf, start, end);
    idGeneration[slot] = this.generation;
    idOffset[slot] = start;
    idString[slot] = id;
    return id;
  }

  /** Counts a refused span by its problem. */
  refuse(problem: SpanTimeProblem | 'zero_id'): void {
    this.rejected++;
    this.problems ??= new Map();
    this.problems.set(problem, (this.problems.get(problem) ?? 0) + 1);
  }

  /** Appends one accepted span to the columns. */
  add(
    scopeNo: number,
    start: number,
    end: number,
    kind: number,
    code: number,
    marks: number,
    duration: number,
    startHi: number,
    startLo: number,
    traceId: string,
    name: string,
  ): void {
    if (this.count === scratch.cap) growScratch(scratch.cap * 2);
    const i = this.count++;
    const c = scratch;
    c.scopeIndex[i] = scopeNo;
    c.offsets[i] = start;
    c.lengths[i] = end - start;
    c.kinds[i] = kind > 255 ? 255 : kind;
    c.codes[i] = code > 255 ? 255 : code;
    c.marks[i] = marks;
    c.durations[i] = duration;
    c.startsHi[i] = startHi;
    c.startsLo[i] = startLo;
    this.traceIds[i] = traceId;
    this.names[i] = name;
  }

  finish(): ScannedRequest {
    const n = this.count;
    // One buffer for all the columns, each copied from the scratch row by row (a subarray to `set` from was a view
    // per column per request).
    const cols = spanColumnsIn(new ArrayBuffer(n * SPAN_COLUMN_BYTES), 0, n);
    const c = scratch;
    for (let i = 0; i < n; i++) {
      cols.durationsNs[i] = c.durations[i] as number;
      cols.scopeIndex[i] = c.scopeIndex[i] as number;
      cols.offsets[i] = c.offsets[i] as number;
      cols.lengths[i] = c.lengths[i] as number;
      cols.startsHi[i] = c.startsHi[i] as number;
      cols.startsLo[i] = c.startsLo[i] as number;
      cols.kinds[i] = c.kinds[i] as number;
      cols.statusCodes[i] = c.codes[i] as number;
      cols.marks[i] = c.marks[i] as number;
    }
    const spans = new WireSpans(
      this.buf,
      this.scopes,
      n,
      cols.scopeIndex,
      cols.offsets,
      cols.lengths,
      cols.kinds,
      cols.statusCodes,
      cols.marks,
      cols.durationsNs,
      this.traceIds.slice(0, n),
      this.names.slice(0, n),
      cols.startsHi,
      cols.startsLo,
    );
    if (scratch.cap > MAX_KEPT_SCRATCH) {
      // One huge request (an id-only batch of 100k spans) does not leave megabytes of scratch behind.
      growScratch(256, true);
      SCRATCH_IDS.length = 0;
      SCRATCH_NAMES.length = 0;
    }
    return {
      spans,
      rejectedSpans: this.rejected,
      errorMessage: this.problems === undefined ? '' : describeRejections(this.problems),
    };
  }
}

export function expect(r: ProtobufReader, got: number, want: number, field: string): void {
  if (got !== want) r.fail(`field ${field}: expected wire type ${want}, got ${got}`);
}

function scanResource<B extends { scopes: WireScope[] }>(
  r: ProtobufReader,
  b: B,
  requestExtra: Uint8Array,
  layout: RequestLayout<B>,
): void {
  const buf = r.buf;
  let resStart = 0;
  let resEnd = 0;
  let resSeen = false;
  // Scratch (scanResource does not nest): a request of many resources allocated two arrays per resource.
  const scopeBounds = SCOPE_BOUNDS;
  const extra = RESOURCE_EXTRA;
  let nScopes = 0;
  let nExtra = 0;
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1) {
      expect(r, wt, LEN, 'resource');
      // A resource is checked when it is first interned (below): the same bytes were checked before. Only a
      // repeated resource field (merged by protobuf) is checked here, the last one kept as the decoder does.
      if (resSeen) checkMessageAt(r, resStart, resEnd, RESOURCE);
      resEnd = r.lengthPrefix();
      resStart = r.pos;
      r.pos = resEnd;
      resSeen = true;
    } else if (field === 2) {
      expect(r, wt, LEN, layout.scopes);
      const end = r.lengthPrefix();
      scopeBounds[nScopes++] = r.pos;
      scopeBounds[nScopes++] = end;
      r.pos = end;
    } else {
      if (field === 3) expect(r, wt, LEN, 'schema_url');
      r.skip(wt);
      extra[nExtra++] = fieldStart;
      extra[nExtra++] = r.pos;
    }
  }
  // The other fields (schema_url, unknown ones) are usually one range or none: looked up in place, no view.
  const joined = nExtra > 2 ? joinRanges(buf, extra, nExtra) : undefined;
  const extraStart = nExtra === 0 ? 0 : (extra[0] as number);
  const extraEnd = nExtra === 0 ? 0 : (extra[1] as number);
  let resource =
    joined === undefined
      ? findResource(buf, resStart, resEnd, buf, extraStart, extraEnd, requestExtra)
      : findResource(buf, resStart, resEnd, joined, 0, joined.length, requestExtra);
  if (resource === undefined) {
    checkMessageAt(r, resStart, resEnd, RESOURCE);
    const extraBytes = joined ?? joinRanges(buf, extra, nExtra);
    resource = addResource(buf.subarray(resStart, resEnd), extraBytes, requestExtra);
  }
  const path = layoutScopesPath(layout);
  // scanScope and what it calls never reach scanResource, so the scratch bounds stay as they are meanwhile.
  for (let k = 0; k < nScopes; k += 2) {
    r.pos = scopeBounds[k] as number;
    r.end = scopeBounds[k + 1] as number;
    r.path = path;
    scanScope(r, b, resource, layout);
  }
}

const SCOPE_BOUNDS: number[] = [];
const RESOURCE_EXTRA: number[] = [];
const SCOPE_HEADER: number[] = [];
const scopesPaths = new WeakMap<object, string>();

/** `resource_spans.scope_spans` (or the logs names), built once per layout rather than per scope. */
function layoutScopesPath(layout: { resources: string; scopes: string }): string {
  let path = scopesPaths.get(layout);
  if (path === undefined) scopesPaths.set(layout, (path = `${layout.resources}.${layout.scopes}`));
  return path;
}

/** The bytes of `ranges` (start, end pairs) of `buf`, one after another; a view when there is one range. */
function joinRanges(buf: Buffer, ranges: readonly number[], count = ranges.length): Uint8Array {
  if (count === 0) return EMPTY_BYTES;
  if (count === 2) return buf.subarray(ranges[0], ranges[1]);
  const parts: Buffer[] = [];
  for (let k = 0; k < count; k += 2) parts.push(buf.subarray(ranges[k], ranges[k + 1]));
  return Buffer.concat(parts);
}

/** Checks the message at `start..end` of the reader's buffer against `rule`; the reader is left as it was. */
function checkMessageAt(r: ProtobufReader, start: number, end: number, rule: MessageRule): void {
  const pos = r.pos;
  const saved = r.end;
  r.pos = start;
  r.end = end;
  checkFields(r, rule, 0);
  r.pos = pos;
  r.end = saved;
}

function scanScope<B extends { scopes: WireScope[] }>(
  r: ProtobufReader,
  b: B,
  resource: WireResource,
  layout: RequestLayout<B>,
): void {
  const buf = r.buf;
  const scopeEnd = r.end;
  const header = SCOPE_HEADER;
  let nHeader = 0;
  let scopeStart = 0;
  let scopeMsgEnd = 0;
  let scopeSeen = false;
  const scopeNo = b.scopes.length;
  b.scopes.push(undefined as unknown as WireScope); // filled once the header is known
  while (r.pos < scopeEnd) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 2) {
      expect(r, wt, LEN, layout.items);
      const saved = r.enter();
      layout.scanItem(r, b, scopeNo);
      r.leave(saved);
      continue;
    }
    if (field === 1) {
      expect(r, wt, LEN, 'scope');
      // Checked when the header is first interned, as the resource is; a repeated scope field here.
      if (scopeSeen) checkMessageAt(r, scopeStart, scopeMsgEnd, SCOPE);
      scopeMsgEnd = r.lengthPrefix();
      scopeStart = r.pos;
      r.pos = scopeMsgEnd;
      scopeSeen = true;
    } else {
      if (field === 3) expect(r, wt, LEN, 'schema_url');
      r.skip(wt);
    }
    if (nHeader > 0 && header[nHeader - 1] === fieldStart) header[nHeader - 1] = r.pos;
    else {
      header[nHeader++] = fieldStart;
      header[nHeader++] = r.pos;
    }
  }
  // The header is usually one range (scope, schema_url next to each other): looked up in place, no copy.
  let joined: Uint8Array | undefined;
  let scope: WireScope | undefined;
  if (nHeader === 0) scope = findScope(resource, buf, 0, 0);
  else if (nHeader === 2) scope = findScope(resource, buf, header[0] as number, header[1] as number);
  else {
    joined = joinRanges(buf, header, nHeader);
    scope = findScope(resource, joined, 0, joined.length);
  }
  if (scope === undefined) {
    if (scopeSeen) checkMessageAt(r, scopeStart, scopeMsgEnd, SCOPE);
    scope = addScope(resource, joined ?? joinRanges(buf, header, nHeader));
  }
  b.scopes[scopeNo] = scope;
}

/** Checks an id field's length (0 or `length`); returns where it starts, the reader is left at its end. */
export function idField(r: ProtobufReader, length: number, field: string): number {
  const end = r.lengthPrefix();
  const start = r.pos;
  const n = end - start;
  if (n !== 0 && n !== length) {
    throw new SentinelError(
      'SENTINEL_ERR_OTLP_INVALID',
      `protobuf: ${field} must be ${length} bytes, got ${n}${r.path ? ` in ${r.path}` : ''}`,
    );
  }
  r.pos = end;
  return start;
}

/** `expect`, then the reader, positioned at the field's value. */
export function want(r: ProtobufReader, got: number, wire: number, field: string): ProtobufReader {
  expect(r, got, wire, field);
  return r;
}

/** A fixed64 field: where its 8 bytes start (read later as two uint32 halves, without a BigInt). */
export function fixed64At(r: ProtobufReader): number {
  if (r.pos + 8 > r.end) r.fail('truncated fixed64');
  r.pos += 8;
  return r.pos - 8;
}

/**
 * The low half of the fixed64 at `at` as a signed int32 (-1: absent, 0), and the high half as a uint32. The low
 * half is read signed on purpose: a uint32 of 2^31 or more is a heap number, and half of all low halves are,
 * which made the scanner's time reads 7.5 % of what the agent allocated at full speed (session 13). Stored into a
 * Uint32Array it is the same 32 bits; compared and subtracted through `unsignedLess` and `durationNs`.
 */
const lowHalf = (buf: Buffer, at: number): number => (at < 0 ? 0 : buf.readInt32LE(at));
const highHalf = (buf: Buffer, at: number): number => (at < 0 ? 0 : buf.readUInt32LE(at + 4));

/** `a < b` for two uint32s held as signed int32s (flipping the sign bit keeps the order). */
const unsignedLess = (a: number, b: number): boolean => (a ^ 0x80000000) < (b ^ 0x80000000);

/** end - start in ns, for fixed64s given as a uint32 high half and a signed int32 low half each. */
const durationNs = (startHi: number, startLo: number, endHi: number, endLo: number): number =>
  (endHi - startHi + (endLo < 0 ? 1 : 0) - (startLo < 0 ? 1 : 0)) * 4294967296 + (endLo - startLo);

/** An embedded message checked against `rule` and skipped. */
export function checkNested(r: ProtobufReader, rule: MessageRule): void {
  const saved = r.enter();
  checkFields(r, rule, 0);
  r.leave(saved);
}

/** An attribute (KeyValue) checked; its mark bit when its key is one the sampler writes. */
export function attributeMark(r: ProtobufReader): number {
  const saved = r.enter();
  const mark = samplingMark(r);
  r.pos = r.end;
  r.end = saved;
  return mark;
}

/** Status, read for its code. */
function nestedStatusCode(r: ProtobufReader): number {
  const saved = r.enter();
  const code = statusCode(r);
  r.leave(saved);
  return code;
}

/** The door's rules (validate.ts): ids, then times a block can hold (< 2^63 ns) and end >= start. */
function spanRefusal(
  traceId: string,
  spanIdOk: boolean,
  startLo: number,
  startHi: number,
  endLo: number,
  endHi: number,
): SpanTimeProblem | 'zero_id' | undefined {
  if (traceId === '' || !spanIdOk || isZeroId(traceId)) return 'zero_id';
  if (startHi >= 0x80000000) return 'start_out_of_range';
  if (endHi >= 0x80000000) return 'end_out_of_range';
  if (endHi < startHi || (endHi === startHi && unsignedLess(endLo, startLo))) return 'end_before_start';
  return undefined;
}

function scanSpan(r: ProtobufReader, b: IndexBuilder, scopeNo: number): void {
  const spanStart = r.pos;
  const spanEnd = r.end;
  let traceId = '';
  let spanIdOk = false;
  let name = '';
  let kind = 0;
  let code = 0;
  let marks = 0;
  let startAt = -1;
  let endAt = -1;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 1:
        traceId = b.traceIdAt(idField(want(r, wt, LEN, 'span.trace_id'), 16, 'span.trace_id'), r.pos);
        break;
      case 2: {
        const start = idField(want(r, wt, LEN, 'span.span_id'), 8, 'span.span_id');
        spanIdOk = r.pos > start && !allZero(r.buf, start, r.pos);
        break;
      }
      case 3: {
        const end = want(r, wt, LEN, 'span.trace_state').lengthPrefix();
        marks = end > r.pos ? marks | MARK_TRACE_STATE : marks & ~MARK_TRACE_STATE;
        r.pos = end;
        break;
      }
      case 4:
        idField(want(r, wt, LEN, 'span.parent_span_id'), 8, 'span.parent_span_id');
        break;
      case 5:
        name = want(r, wt, LEN, 'span.name').internedString();
        break;
      case 6:
        kind = want(r, wt, VARINT, 'span.kind').uint32();
        break;
      case 7:
        startAt = fixed64At(want(r, wt, I64, 'span.start_time_unix_nano'));
        break;
      case 8:
        endAt = fixed64At(want(r, wt, I64, 'span.end_time_unix_nano'));
        break;
      case 9:
        marks |= attributeMark(want(r, wt, LEN, 'span.attributes'));
        break;
      case 10:
      case 12:
      case 14:
        want(r, wt, VARINT, 'span.dropped_count').uint32();
        break;
      case 11:
        checkNested(want(r, wt, LEN, 'span.events'), EVENT);
        break;
      case 13:
        checkNested(want(r, wt, LEN, 'span.links'), LINK);
        break;
      case 15:
        code = nestedStatusCode(want(r, wt, LEN, 'span.status'));
        break;
      case 16:
        want(r, wt, I32, 'span.flags').skip(wt);
        break;
      default:
        r.skip(wt);
    }
  }
  const buf = r.buf;
  const startLo = lowHalf(buf, startAt);
  const startHi = highHalf(buf, startAt);
  const endLo = lowHalf(buf, endAt);
  const endHi = highHalf(buf, endAt);
  const problem = spanRefusal(traceId, spanIdOk, startLo, startHi, endLo, endHi);
  if (problem !== undefined) return b.refuse(problem);
  const d = durationNs(startHi, startLo, endHi, endLo);
  b.add(scopeNo, spanStart, spanEnd, kind, code, marks, d > 0 ? d : 0, startHi, startLo, traceId, name);
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
      const end = r.lengthPrefix();
      const start = r.pos;
      r.pos = end;
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

/** From this length on, bytes are compared by Buffer's native compare: 70 ns against 600 for 400 bytes in JS. */
const NATIVE_COMPARE_MIN = 48;
const compareBytes = Buffer.prototype.compare;

export function bytesEqual(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  if (want.length >= NATIVE_COMPARE_MIN) return compareBytes.call(want, buf, start, end) === 0;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

/**
 * What a message's known fields must be, for the checks the decoder makes: a wire type, or a nested message
 * (checked recursively), or an id of a fixed length. Unknown fields are skipped, as proto3 requires.
 */
export type FieldRule =
  | number
  | { readonly message: () => MessageRule }
  | { readonly id: number; readonly name: string }
  /** A repeated scalar of wire type `packed`: packed (LEN) or one by one, as proto3 parsers must accept. */
  | { readonly packed: number };
export type MessageRule = { readonly name: string; readonly fields: ReadonlyMap<number, FieldRule> };

export const rule = (name: string, fields: Array<[number, FieldRule]>): MessageRule => ({
  name,
  fields: new Map(fields),
});
export const ANY_VALUE: MessageRule = rule('any_value', [
  [1, LEN],
  [2, VARINT],
  [3, VARINT],
  [4, I64],
  [5, { message: () => ARRAY_VALUE }],
  [6, { message: () => KEY_VALUE_LIST }],
  [7, LEN],
]);
export const KEY_VALUE: MessageRule = rule('key_value', [
  [1, LEN],
  [2, { message: () => ANY_VALUE }],
]);
const ARRAY_VALUE: MessageRule = rule('array_value', [[1, { message: () => ANY_VALUE }]]);
const KEY_VALUE_LIST: MessageRule = rule('kvlist_value', [[1, { message: () => KEY_VALUE }]]);
export const RESOURCE: MessageRule = rule('resource', [
  [1, { message: () => KEY_VALUE }],
  [2, VARINT],
]);
export const SCOPE: MessageRule = rule('scope', [
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
  [1, { id: 16, name: 'link.trace_id' }],
  [2, { id: 8, name: 'link.span_id' }],
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
export function checkFields(r: ProtobufReader, m: MessageRule, depth: number): void {
  if (m === ANY_VALUE && depth > MAX_VALUE_DEPTH)
    r.fail(`attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const f = m.fields.get(tag >>> 3);
    if (f === undefined) {
      r.skip(wt);
    } else if (typeof f === 'number') {
      // The field's name is built only for the error: building it per field was a fifth of the scanner's garbage.
      if (wt !== f) expect(r, wt, f, `${m.name}.${tag >>> 3}`);
      r.skip(wt);
    } else if ('id' in f) {
      if (wt !== LEN) expect(r, wt, LEN, `${m.name}.${tag >>> 3}`);
      idField(r, f.id, f.name);
    } else if ('packed' in f) {
      if (wt !== LEN && wt !== f.packed) expect(r, wt, f.packed, `${m.name}.${tag >>> 3}`);
      r.skip(wt);
    } else {
      if (wt !== LEN) expect(r, wt, LEN, `${m.name}.${tag >>> 3}`);
      const child = f.message();
      const saved = r.enter();
      checkFields(r, child, child === ARRAY_VALUE || child === KEY_VALUE_LIST ? depth + 1 : depth);
      r.leave(saved);
    }
  }
}

// Interning: the spans of every request from one SDK share a resource and scopes, so they are kept once
// (copied out of the request, which is then free to go) and exported under one ResourceSpans. Looked up by a
// hash of the bytes and compared byte for byte: a latin1 string of the resource as the key was built per
// request (a twentieth of what the scanner allocated).
const MAX_INTERNED = 4096;
const resources = new Map<number, WireResource[]>();
let resourceCount = 0;
const scopesByResource = new WeakMap<WireResource, { byHash: Map<number, WireScope[]>; count: number }>();

/**
 * FNV-1a's step over `buf[start..end]`, 4 bytes at a time (session 13: 250 ns for 400 bytes against 450 byte by
 * byte; every resource and scope header of every request is hashed to be interned).
 */
function hashRange(buf: Uint8Array, start: number, end: number, h: number): number {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const word =
      (buf[i] as number) |
      ((buf[i + 1] as number) << 8) |
      ((buf[i + 2] as number) << 16) |
      ((buf[i + 3] as number) << 24);
    h = Math.imul(h ^ word, 0x01000193);
  }
  for (; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  return h;
}

/** FNV-1a over `b`, continuing from `h`. */
const hashBytes = (b: Uint8Array, h: number): number => hashRange(b, 0, b.length, h);

/** A copy (a Buffer's `slice()` is a view, which would keep the whole request it came in alive). */
const copyOf = (b: Uint8Array): Uint8Array =>
  b.length === 0 ? EMPTY_BYTES : Uint8Array.prototype.slice.call(b);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && bytesEqual(a, 0, a.length, b);
}

/** The hash of a resource's three parts: the Resource message range of `buf`, `extra`, `requestExtra`. */
function resourceHash(
  buf: Uint8Array,
  start: number,
  end: number,
  extra: Uint8Array,
  extraStart: number,
  extraEnd: number,
  requestExtra: Uint8Array,
) {
  let h = hashRange(buf, start, end, 0x811c9dc5 ^ (end - start));
  h = hashRange(extra, extraStart, extraEnd, h);
  return hashBytes(requestExtra, h);
}

/** The interned WireResource whose Resource message is `buf[start..end]`, or undefined. */
function findResource(
  buf: Uint8Array,
  start: number,
  end: number,
  extra: Uint8Array,
  extraStart: number,
  extraEnd: number,
  requestExtra: Uint8Array,
): WireResource | undefined {
  const bucket = resources.get(resourceHash(buf, start, end, extra, extraStart, extraEnd, requestExtra));
  if (bucket === undefined) return undefined;
  for (const r of bucket) {
    if (
      bytesEqual(buf, start, end, r.resource) &&
      bytesEqual(extra, extraStart, extraEnd, r.extra) &&
      sameBytes(r.requestExtra, requestExtra)
    )
      return r;
  }
  return undefined;
}

/** Interns a resource not found (its bytes copied). */
function addResource(resource: Uint8Array, extra: Uint8Array, requestExtra: Uint8Array): WireResource {
  if (resourceCount >= MAX_INTERNED) {
    resources.clear();
    resourceCount = 0;
  }
  const h = resourceHash(resource, 0, resource.length, extra, 0, extra.length, requestExtra);
  const r = new WireResource(copyOf(resource), copyOf(extra), copyOf(requestExtra), serviceNameOf(resource));
  const b = resources.get(h);
  if (b === undefined) resources.set(h, [r]);
  else b.push(r);
  resourceCount++;
  return r;
}

/** The interned WireResource for these bytes (copied on first sight). */
export function internResource(
  resource: Uint8Array,
  extra: Uint8Array,
  requestExtra: Uint8Array,
  /** Called before bytes not seen yet are interned (the scanner checks them then); may throw. */
  check?: () => void,
): WireResource {
  const found = findResource(resource, 0, resource.length, extra, 0, extra.length, requestExtra);
  if (found !== undefined) return found;
  check?.();
  return addResource(resource, extra, requestExtra);
}

/** The interned scope whose header is `buf[start..end]` under `resource`, or undefined. */
function findScope(
  resource: WireResource,
  buf: Uint8Array,
  start: number,
  end: number,
): WireScope | undefined {
  const scopes = scopesByResource.get(resource);
  if (scopes === undefined) return undefined;
  const bucket = scopes.byHash.get(hashRange(buf, start, end, 0x811c9dc5));
  if (bucket !== undefined) for (const s of bucket) if (bytesEqual(buf, start, end, s.header)) return s;
  return undefined;
}

/** Interns a scope header not found under `resource` (its bytes copied). */
function addScope(resource: WireResource, header: Uint8Array): WireScope {
  let scopes = scopesByResource.get(resource);
  if (scopes === undefined) {
    scopes = { byHash: new Map(), count: 0 };
    scopesByResource.set(resource, scopes);
  }
  if (scopes.count >= MAX_INTERNED) {
    scopes.byHash.clear();
    scopes.count = 0;
  }
  const h = hashBytes(header, 0x811c9dc5);
  const s = new WireScope(resource, copyOf(header));
  const b = scopes.byHash.get(h);
  if (b === undefined) scopes.byHash.set(h, [s]);
  else b.push(s);
  scopes.count++;
  return s;
}

/** The interned WireScope of this header under `resource`. */
export function internScope(resource: WireResource, header: Uint8Array, check?: () => void): WireScope {
  const found = findScope(resource, header, 0, header.length);
  if (found !== undefined) return found;
  check?.();
  return addScope(resource, header);
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

// The scanner's checks, shared with the logs scanner (wire-logs.ts): the same field rules and coded errors.
export { allZero, samplingMark };
