import { deflateRaw, inflateRawSync } from 'node:zlib';
import { copyBytes, dataViewOf, type WireLogs, type WireScope, type WireSpans } from '../../otlp/index.js';
import { IdTable } from '../id-table.js';
import { grow, INITIAL_ROWS, NONE, Rows } from '../rows.js';

/**
 * Spans (or, issue 16, log records) of one dropped trace to hold, still in their requests: `indexes[k]` of
 * `requests[k]`. `HoldBuffer.add` copies their bytes out at once (a view into a request would keep the whole
 * request alive for the completion window).
 */
export interface PartToHold {
  readonly requests: ReadonlyArray<WireSpans | WireLogs>;
  readonly indexes: readonly number[];
  /** How many of `indexes` (and `requests`) are the part's: arrays reused from part to part may be longer. */
  readonly count: number;
  /** Log records of the trace (issue 16) rather than spans: released with them, to the logs pipeline. */
  readonly logs?: true;
}

/**
 * A held part as `take` (and `onEvict`) hands it out: a view into the buffer's slab, valid until the buffer's
 * next `add` or `clear` (the slab's space may be written again then). Read it with `forEachHeldSpan`.
 */
export interface HeldPart {
  readonly slab: Buffer;
  /** Where the part's first span header lies in `slab`. */
  readonly offset: number;
  readonly spanCount: number;
  /** The scope of every span (the common case), or undefined: each span's header names its scope in `scopes`. */
  readonly scope: WireScope | undefined;
  /** The buffer's scopes, by the index a span header names. */
  readonly scopes: readonly (WireScope | undefined)[];
  /** Log records (issue 16) rather than spans. */
  readonly logs: boolean;
}

/**
 * Bytes per held part beyond its slab bytes: its rows in the part and trace columns and the trace's id in the
 * id table (typed arrays, grown by doubling; id-table.ts). Measured (bench/hold-buffer.ts: 100,000 one-part
 * traces of 5 spans, heapUsed + arrayBuffers after a full GC, minus the slabs): 116 B (131 while slabs were
 * being packed); counted 160 for the columns' doubling slack. (Session 12: with a Map entry and an id string per
 * trace it measured 172 B, counted 200; packed slabs made it a third of what a held trace counts at 10k
 * spans/s.) A late part of a trace already held costs less (no trace row or id); it is counted the same, so that
 * a part's figure does not depend on what came before it. (The string layout before issue 13 counted 400 + 8 per
 * span and measured 659 B.)
 */
export const HELD_PART_OVERHEAD_BYTES = 160;
/**
 * Bytes per held span beyond its own: its header in the slab, `length * 8 + marks` as a little-endian uint32
 * (the MARK_* bits are three); 8 bytes when the part's spans do not share one scope: the scope's index too.
 */
export const HELD_SPAN_OVERHEAD_BYTES = 4;
const SCOPED_SPAN_HEADER_BYTES = 8;

/** Slabs of at most 1 MiB (fewer, smaller ones for a small `max_bytes`: 1/16 of it, at least 64 KiB). */
const MAX_SLAB_BYTES = 1 << 20;
const MIN_SLAB_BYTES = 1 << 16;
/**
 * Emptied slabs kept for the next fill. Under steady load the oldest slab empties about when a new one is
 * needed (a 1 MiB slab holds about half a second of dropped spans at 10,000 spans/s), so one spare turns the
 * ring without allocating, and without a 1 MiB Buffer for the GC to find dead every half second; more would
 * only hold memory after a burst. Everything is let go when `expire` finds nothing held (nothing was held for
 * a window, or the feed took the last trace).
 */
const SPARE_SLABS = 1;

/** What a part holds, in bytes, as `stats.bytes` counts it while its slab holds nothing else dead. */
export function heldPartBytes(part: PartToHold): number {
  return HELD_PART_OVERHEAD_BYTES + slabBytesOf(part, headerBytes(sharedScope(part)));
}

function headerBytes(shared: WireScope | undefined): number {
  return shared === undefined ? SCOPED_SPAN_HEADER_BYTES : HELD_SPAN_OVERHEAD_BYTES;
}

/** The part's bytes in a slab: its spans, each behind its header. */
function slabBytesOf(part: PartToHold, header: number): number {
  const { requests, indexes, count } = part;
  let bytes = count * header;
  for (let k = 0; k < count; k++)
    bytes += (requests[k] as WireSpans | WireLogs).lengths[indexes[k] as number] as number;
  return bytes;
}

/** The scope every span of the part shares, or undefined when they differ. */
function sharedScope(part: PartToHold): WireScope | undefined {
  const { requests, indexes, count } = part;
  if (count === 0) return undefined;
  const first = (requests[0] as WireSpans | WireLogs).scope(indexes[0] as number);
  for (let k = 1; k < count; k++)
    if ((requests[k] as WireSpans | WireLogs).scope(indexes[k] as number) !== first) return undefined;
  return first;
}

/** Log records (`indexes[k]` of `requests[k]`) of a trace to hold (issue 16). */
export function holdLogs(requests: readonly WireLogs[], indexes: readonly number[]): PartToHold {
  return { requests, indexes, count: indexes.length, logs: true };
}

/** Spans (`indexes[k]` of `requests[k]`) of a trace to hold. */
export function holdSpans(
  requests: ReadonlyArray<WireSpans | WireLogs>,
  indexes: readonly number[],
): PartToHold {
  return { requests, indexes, count: indexes.length };
}

/** Calls `visit` for every span of a held part, with its bytes' bounds in `bytes`. */
export function forEachHeldSpan(
  part: HeldPart,
  visit: (scope: WireScope, bytes: Buffer, start: number, end: number, marks: number) => void,
): void {
  const slab = part.slab;
  const shared = part.scope;
  let pos = part.offset;
  for (let k = 0; k < part.spanCount; k++) {
    const v = slab.readUInt32LE(pos);
    let scope = shared;
    if (scope === undefined) {
      scope = part.scopes[slab.readUInt32LE(pos + 4)] as WireScope;
      pos += SCOPED_SPAN_HEADER_BYTES;
    } else pos += HELD_SPAN_OVERHEAD_BYTES;
    const end = pos + (v >>> 3);
    visit(scope, slab, pos, end, v & 7);
    pos = end;
  }
}

/** The spans of one dropped trace that this agent held, as `take` and `onEvict` hand them out. */
export interface HeldTrace {
  readonly traceId: string;
  /** Clock time the trace was first held; it leaves `window` later. */
  readonly heldAtMs: number;
  /** Views into the buffer's slabs: valid until its next `add` or `clear`. */
  readonly parts: readonly HeldPart[];
  readonly spanCount: number;
  /** The sum of `heldPartBytes` of its parts. */
  readonly bytes: number;
}

/** The parts of a trace removed without them (never pushed to). */
const NO_PARTS: HeldPart[] = [];

/** A trace evicted, as `onEvict` gets it: what it held, without its parts (nobody reads evicted bytes). */
export type EvictedTrace = Omit<HeldTrace, 'parts'>;

/** Why held spans left without being released. */
export type EvictionReason = 'bytes' | 'age';

export interface HoldBufferOptions {
  /** `sampling.completion.window`: how long a dropped trace is held. */
  readonly windowMs: number;
  /** `sampling.completion.max_bytes`: bytes held at most (see `HoldBuffer.stats`); beyond, the oldest trace goes. */
  readonly maxBytes: number;
  /** Told of every trace that leaves unreleased (for metrics). */
  readonly onEvict: (trace: EvictedTrace, reason: EvictionReason) => void;
  /** Slab size (tests); by default 1/16 of `maxBytes` within [64 KiB, 1 MiB]. */
  readonly slabBytes?: number;
  /** Deflates full slabs (default true; false for tests of the unpacked accounting and for benchmarks). */
  readonly pack?: boolean;
}

/** Held parts: where each lies (slab id, offset), its spans, its scope(s), whether it holds log records. */
class PartRows extends Rows {
  /** The scope table's index of every span's scope, or NONE: each span's header names its own. */
  scope = new Int32Array(INITIAL_ROWS);
  slab = new Int32Array(INITIAL_ROWS);
  offset = new Int32Array(INITIAL_ROWS);
  spans = new Int32Array(INITIAL_ROWS);
  logs = new Uint8Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.scope = grow(this.scope, n);
    this.slab = grow(this.slab, n);
    this.offset = grow(this.offset, n);
    this.spans = grow(this.spans, n);
    this.logs = grow(this.logs, n);
  }
}

/** Held traces, linked oldest to newest (`prev`, `next`), each with its parts' first and last row. */
class TraceRows extends Rows {
  heldAt = new Float64Array(INITIAL_ROWS);
  bytes = new Float64Array(INITIAL_ROWS);
  spans = new Int32Array(INITIAL_ROWS);
  first = new Int32Array(INITIAL_ROWS);
  last = new Int32Array(INITIAL_ROWS);
  prev = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.heldAt = grow(this.heldAt, n);
    this.bytes = grow(this.bytes, n);
    this.spans = grow(this.spans, n);
    this.first = grow(this.first, n);
    this.last = grow(this.last, n);
    this.prev = grow(this.prev, n);
  }
}

/**
 * The scopes of held spans, each under an index that parts and span headers name (no array per part), counted
 * by slab: a slab holds one reference to each scope its spans name, taken when it first writes one and given
 * back when it empties, so that leaving never reads a slab (a packed slab would have to be inflated). An index
 * is free again when no slab names it. Scopes are interned by the scanner, so there are few. A freed index keeps
 * its scope until it is given out again: a taken part's view still reads it.
 */
class ScopeTable {
  private readonly ids = new Map<WireScope, number>();
  readonly list: Array<WireScope | undefined> = [];
  private readonly refs: number[] = [];
  /** The fill (`HoldBuffer.slabFills`) that last took a reference to each index. */
  readonly fill: number[] = [];
  private readonly free: number[] = [];

  /** The scope's index, given out now (unreferenced until `ref`) when the scope has none. */
  idOf(scope: WireScope): number {
    let id = this.ids.get(scope);
    if (id === undefined) {
      id = this.free.pop() ?? this.list.length;
      this.ids.set(scope, id);
      this.list[id] = scope;
      this.refs[id] = 0;
      this.fill[id] = -1;
    }
    return id;
  }

  ref(id: number): void {
    this.refs[id] = (this.refs[id] as number) + 1;
  }

  get(id: number): WireScope {
    return this.list[id] as WireScope;
  }

  get size(): number {
    return this.ids.size;
  }

  unref(id: number): void {
    const left = (this.refs[id] as number) - 1;
    this.refs[id] = left;
    if (left > 0) return;
    this.ids.delete(this.list[id] as WireScope);
    this.free.push(id);
  }
}

/**
 * The completion buffer (issue 9): dropped traces, oldest first, bounded by age and bytes. A trace leaves
 * it when the decision feed says another agent kept it (`take`), when it is older than the window, or when
 * room is needed (oldest first). It is a best-effort cache of data the sampler already decided to drop, so
 * it does not count in the receivers' memory budget: its own bound, `max_bytes`, is on top of it.
 *
 * Issue 13: the held bytes live outside the V8 heap, in slabs (Buffer.allocUnsafeSlow, 1 MiB) filled one after
 * another; a part is its spans, each behind a 4-byte header (length and marks). What is left in the heap is a
 * few numbers per part and per trace in typed-array columns, the Map from trace id to trace row and the ids,
 * and a small table of the (interned) scopes: no string, object or array per part, so the old space neither
 * grows with the held spans nor gets marked through them (bench/hold-buffer.ts: old space at most 15 MiB
 * instead of 159 MiB, GC pauses 0.15x). A slab is written once from start to end and counts its live parts;
 * when the last leaves (taken, expired, evicted) it is emptied whole and reused. Space of a part that left
 * while others in its slab live on is dead until the slab empties, and counted until then. Since parts are
 * written in hold order and traces leave oldest first, the oldest slab empties first, as in a ring; a trace
 * taken from the middle leaves a hole that its slab's other parts outlive. A part larger than a slab gets a
 * slab of its own size, let go when it empties; a part larger than `max_bytes` is not copied (it would be
 * evicted at once): its trace is evicted, as every older one.
 *
 * Packed slabs: held spans are cold (most leave by age unread; the feed takes a few), so a slab, once full, is
 * deflated on libuv's thread pool (zlib level 1, raw deflate) and kept as its packed bytes, which are what it
 * counts from then on. A `take` from a packed slab inflates it (the last one inflated is kept for the next take,
 * as the feed's ids of one poll tend to share slabs). OTLP spans deflate 4-6x (attribute keys and values
 * repeat from span to span), so `max_bytes` holds that many times the seconds of dropped spans it held
 * unpacked: bench/hold-buffer.ts and BENCHMARKS.md "Session 12". A slab that packs to more than 7/8 of its
 * bytes stays as it is.
 */
export class HoldBuffer {
  private readonly windowMs: number;
  private readonly maxBytes: number;
  private readonly slabSize: number;
  private readonly pack: boolean;
  private readonly onEvict: (trace: EvictedTrace, reason: EvictionReason) => void;

  /** Trace id -> trace row, without a string or a Map entry per trace (id-table.ts). */
  private ids = new IdTable();
  private traces = new TraceRows();
  private parts = new PartRows();
  private scopes = new ScopeTable();
  private oldest = NONE;
  private newest = NONE;
  // Slabs, by id: the buffer (undefined once packed), its packed bytes, how far it is written, its live parts,
  // what it counts in `stats.bytes`, the scope indexes it references, and its fill: a number given to each
  // filling of a slab id, never again, so that a packing that ends after its slab emptied is known stale.
  private slabs: Array<Buffer | undefined> = [];
  private packs: Array<Buffer | undefined> = [];
  /** A DataView of each slab, for copying spans in (otlp/byte-copy.ts). */
  private slabViews: Array<DataView | undefined> = [];
  private slabFill: number[] = [];
  private slabLive: number[] = [];
  private slabCounted: number[] = [];
  private slabScopes: number[][] = [];
  private slabFills: number[] = [];
  private freeSlabIds: number[] = [];
  private spares: Buffer[] = [];
  /** The slab being filled, or NONE. */
  private current = NONE;
  private fills = 0;
  /** Counts `clear`s: a packing that ends after one changes nothing. */
  private epoch = 0;
  /** Slab buffers zlib is reading: not reused as spares until it is done. */
  private packing = new Set<Buffer>();
  private packed: Array<() => void> = [];
  /** The last packed slab inflated for a take: its id, its fill and its bytes. */
  private inflatedSlab = NONE;
  private inflatedFill = -1;
  private inflated: Buffer | undefined;

  private slabBytes = 0;
  private partCount = 0;
  private spanCount = 0;
  // Where `place` put the last part.
  private placedSlab = NONE;
  private placedOffset = 0;

  constructor(options: HoldBufferOptions) {
    this.windowMs = options.windowMs;
    this.maxBytes = options.maxBytes;
    this.onEvict = options.onEvict;
    this.pack = options.pack ?? true;
    this.slabSize =
      options.slabBytes ??
      Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, Math.floor(options.maxBytes / 16)));
  }

  /**
   * Holds spans of a dropped trace (all of it at its decision, or late spans later), copying them out of their
   * requests; a trace already held keeps its place and age. Expired and, past `max_bytes`, the oldest traces are
   * evicted first.
   */
  add(traceId: string, part: PartToHold, nowMs: number): void {
    this.expireBefore(nowMs);
    const shared = sharedScope(part);
    const header = headerBytes(shared);
    const size = slabBytesOf(part, header);
    const bytes = size + HELD_PART_OVERHEAD_BYTES;
    const spans = part.logs ? 0 : part.count;
    if (bytes > this.maxBytes) {
      this.evictTooLarge(traceId, spans, bytes, nowMs);
      return;
    }
    const p = this.write(part, shared, header, size);
    this.append(traceId, p, spans, bytes, nowMs);
    this.partCount++;
    this.spanCount += spans;
    while (this.oldest !== NONE && this.bytes > this.maxBytes) this.evict(this.oldest, 'bytes');
  }

  /** A part larger than `max_bytes` would be evicted at once, with every trace older: it is not copied. */
  private evictTooLarge(traceId: string, spans: number, bytes: number, nowMs: number): void {
    const t = this.ids.find(traceId);
    if (t === NONE) {
      while (this.oldest !== NONE) this.evict(this.oldest, 'bytes');
      this.onEvict({ traceId, heldAtMs: nowMs, spanCount: spans, bytes }, 'bytes');
      return;
    }
    // Counted with its trace, which goes with every older one.
    this.traces.spans[t] = (this.traces.spans[t] as number) + spans;
    this.traces.bytes[t] = (this.traces.bytes[t] as number) + bytes;
    this.spanCount += spans;
    while (this.ids.find(traceId) !== NONE) this.evict(this.oldest, 'bytes');
  }

  /** Copies the part's spans into a slab, each behind its header; returns its row. */
  private write(part: PartToHold, shared: WireScope | undefined, header: number, size: number): number {
    const { requests, indexes, count } = part;
    const p = this.parts.add();
    this.parts.slab[p] = NONE;
    this.parts.scope[p] = NONE;
    if (count > 0) {
      this.place(size);
      const s = this.placedSlab;
      const slab = this.slabViews[s] as DataView;
      let pos = this.placedOffset;
      // Copied through DataViews (otlp/byte-copy.ts): Buffer.copy made a view per span.
      for (let k = 0; k < count; k++) {
        const req = requests[k] as WireSpans | WireLogs;
        const i = indexes[k] as number;
        const off = req.offsets[i] as number;
        const len = req.lengths[i] as number;
        slab.setUint32(pos, len * 8 + (req.marks[i] as number), true);
        if (shared === undefined) slab.setUint32(pos + 4, this.scopeIn(s, req.scope(i)), true);
        pos += header;
        copyBytes(req.dataView, off, slab, pos, len);
        pos += len;
      }
      this.parts.slab[p] = s;
      this.parts.offset[p] = this.placedOffset;
      if (shared !== undefined) this.parts.scope[p] = this.scopeIn(s, shared);
      // A part's own slab is sealed as soon as it is written.
      if (size > this.slabSize) this.startPacking(s, this.slabFills[s] as number);
    }
    this.parts.spans[p] = count;
    this.parts.logs[p] = part.logs ? 1 : 0;
    this.parts.next[p] = NONE;
    return p;
  }

  /** The scope's index, referenced by slab `s` (once per fill). */
  private scopeIn(s: number, scope: WireScope): number {
    const id = this.scopes.idOf(scope);
    const fill = this.slabFills[s] as number;
    if (this.scopes.fill[id] !== fill) {
      this.scopes.fill[id] = fill;
      this.scopes.ref(id);
      (this.slabScopes[s] as number[]).push(id);
    }
    return id;
  }

  /** Adds part `p` to its trace, or starts the trace, the newest. */
  private append(traceId: string, p: number, spans: number, bytes: number, nowMs: number): void {
    const t = this.ids.find(traceId);
    if (t !== NONE) {
      this.parts.next[this.traces.last[t] as number] = p;
      this.traces.last[t] = p;
      this.traces.bytes[t] = (this.traces.bytes[t] as number) + bytes;
      this.traces.spans[t] = (this.traces.spans[t] as number) + spans;
      return;
    }
    const n = this.traces.add();
    this.ids.add(traceId, n);
    this.traces.heldAt[n] = nowMs;
    this.traces.bytes[n] = bytes;
    this.traces.spans[n] = spans;
    this.traces.first[n] = p;
    this.traces.last[n] = p;
    this.traces.prev[n] = this.newest;
    this.traces.next[n] = NONE;
    if (this.newest === NONE) this.oldest = n;
    else this.traces.next[this.newest] = n;
    this.newest = n;
  }

  /**
   * Removes and returns a held trace (the feed said another agent kept it), or undefined. Its parts are views
   * into the slabs (a packed slab's inflated bytes), valid until the next `add` or `clear`: the sampler
   * re-encodes them into its export request at once (tail-sampler.ts release).
   */
  take(traceId: string): HeldTrace | undefined {
    const t = this.ids.find(traceId);
    if (t === NONE) return undefined;
    return this.remove(t, true);
  }

  has(traceId: string): boolean {
    return this.ids.find(traceId) !== NONE;
  }

  /**
   * Evicts every trace held longer than the window. When nothing is held then (nothing was held for a window, or
   * the feed took the last trace), the slabs and rows are let go too: an agent that drops nothing for a while
   * holds no slab.
   */
  expire(nowMs: number): void {
    this.expireBefore(nowMs);
    if (this.oldest === NONE && this.slabs.length > 0) this.clear();
  }

  /** Drops everything (shutdown): held spans were dropped data, so nothing is lost that was promised. */
  clear(): void {
    this.epoch++;
    this.ids = new IdTable();
    this.traces = new TraceRows();
    this.parts = new PartRows();
    this.scopes = new ScopeTable();
    this.oldest = NONE;
    this.newest = NONE;
    this.slabs = [];
    this.packs = [];
    this.slabViews = [];
    this.slabFill = [];
    this.slabLive = [];
    this.slabCounted = [];
    this.slabScopes = [];
    this.slabFills = [];
    this.freeSlabIds = [];
    this.spares = [];
    this.current = NONE;
    this.inflatedSlab = NONE;
    this.inflated = undefined;
    this.slabBytes = 0;
    this.partCount = 0;
    this.spanCount = 0;
  }

  /** When the oldest trace expires, or undefined when nothing is held. */
  nextExpiryMs(): number | undefined {
    return this.oldest === NONE ? undefined : (this.traces.heldAt[this.oldest] as number) + this.windowMs;
  }

  /**
   * What is held. `bytes`, the figure `max_bytes` bounds: the slab bytes in use (of the slab being filled, up to
   * where it is written; of an earlier slab, all of it, as its unwritten end cannot be used until it empties, or
   * its packed bytes once packed; of a part's own slab, its size), dead space of parts that left included, plus
   * HELD_PART_OVERHEAD_BYTES per held part. With no dead space and nothing packed, the sum of `heldPartBytes` of
   * the held parts.
   */
  get stats(): { traces: number; spans: number; bytes: number } {
    return { traces: this.ids.size, spans: this.spanCount, bytes: this.bytes };
  }

  /** The slabs: how many are in use (packed or not), and the bytes allocated for them (spares included). */
  get slabStats(): { slabs: number; spares: number; allocatedBytes: number } {
    let slabs = 0;
    let allocatedBytes = 0;
    for (let s = 0; s < this.slabs.length; s++) {
      const buf = this.slabs[s] ?? this.packs[s];
      if (buf === undefined) continue;
      slabs++;
      allocatedBytes += buf.length;
    }
    for (const s of this.spares) allocatedBytes += s.length;
    return { slabs, spares: this.spares.length, allocatedBytes };
  }

  /** Slabs held packed, and their packed bytes. */
  get packStats(): { slabs: number; bytes: number } {
    let slabs = 0;
    let bytes = 0;
    for (const p of this.packs) {
      if (p === undefined) continue;
      slabs++;
      bytes += p.length;
    }
    return { slabs, bytes };
  }

  /** Resolves when no slab is being packed (tests, benchmarks). */
  packsDone(): Promise<void> {
    if (this.packing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.packed.push(resolve));
  }

  /** Scopes that held spans name (each kept alive by the buffer until no slab names it). */
  get scopeCount(): number {
    return this.scopes.size;
  }

  private get bytes(): number {
    return this.slabBytes + this.partCount * HELD_PART_OVERHEAD_BYTES;
  }

  private expireBefore(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    while (this.oldest !== NONE && (this.traces.heldAt[this.oldest] as number) <= cutoff)
      this.evict(this.oldest, 'age');
  }

  private evict(t: number, reason: EvictionReason): void {
    this.onEvict(this.remove(t, false), reason);
  }

  /**
   * Unlinks trace `t`, frees its rows and its parts' rows; returns it with its parts as views (`withParts`; an
   * eviction's parts were made for nothing, an eighth of what the sampler allocated at 10k spans/s).
   */
  private remove(t: number, withParts: boolean): HeldTrace {
    const traceId = this.ids.idOf(t);
    const parts: HeldPart[] = withParts ? [] : NO_PARTS;
    for (let p = this.traces.first[t] as number; p !== NONE;) {
      const slab = this.parts.slab[p] as number;
      if (slab !== NONE) {
        if (withParts) {
          const scope = this.parts.scope[p] as number;
          parts.push({
            slab: this.bytesOf(slab),
            offset: this.parts.offset[p] as number,
            spanCount: this.parts.spans[p] as number,
            scope: scope === NONE ? undefined : this.scopes.get(scope),
            scopes: this.scopes.list,
            logs: this.parts.logs[p] === 1,
          });
        }
        this.leaveSlab(slab);
      }
      const next = this.parts.next[p] as number;
      this.parts.delete(p);
      this.partCount--;
      p = next;
    }
    const held: HeldTrace = {
      traceId,
      heldAtMs: this.traces.heldAt[t] as number,
      parts,
      spanCount: this.traces.spans[t] as number,
      bytes: this.traces.bytes[t] as number,
    };
    this.spanCount -= held.spanCount;
    this.ids.delete(t);
    this.ids.forget(t);
    const prev = this.traces.prev[t] as number;
    const next = this.traces.next[t] as number;
    if (prev === NONE) this.oldest = next;
    else this.traces.next[prev] = next;
    if (next === NONE) this.newest = prev;
    else this.traces.prev[next] = prev;
    this.traces.delete(t);
    return held;
  }

  /** Slab `s`'s bytes: the slab, or its packed bytes inflated (the last inflated slab is kept for the next). */
  private bytesOf(s: number): Buffer {
    const raw = this.slabs[s];
    if (raw !== undefined) return raw;
    const fill = this.slabFills[s] as number;
    if (this.inflatedSlab !== s || this.inflatedFill !== fill || this.inflated === undefined) {
      this.inflated = inflateRawSync(this.packs[s] as Buffer);
      this.inflatedSlab = s;
      this.inflatedFill = fill;
    }
    return this.inflated;
  }

  /**
   * A part in slab `s` left: when it was the last, the slab is emptied (reused, kept spare or let go) and gives
   * back its scopes.
   */
  private leaveSlab(s: number): void {
    const live = (this.slabLive[s] as number) - 1;
    this.slabLive[s] = live;
    if (live > 0) return;
    this.slabBytes -= this.slabCounted[s] as number;
    this.slabCounted[s] = 0;
    this.slabFill[s] = 0;
    this.slabFills[s] = this.fills++;
    const scopes = this.slabScopes[s] as number[];
    for (const id of scopes) this.scopes.unref(id);
    scopes.length = 0;
    if (s === this.inflatedSlab) this.inflated = undefined;
    if (s === this.current) return;
    const buf = this.slabs[s];
    this.slabs[s] = undefined;
    this.packs[s] = undefined;
    this.slabViews[s] = undefined;
    this.freeSlabIds.push(s);
    if (buf !== undefined && !this.packing.has(buf)) this.spare(buf);
  }

  /** Keeps an emptied slab buffer for the next fill, or lets it go. */
  private spare(buf: Buffer): void {
    if (buf.length === this.slabSize && this.spares.length < SPARE_SLABS) this.spares.push(buf);
  }

  /** Finds room for `size` bytes (size > 0): in the slab being filled, a new one, or a slab of its own. */
  private place(size: number): void {
    if (size > this.slabSize) {
      const s = this.newSlab(Buffer.allocUnsafeSlow(size));
      this.slabFill[s] = size;
      this.slabCounted[s] = size;
      this.slabBytes += size;
      this.slabLive[s] = 1;
      this.placedSlab = s;
      this.placedOffset = 0;
      return;
    }
    let s = this.current;
    if (s === NONE || (this.slabFill[s] as number) + size > this.slabSize) {
      if (s !== NONE) {
        // Sealed: its unwritten end counts until it empties (it has live parts, or it would be empty).
        const rest = this.slabSize - (this.slabFill[s] as number);
        this.slabCounted[s] = this.slabSize;
        this.slabBytes += rest;
        this.startPacking(s, this.slabFills[s] as number);
      }
      s = this.newSlab(this.spares.pop() ?? Buffer.allocUnsafeSlow(this.slabSize));
      this.current = s;
    }
    const at = this.slabFill[s] as number;
    this.slabFill[s] = at + size;
    this.slabCounted[s] = (this.slabCounted[s] as number) + size;
    this.slabBytes += size;
    this.slabLive[s] = (this.slabLive[s] as number) + 1;
    this.placedSlab = s;
    this.placedOffset = at;
  }

  /**
   * Deflates sealed slab `s` (of fill `fill`) on the thread pool; when done, and the slab still holds that fill,
   * keeps the packed bytes instead (when they save an eighth or more) and lets the slab's buffer go.
   */
  private startPacking(s: number, fill: number): void {
    const raw = this.slabs[s];
    if (!this.pack || raw === undefined || this.slabFills[s] !== fill) return;
    const written = this.slabFill[s] as number;
    const epoch = this.epoch;
    this.packing.add(raw);
    deflateRaw(raw.subarray(0, written), { level: 1 }, (err, out) => {
      this.packing.delete(raw);
      if (this.epoch !== epoch) {
        // Cleared meanwhile: everything it held was let go.
      } else if (err === null && this.slabFills[s] === fill && out.length <= written * 0.875) {
        this.slabBytes += out.length - (this.slabCounted[s] as number);
        this.slabCounted[s] = out.length;
        this.packs[s] = out;
        this.slabs[s] = undefined;
        this.slabViews[s] = undefined;
        this.spare(raw);
      } else if (this.slabs[s] !== raw) {
        // Emptied while zlib read it: the buffer can be reused now.
        this.spare(raw);
      }
      if (this.packing.size === 0) for (const resolve of this.packed.splice(0)) resolve();
    });
  }

  private newSlab(buf: Buffer): number {
    const s = this.freeSlabIds.pop() ?? this.slabs.length;
    this.slabs[s] = buf;
    this.packs[s] = undefined;
    this.slabViews[s] = dataViewOf(buf);
    this.slabFill[s] = 0;
    this.slabLive[s] = 0;
    this.slabCounted[s] = 0;
    this.slabScopes[s] ??= [];
    this.slabFills[s] = this.fills++;
    return s;
  }
}
