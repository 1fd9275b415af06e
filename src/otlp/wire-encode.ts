/**
 * Writing the agent's wire form back out (issue 13): requests assembled from span slices under their resource
 * and scope headers, and the few splices the agent makes (attributes appended to a message, fields taken out).
 * Every other byte is copied as it came.
 */
import { copyBytes, dataViewOf } from './byte-copy.js';
import type { AnyValue, KeyValue } from './model.js';
import { decodeKeyValueMessage } from './protobuf-decode.js';
import { ProtobufWriter, writeKeyValueFields } from './protobuf-encode.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';
import { bytesEqual, type WireResource, type WireScope } from './wire-scan.js';

const { LEN } = WireType;
const EMPTY_REQUEST = Buffer.alloc(0);

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** `KeyValue` fields (tag, length, message) for `attributes` field number `field`. */
export function encodeAttributeFields(field: number, kvs: readonly KeyValue[]): Buffer {
  const w = new ProtobufWriter(256);
  writeKeyValueFields(w, field, kvs);
  return Buffer.from(w.finish());
}

interface ScopeGroup {
  readonly scope: WireScope;
  /** Spans `0 .. count - 1` are this request's (the arrays are kept by `reset` for the next one). */
  count: number;
  readonly sources: Uint8Array[];
  readonly starts: number[];
  readonly ends: number[];
  readonly suffixes: Uint8Array[];
  /** A DataView of `sources[i]` when the caller had one (else finish makes one per change of source). */
  readonly views: Array<DataView | undefined>;
  /** Requests with spans in a row that this group had none of (`reset` lets it go after MAX_IDLE_RESETS). */
  idle: number;
}

interface ResourceGroup {
  readonly resource: WireResource;
  readonly scopes: Map<WireScope, ScopeGroup>;
  /** `order[0 .. used - 1]`: the scopes that have spans in this request, in the order of their first span. */
  readonly order: Array<ScopeGroup | undefined>;
  used: number;
}

/** A group larger than this many spans is let go by `reset` rather than kept for the next request. */
const MAX_KEPT_GROUP = 4096;
/**
 * A group with no spans in this many requests in a row is let go. Letting it go at the first request without
 * it made a load of many resources (the footprint bench's 30 per 100-span request) build and drop groups
 * (a Map per resource, five arrays per scope) on every pass: a fifth of what the agent allocated at full speed
 * (session 13, HeapProfiler sampling with collected objects).
 */
const MAX_IDLE_RESETS = 64;

/**
 * Builds an `ExportTraceServiceRequest` from span slices: one ResourceSpans per resource, one ScopeSpans per
 * scope header, each in the order of its first span, spans in the order they were added; each span is its
 * bytes plus an optional suffix (fields the agent appends). Sizes are computed first, so the request is
 * written once into a buffer of its exact size. `reset` readies it for another request, keeping its groups'
 * arrays (the sampler's passes reuse one: growing four arrays per pass anew was a tenth of what it allocated).
 */
export class RequestAssembler {
  /** Made on the first span: most sampler passes keep nothing and their assembler stays empty. */
  private resources: Map<WireResource, ResourceGroup> | undefined;
  /** `order[0 .. used - 1]`: the resources that have spans in this request, in the order of their first span. */
  private readonly order: Array<ResourceGroup | undefined> = [];
  private used = 0;
  spanCount = 0;
  spanBytes = 0;

  add(
    scope: WireScope,
    source: Uint8Array,
    start: number,
    end: number,
    suffix: Uint8Array = EMPTY,
    /** A DataView of `source` the caller keeps (WireSpans.dataView): spares finish making one per kept trace. */
    sourceView?: DataView,
  ): void {
    this.resources ??= new Map();
    let rg = this.resources.get(scope.resource);
    if (rg === undefined) {
      rg = { resource: scope.resource, scopes: new Map(), order: [], used: 0 };
      this.resources.set(scope.resource, rg);
    }
    let g = rg.scopes.get(scope);
    if (g === undefined) {
      g = { scope, count: 0, sources: [], starts: [], ends: [], suffixes: [], views: [], idle: 0 };
      rg.scopes.set(scope, g);
    }
    if (g.count === 0) {
      if (rg.used === 0) this.order[this.used++] = rg;
      rg.order[rg.used++] = g;
    }
    const k = g.count++;
    g.sources[k] = source;
    g.starts[k] = start;
    g.ends[k] = end;
    g.suffixes[k] = suffix;
    g.views[k] = sourceView;
    this.spanCount++;
    this.spanBytes += end - start + suffix.length;
  }

  /**
   * Empties it for the next request, keeping the arrays of its groups (their span bytes let go: a kept
   * assembler pins no request); a group with none in MAX_IDLE_RESETS requests in a row, or very many, is
   * dropped.
   */
  reset(): void {
    // Nothing added since the last reset: nothing to let go, and the groups stay for a pass that keeps spans.
    if (this.resources === undefined || this.spanCount === 0) return;
    // values(), the keys being the groups' own: iterating entries made a [key, value] array per group.
    for (const rg of this.resources.values()) {
      for (const g of rg.scopes.values()) {
        if (g.count === 0) {
          if (++g.idle > MAX_IDLE_RESETS) rg.scopes.delete(g.scope);
          continue;
        }
        if (g.count > MAX_KEPT_GROUP) {
          rg.scopes.delete(g.scope);
          continue;
        }
        g.sources.fill(EMPTY, 0, g.count);
        g.suffixes.fill(EMPTY, 0, g.count);
        g.views.fill(undefined, 0, g.count);
        g.count = 0;
        g.idle = 0;
      }
      rg.order.fill(undefined, 0, rg.used);
      rg.used = 0;
      if (rg.scopes.size === 0) this.resources.delete(rg.resource);
    }
    this.order.fill(undefined, 0, this.used);
    this.used = 0;
    this.spanCount = 0;
    this.spanBytes = 0;
  }

  /** Sizes of the ResourceSpans and ScopeSpans of the request being written, in order (kept between requests). */
  private readonly rsSizes: number[] = [];
  private readonly ssSizes: number[] = [];

  /** Fills `rsSizes` and `ssSizes`; returns the request's total size and its fields from newer OTLP, if any. */
  private sizes(): { total: number; extras: Set<Uint8Array> | undefined } {
    let extras: Set<Uint8Array> | undefined;
    let total = 0;
    let s = 0;
    for (let r = 0; r < this.used; r++) {
      const { resource, order, used } = this.order[r] as ResourceGroup;
      let rs =
        resource.resource.length > 0
          ? 1 + varintSize(resource.resource.length) + resource.resource.length
          : 0;
      for (let k = 0; k < used; k++) {
        const g = order[k] as ScopeGroup;
        let ss = g.scope.header.length;
        for (let i = 0; i < g.count; i++) {
          const len = (g.ends[i] as number) - (g.starts[i] as number) + (g.suffixes[i] as Uint8Array).length;
          ss += 1 + varintSize(len) + len;
        }
        this.ssSizes[s++] = ss;
        rs += 1 + varintSize(ss) + ss;
      }
      rs += resource.extra.length;
      this.rsSizes[r] = rs;
      total += 1 + varintSize(rs) + rs;
      if (resource.requestExtra.length > 0) (extras ??= new Set()).add(resource.requestExtra);
    }
    if (extras) for (const e of extras) total += e.length;
    return { total, extras };
  }

  /** The request bytes (empty when no span was added). */
  finish(): Buffer {
    if (this.spanCount === 0) return EMPTY_REQUEST;
    const { total, extras } = this.sizes();
    const { rsSizes, ssSizes } = this;
    const out = Buffer.allocUnsafe(total);
    // Span bytes copied through DataViews (byte-copy.ts): `set(subarray)` made a view per span.
    const outView = dataViewOf(out);
    let from: Uint8Array | undefined;
    let fromView = outView;
    let pos = 0;
    let s = 0;
    for (let r = 0; r < this.used; r++) {
      const { resource, order, used } = this.order[r] as ResourceGroup;
      out[pos++] = (1 << 3) | LEN;
      pos = writeVarint(out, pos, rsSizes[r] as number);
      if (resource.resource.length > 0) {
        out[pos++] = (1 << 3) | LEN;
        pos = writeVarint(out, pos, resource.resource.length);
        out.set(resource.resource, pos);
        pos += resource.resource.length;
      }
      for (let k = 0; k < used; k++) {
        const g = order[k] as ScopeGroup;
        out[pos++] = (2 << 3) | LEN;
        pos = writeVarint(out, pos, ssSizes[s++] as number);
        out.set(g.scope.header, pos);
        pos += g.scope.header.length;
        for (let i = 0; i < g.count; i++) {
          const start = g.starts[i] as number;
          const end = g.ends[i] as number;
          const suffix = g.suffixes[i] as Uint8Array;
          out[pos++] = (2 << 3) | LEN;
          pos = writeVarint(out, pos, end - start + suffix.length);
          const source = g.sources[i] as Uint8Array;
          if (source !== from) {
            from = source;
            fromView = g.views[i] ?? dataViewOf(source);
          }
          copyBytes(fromView, start, outView, pos, end - start);
          pos += end - start;
          if (suffix.length > 0) {
            out.set(suffix, pos);
            pos += suffix.length;
          }
        }
      }
      out.set(resource.extra, pos);
      pos += resource.extra.length;
    }
    if (extras)
      for (const e of extras) {
        out.set(e, pos);
        pos += e.length;
      }
    return out;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Copies a message, leaving out the fields `drop` names (given the field number and, for a length-delimited
 * field, its content bounds) and appending `append` (encoded fields) at the end.
 */
export function rewriteMessage(
  src: Uint8Array,
  start: number,
  end: number,
  drop: (field: number, contentStart: number, contentEnd: number, buf: Uint8Array) => boolean,
  append: Uint8Array,
): Buffer {
  const r = new ProtobufReader(src.subarray(start, end));
  const parts: Uint8Array[] = [];
  let kept = 0;
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    let cs = -1;
    let ce = -1;
    if (wt === LEN) ({ start: cs, end: ce } = r.lengthDelimited());
    else r.skip(wt);
    if (drop(tag >>> 3, cs, ce, r.buf)) {
      if (fieldStart > kept) parts.push(r.buf.subarray(kept, fieldStart));
      kept = r.pos;
    }
  }
  if (kept < r.end) parts.push(r.buf.subarray(kept, r.end));
  if (append.length > 0) parts.push(append);
  return Buffer.concat(parts);
}

/** The key of a KeyValue message whose content lies at `start..end`, or undefined. */
export function keyValueKeyEquals(buf: Uint8Array, start: number, end: number, key: Uint8Array): boolean {
  const r = new ProtobufReader(buf.subarray(start, end));
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN)) {
      const b = r.lengthDelimited();
      return bytesEqual(r.buf, b.start, b.end, key);
    }
    r.skip(tag & 7);
  }
  return key.length === 0;
}

/** The keys of the `attributes` (field `field`) of a message. */
export function attributeKeys(msg: Uint8Array, field: number): Set<string> {
  const keys = new Set<string>();
  const r = new ProtobufReader(msg);
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag !== ((field << 3) | LEN)) {
      r.skip(tag & 7);
      continue;
    }
    const saved = r.enter();
    while (r.pos < r.end) {
      const t = r.uint32();
      if (t === ((1 << 3) | LEN)) keys.add(r.string());
      else r.skip(t & 7);
    }
    r.leave(saved);
  }
  return keys;
}

/**
 * What the sampling policies read of one span, read from its bytes when the trace is decided: times, status
 * code, flags, trace state and only the attributes whose keys are in `keys` (those the policies name; every
 * attribute when undefined).
 */
export interface SpanFields {
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  status: { code: number };
  flags: number;
  traceState: string;
  attributes: KeyValue[];
}

const NO_ATTRIBUTES: KeyValue[] = [];

export function readSpanFields(
  src: Uint8Array,
  start: number,
  end: number,
  keys: ReadonlySet<string> | undefined,
): SpanFields {
  const r = new ProtobufReader(src.subarray(start, end));
  const buf = r.buf;
  const out: SpanFields = {
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    status: { code: 0 },
    flags: 0,
    traceState: '',
    attributes: NO_ATTRIBUTES,
  };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case 3:
        out.traceState = r.string();
        break;
      case 7:
        out.startTimeUnixNano = r.fixed64();
        break;
      case 8:
        out.endTimeUnixNano = r.fixed64();
        break;
      case 9: {
        if (keys !== undefined && keys.size === 0) {
          r.skip(wt);
          break;
        }
        const { start: s, end: e } = r.lengthDelimited();
        if (keys === undefined || keyIn(buf, s, e, keys)) {
          if (out.attributes === NO_ATTRIBUTES) out.attributes = [];
          out.attributes.push(decodeKeyValueMessage(buf.subarray(s, e)));
        }
        break;
      }
      case 15: {
        const saved = r.enter();
        while (r.pos < r.end) {
          const t = r.uint32();
          if (t >>> 3 === 3) out.status.code = r.uint32();
          else r.skip(t & 7);
        }
        r.leave(saved);
        break;
      }
      case 16:
        out.flags = r.fixed32();
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}

const keyBytesCache = new WeakMap<ReadonlySet<string>, Buffer[]>();

/**
 * Whether the KeyValue at `start..end` has one of `keys`, comparing bytes: a policy names one or two keys and
 * a span carries a dozen attributes, so decoding every key to a string was most of a decision's cost.
 */
function keyIn(buf: Buffer, start: number, end: number, keys: ReadonlySet<string>): boolean {
  let wanted = keyBytesCache.get(keys);
  if (wanted === undefined) {
    wanted = [...keys].map((k) => Buffer.from(k));
    keyBytesCache.set(keys, wanted);
  }
  // The key is field 1, written first by every encoder; anything else takes the general path.
  if (buf[start] !== 0x0a) return keys.has(keyOf(buf, start, end) ?? '');
  let len = 0;
  let shift = 0;
  let p = start + 1;
  for (;;) {
    if (p >= end) return false;
    const b = buf[p++] as number;
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
    shift += 7;
    if (shift > 28) return keys.has(keyOf(buf, start, end) ?? '');
  }
  if (p + len > end) return false;
  for (const k of wanted) if (bytesEqual(buf, p, p + len, k)) return true;
  return false;
}

function keyOf(buf: Buffer, start: number, end: number): string | undefined {
  const r = new ProtobufReader(buf.subarray(start, end));
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN)) return r.string();
    r.skip(tag & 7);
  }
  return undefined;
}

/** One attribute field (tag 9 of a Span), encoded once per distinct value by callers that cache it. */
export function encodeAttribute(key: string, value: AnyValue): Buffer {
  return encodeAttributeFields(9, [{ key, value }]);
}
