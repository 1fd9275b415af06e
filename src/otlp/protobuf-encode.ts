/**
 * Encoder for `ExportTraceServiceRequest` and `ExportTraceServiceResponse`, the mirror of protobuf-decode.ts.
 * Proto3 defaults (0, '', empty) are not written. Nested messages reserve one length byte and shift right
 * only when a message is 128 bytes or longer, which keeps the common small KeyValue cheap.
 */
import { hexToBytes } from './hex.js';
import type { AnyValue, KeyValue, ResourceSpans, ScopeSpans, Span, TraceData } from './model.js';
import { WireType } from './protobuf-reader.js';

const { VARINT, I64, LEN, I32 } = WireType;

/** A growable protobuf writer; nested messages through `begin` and `end`. */
export class ProtobufWriter {
  buf: Buffer;
  pos = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(v: number): void {
    this.ensure(5);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wt: number): void {
    this.varint((field << 3) | wt);
  }

  int64(field: number, v: bigint, always = false): void {
    if (v === 0n && !always) return;
    this.tag(field, VARINT);
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  uint32(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, VARINT);
    this.varint(v >>> 0);
  }

  bool(field: number, v: boolean): void {
    if (!v) return;
    this.tag(field, VARINT);
    this.varint(1);
  }

  fixed32(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, I32);
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(field: number, v: bigint): void {
    if (v === 0n) return;
    this.tag(field, I64);
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
  }

  double(field: number, v: number, always = false): void {
    if (v === 0 && !always && !Object.is(v, -0)) return;
    this.tag(field, I64);
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(field: number, s: string, always = false): void {
    if (s.length === 0 && !always) return;
    this.tag(field, LEN);
    const len = Buffer.byteLength(s, 'utf8');
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  bytes(field: number, b: Uint8Array, always = false): void {
    if (b.length === 0 && !always) return;
    this.tag(field, LEN);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Bytes already encoded (whole fields), copied as they are. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  hexId(field: number, hex: string): void {
    if (hex.length === 0) return;
    const b = hexToBytes(hex);
    if (b) this.bytes(field, b);
  }

  /** Starts a nested message; returns the token for `end`. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.ensure(1);
    return this.pos++;
  }

  end(lenPos: number): void {
    const len = this.pos - lenPos - 1;
    if (len < 0x80) {
      this.buf[lenPos] = len;
      return;
    }
    let extra = 0;
    for (let v = len >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    this.buf.copyWithin(lenPos + 1 + extra, lenPos + 1, this.pos);
    this.pos += extra;
    let v = len;
    let p = lenPos;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function writeAnyValue(w: ProtobufWriter, v: AnyValue): void {
  switch (v.kind) {
    case 'string':
      w.string(1, v.value, true);
      return;
    case 'bool':
      w.tag(2, VARINT);
      w.varint(v.value ? 1 : 0);
      return;
    case 'int': {
      // Written even when zero: a oneof member that is set must appear on the wire.
      w.tag(3, VARINT);
      let u = BigInt.asUintN(64, v.value);
      w.ensure(10);
      while (u > 0x7fn) {
        w.buf[w.pos++] = Number(u & 0x7fn) | 0x80;
        u >>= 7n;
      }
      w.buf[w.pos++] = Number(u);
      return;
    }
    case 'double':
      w.double(4, v.value, true);
      return;
    case 'array': {
      const t = w.begin(5);
      for (const item of v.value) {
        const s = w.begin(1);
        writeAnyValue(w, item);
        w.end(s);
      }
      w.end(t);
      return;
    }
    case 'kvlist': {
      const t = w.begin(6);
      writeKeyValues(w, 1, v.value);
      w.end(t);
      return;
    }
    case 'bytes':
      w.bytes(7, v.value, true);
      return;
    case 'empty':
      return;
  }
}

/** Writes `kvs` as repeated KeyValue fields numbered `field` (the agent's attribute splices use it too). */
export function writeKeyValueFields(w: ProtobufWriter, field: number, kvs: readonly KeyValue[]): void {
  writeKeyValues(w, field, kvs);
}

function writeKeyValues(w: ProtobufWriter, field: number, kvs: readonly KeyValue[]): void {
  for (const kv of kvs) {
    const t = w.begin(field);
    w.string(1, kv.key);
    const v = w.begin(2);
    writeAnyValue(w, kv.value);
    w.end(v);
    w.end(t);
  }
}

function writeSpan(w: ProtobufWriter, span: Span): void {
  w.hexId(1, span.traceId);
  w.hexId(2, span.spanId);
  w.string(3, span.traceState);
  w.hexId(4, span.parentSpanId);
  w.string(5, span.name);
  w.uint32(6, span.kind);
  w.fixed64(7, span.startTimeUnixNano);
  w.fixed64(8, span.endTimeUnixNano);
  writeKeyValues(w, 9, span.attributes);
  w.uint32(10, span.droppedAttributesCount);
  for (const ev of span.events) {
    const t = w.begin(11);
    w.fixed64(1, ev.timeUnixNano);
    w.string(2, ev.name);
    writeKeyValues(w, 3, ev.attributes);
    w.uint32(4, ev.droppedAttributesCount);
    w.end(t);
  }
  w.uint32(12, span.droppedEventsCount);
  for (const link of span.links) {
    const t = w.begin(13);
    w.hexId(1, link.traceId);
    w.hexId(2, link.spanId);
    w.string(3, link.traceState);
    writeKeyValues(w, 4, link.attributes);
    w.uint32(5, link.droppedAttributesCount);
    w.fixed32(6, link.flags);
    w.end(t);
  }
  w.uint32(14, span.droppedLinksCount);
  if (span.status.code !== 0 || span.status.message !== '') {
    const t = w.begin(15);
    w.string(2, span.status.message);
    w.uint32(3, span.status.code);
    w.end(t);
  }
  w.fixed32(16, span.flags);
}

function writeScopeSpans(w: ProtobufWriter, ss: ScopeSpans): void {
  const sc = ss.scope;
  if (sc.name || sc.version || sc.attributes.length > 0 || sc.droppedAttributesCount) {
    const t = w.begin(1);
    w.string(1, sc.name);
    w.string(2, sc.version);
    writeKeyValues(w, 3, sc.attributes);
    w.uint32(4, sc.droppedAttributesCount);
    w.end(t);
  }
  for (const span of ss.spans) {
    const t = w.begin(2);
    writeSpan(w, span);
    w.end(t);
  }
  w.string(3, ss.schemaUrl);
}

function writeResourceSpans(w: ProtobufWriter, rs: ResourceSpans): void {
  const t = w.begin(1);
  writeKeyValues(w, 1, rs.resource.attributes);
  w.uint32(2, rs.resource.droppedAttributesCount);
  w.end(t);
  for (const ss of rs.scopeSpans) {
    const s = w.begin(2);
    writeScopeSpans(w, ss);
    w.end(s);
  }
  w.string(3, rs.schemaUrl);
}

/** Encodes the model as protobuf `ExportTraceServiceRequest` bytes. */
export function encodeTraceRequest(data: TraceData): Buffer {
  const w = new ProtobufWriter();
  for (const rs of data.resourceSpans) {
    const t = w.begin(1);
    writeResourceSpans(w, rs);
    w.end(t);
  }
  return w.finish();
}

const EMPTY_RESPONSE = Buffer.alloc(0);

/** Encodes `ExportTraceServiceResponse`, with `partial_success` when spans were rejected. */
export function encodeTraceResponse(partial?: { rejectedSpans: number; errorMessage: string }): Buffer {
  // Full success is an empty message: one shared empty buffer (the transports copy it into their frames).
  if (!partial || (partial.rejectedSpans <= 0 && !partial.errorMessage)) return EMPTY_RESPONSE;
  const w = new ProtobufWriter(64);
  const t = w.begin(1);
  w.int64(1, BigInt(partial.rejectedSpans));
  w.string(2, partial.errorMessage);
  w.end(t);
  return Buffer.from(w.finish());
}
