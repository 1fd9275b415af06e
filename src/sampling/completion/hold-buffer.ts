import { copyBytes, type WireLogs, type WireScope, type WireSpans } from '../../otlp/index.js';
import { IdTable } from '../id-table.js';
import { grow, INITIAL_ROWS, NONE, Rows } from '../rows.js';
import { Slabs } from './slabs.js';

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
 * id table (typed arrays grown by half, rows.ts; id-table.ts). A one-part trace's rows are 64 B (part 20: scope,
 * slab, offset, spans, next; trace 28: heldAt, bytes, last, prev, next; id words 16), plus two to four 4-byte
 * slots of the id table. Measured (bench/hold-buffer.ts: 100,000 one-part traces of 5 spans, heapUsed +
 * arrayBuffers after a full GC, minus the slabs): 105 B, its columns then 1.42x their rows; the index's arrays
 * alone, between 10,000 and 160,000 held parts, 74-108 B a part (mean 90.5). Counted 112, the most they come to:
 * 64 x 1.5 just after the columns grew, and 16 of slots just after the slots doubled. (Until the hash, first,
 * spans and logs columns went and the columns grew by doubling: 85 B of rows, measured 116, counted 160. Session
 * 12: with a Map entry and an id string per trace it measured 172 B, counted 200; packed slabs made it a third of
 * what a held trace counts at 10k spans/s.) A late part of a trace already held costs less (no trace row or id);
 * it is counted the same, so that a part's figure does not depend on what came before it. (The string layout
 * before issue 13 counted 400 + 8 per span and measured 659 B.)
 */
export const HELD_PART_OVERHEAD_BYTES = 112;
/**
 * Bytes per held span beyond its own: its header in the slab, `length * 8 + marks` as a little-endian uint32
 * (the MARK_* bits are three); 8 bytes when the part's spans do not share one scope: the scope's index too.
 */
export const HELD_SPAN_OVERHEAD_BYTES = 4;
const SCOPED_SPAN_HEADER_BYTES = 8;

/** Slabs of at most 1 MiB (fewer, smaller ones for a small `max_bytes`: 1/16 of it, at least 64 KiB). */
const MAX_SLAB_BYTES = 1 << 20;
const MIN_SLAB_BYTES = 1 << 16;

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

/**
 * Held parts: where each lies (slab id, offset), its spans and whether they are log records, its scope(s). A
 * trace's parts are a ring through `next`, the last (newest) part's next being the first.
 */
class PartRows extends Rows {
  /** The scope table's index of every span's scope, or NONE: each span's header names its own. */
  scope = new Int32Array(INITIAL_ROWS);
  slab = new Int32Array(INITIAL_ROWS);
  offset = new Int32Array(INITIAL_ROWS);
  /** Its spans, or, when they are log records, `~count` (negative): no column of its own for that bit. */
  spans = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.scope = grow(this.scope, n);
    this.slab = grow(this.slab, n);
    this.offset = grow(this.offset, n);
    this.spans = grow(this.spans, n);
  }
}

/**
 * Held traces, linked oldest to newest (`prev`, `next`), each with the last row of its ring of parts (the first is
 * the last's next). Its span count is not kept: its parts' are summed when it leaves.
 */
class TraceRows extends Rows {
  heldAt = new Float64Array(INITIAL_ROWS);
  bytes = new Float64Array(INITIAL_ROWS);
  last = new Int32Array(INITIAL_ROWS);
  prev = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.heldAt = grow(this.heldAt, n);
    this.bytes = grow(this.bytes, n);
    this.last = grow(this.last, n);
    this.prev = grow(this.prev, n);
  }
}

/**
 * The completion buffer (issue 9): dropped traces, oldest first, bounded by age and bytes. A trace leaves
 * it when the decision feed says another agent kept it (`take`), when it is older than the window, or when
 * room is needed (oldest first). It is a best-effort cache of data the sampler already decided to drop, so
 * it does not count in the receivers' memory budget: its own bound, `max_bytes`, is on top of it.
 *
 * Issue 13: the held bytes live outside the V8 heap, in slabs (./slabs.ts, 1 MiB) filled one after another; a
 * part is its spans, each behind a 4-byte header (length and marks). What is left in the heap is a few numbers
 * per part and per trace in typed-array columns, the trace ids in the sampler's id table (id-table.ts), and a
 * small table of the (interned) scopes: no string, object or array per part or trace, so the old space neither
 * grows with the held spans nor gets marked through them (bench/hold-buffer.ts: old space at most 15 MiB
 * instead of 159 MiB, GC pauses 0.15x). Space of a part that left while others in its slab live on is dead
 * until the slab empties, and counted until then. Since parts are written in hold order and traces leave oldest
 * first, the oldest slab empties first, as in a ring; a trace taken from the middle leaves a hole that its
 * slab's other parts outlive. A part larger than a slab gets a slab of its own; a part larger than `max_bytes`
 * is not copied (it would be evicted at once): its trace is evicted, as every older one. Full slabs are deflated
 * (session 12, ./slabs.ts): OTLP spans deflate 4-6x, so `max_bytes` holds that many times the seconds of
 * dropped spans it held unpacked (BENCHMARKS.md "Session 12").
 */
export class HoldBuffer {
  private readonly windowMs: number;
  private readonly maxBytes: number;
  private readonly onEvict: (trace: EvictedTrace, reason: EvictionReason) => void;

  /** Trace id -> trace row, without a string or a Map entry per trace (id-table.ts). */
  private ids = new IdTable();
  private traces = new TraceRows();
  private parts = new PartRows();
  private readonly slabs: Slabs;
  private oldest = NONE;
  private newest = NONE;
  private partCount = 0;
  private spanCount = 0;

  constructor(options: HoldBufferOptions) {
    this.windowMs = options.windowMs;
    this.maxBytes = options.maxBytes;
    this.onEvict = options.onEvict;
    const slabBytes =
      options.slabBytes ??
      Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, Math.floor(options.maxBytes / 16)));
    this.slabs = new Slabs(slabBytes, options.pack ?? true);
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
    this.append(traceId, p, bytes, nowMs);
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
    while (this.oldest !== t) this.evict(this.oldest, 'bytes');
    const trace = this.remove(t, false);
    this.onEvict({ ...trace, spanCount: trace.spanCount + spans, bytes: trace.bytes + bytes }, 'bytes');
  }

  /** Copies the part's spans into a slab, each behind its header; returns its row. */
  private write(part: PartToHold, shared: WireScope | undefined, header: number, size: number): number {
    const { requests, indexes, count } = part;
    const p = this.parts.add();
    this.parts.slab[p] = NONE;
    this.parts.scope[p] = NONE;
    if (count > 0) {
      const slabs = this.slabs;
      slabs.place(size);
      const s = slabs.placed;
      const slab = slabs.view(s);
      let pos = slabs.placedOffset;
      this.parts.slab[p] = s;
      this.parts.offset[p] = pos;
      // Copied through DataViews (otlp/byte-copy.ts): Buffer.copy made a view per span.
      for (let k = 0; k < count; k++) {
        const req = requests[k] as WireSpans | WireLogs;
        const i = indexes[k] as number;
        const off = req.offsets[i] as number;
        const len = req.lengths[i] as number;
        slab.setUint32(pos, len * 8 + (req.marks[i] as number), true);
        if (shared === undefined) slab.setUint32(pos + 4, slabs.scopeIn(s, req.scope(i)), true);
        pos += header;
        copyBytes(req.dataView, off, slab, pos, len);
        pos += len;
      }
      if (shared !== undefined) this.parts.scope[p] = slabs.scopeIn(s, shared);
      slabs.wrote(s);
    }
    this.parts.spans[p] = part.logs ? ~count : count;
    return p;
  }

  /** Adds part `p` to its trace (after its last, before its first), or starts the trace, the newest. */
  private append(traceId: string, p: number, bytes: number, nowMs: number): void {
    const t = this.ids.find(traceId);
    if (t !== NONE) {
      const last = this.traces.last[t] as number;
      this.parts.next[p] = this.parts.next[last] as number;
      this.parts.next[last] = p;
      this.traces.last[t] = p;
      this.traces.bytes[t] = (this.traces.bytes[t] as number) + bytes;
      return;
    }
    const n = this.traces.add();
    this.ids.add(traceId, n);
    this.traces.heldAt[n] = nowMs;
    this.traces.bytes[n] = bytes;
    this.parts.next[p] = p;
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

  /**
   * The takes of one release are over: the inflated slab kept for them is let go (1 MiB that would otherwise stay
   * until the next release).
   */
  endTakes(): void {
    this.slabs.forgetInflated();
  }

  /** Whether an inflated slab is kept for the next take (tests). */
  get keepsInflated(): boolean {
    return this.slabs.keepsInflated;
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
    if (this.oldest === NONE && this.slabs.inUse) this.clear();
  }

  /** Drops everything (shutdown): held spans were dropped data, so nothing is lost that was promised. */
  clear(): void {
    this.ids = new IdTable();
    this.traces = new TraceRows();
    this.parts = new PartRows();
    this.slabs.clear();
    this.oldest = NONE;
    this.newest = NONE;
    this.partCount = 0;
    this.spanCount = 0;
  }

  /** When the oldest trace expires, or undefined when nothing is held. */
  nextExpiryMs(): number | undefined {
    return this.oldest === NONE ? undefined : (this.traces.heldAt[this.oldest] as number) + this.windowMs;
  }

  /**
   * What is held. `bytes`, the figure `max_bytes` bounds: what the slabs count (./slabs.ts: of the slab being
   * filled, up to where it is written; of an earlier slab, all of it, dead space of parts that left included, or
   * its packed bytes once packed; of a part's own slab, its size), plus HELD_PART_OVERHEAD_BYTES per held part.
   * With no dead space and nothing packed, the sum of `heldPartBytes` of the held parts.
   */
  get stats(): { traces: number; spans: number; bytes: number } {
    return { traces: this.ids.size, spans: this.spanCount, bytes: this.bytes };
  }

  /** The slabs: how many are in use (packed or not), and the bytes allocated for them (spares included). */
  get slabStats(): { slabs: number; spares: number; allocatedBytes: number } {
    return this.slabs.stats;
  }

  /** Slabs held packed, and their packed bytes. */
  get packStats(): { slabs: number; bytes: number } {
    return this.slabs.packStats;
  }

  /** Resolves when no slab is being packed (tests, benchmarks). */
  packsDone(): Promise<void> {
    return this.slabs.packsDone();
  }

  /** Scopes that held spans name (each kept alive by the buffer until no slab names it). */
  get scopeCount(): number {
    return this.slabs.scopeCount;
  }

  private get bytes(): number {
    return this.slabs.bytes + this.partCount * HELD_PART_OVERHEAD_BYTES;
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
    let spanCount = 0;
    const last = this.traces.last[t] as number;
    // Round its ring of parts from the first (the last's next) to the last.
    for (let p = this.parts.next[last] as number; ;) {
      const spans = this.parts.spans[p] as number;
      if (spans >= 0) spanCount += spans;
      const slab = this.parts.slab[p] as number;
      if (slab !== NONE) {
        if (withParts) {
          const scope = this.parts.scope[p] as number;
          parts.push({
            slab: this.slabs.bytesOf(slab),
            offset: this.parts.offset[p] as number,
            spanCount: spans >= 0 ? spans : ~spans,
            scope: scope === NONE ? undefined : this.slabs.scope(scope),
            scopes: this.slabs.scopeList,
            logs: spans < 0,
          });
        }
        this.slabs.leave(slab);
      }
      const next = this.parts.next[p] as number;
      this.parts.delete(p);
      this.partCount--;
      if (p === last) break;
      p = next;
    }
    const held: HeldTrace = {
      traceId,
      heldAtMs: this.traces.heldAt[t] as number,
      parts,
      spanCount,
      bytes: this.traces.bytes[t] as number,
    };
    this.spanCount -= spanCount;
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
}
