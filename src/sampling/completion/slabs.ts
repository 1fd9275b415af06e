import { dataViewOf, type WireScope } from '../../otlp/index.js';
import { NONE } from '../rows.js';
import { PACK_CODEC } from './pack-codec.js';
/**
 * Emptied slabs kept for the next fill. Under steady load the oldest slab empties about when a new one is
 * needed (a 1 MiB slab holds about half a second of dropped spans at 10,000 spans/s), so one spare turns the
 * ring without allocating, and without a 1 MiB Buffer for the GC to find dead every half second; more would
 * only hold memory after a burst.
 */
const SPARE_SLABS = 1;
/** A packed slab replaces its slab only when it saves at least an eighth. */
const PACK_AT_MOST = 0.875;
/**
 * The scopes of held spans, each under an index that parts and span headers name (no array per part), counted
 * by slab: a slab holds one reference to each scope its spans name, taken when it first writes one and given
 * back when it empties, so that a part leaving never reads its slab (a packed slab would have to be inflated).
 * An index is free again when no slab names it. Scopes are interned by the scanner, so there are few. A freed
 * index keeps its scope until it is given out again: a taken part's view still reads it.
 */
class ScopeTable {
  private readonly ids = new Map<WireScope, number>();
  readonly list: Array<WireScope | undefined> = [];
  private readonly refs: number[] = [];
  /** The slab fill (`Slabs`) that last took a reference to each index. */
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
 * Where the completion buffer's bytes sit (issue 13): slabs outside the V8 heap (Buffer.allocUnsafeSlow), each
 * written once from start to end, counting its live parts; when the last leaves it is emptied whole and reused.
 * A size larger than a slab gets a slab of its own, let go when it empties. What a slab counts (`bytes`): up to
 * where it is written while it is being filled; all of it once sealed (its unwritten end cannot be used until
 * it empties), dead space of parts that left included; its packed bytes once packed.
 *
 * Packing (session 12): held spans are cold (most leave by age unread; the feed takes a few), so a sealed slab is
 * packed on libuv's thread pool (`PACK_CODEC`: zstd or raw deflate at level 1, ./pack-codec.ts) and, when that
 * saves an eighth or more, kept as its packed bytes. Reading a packed slab (`bytesOf`) inflates it; the last one inflated is kept for the next read,
 * as the feed's ids of one poll tend to share slabs, until `forgetInflated` (the end of the poll's release). A
 * slab that empties while zlib reads it is not reused until zlib is done; a packing that ends after its slab
 * emptied, or after `clear`, changes nothing.
 */
export class Slabs {
  private readonly size: number;
  private readonly pack: boolean;
  private scopes = new ScopeTable();
  // By slab id: the buffer (undefined once packed), its packed bytes, a DataView of it (for copying spans in,
  // otlp/byte-copy.ts), how far it is written, its live parts, what it counts, the scope indexes it references,
  // and its fill: a number given to each filling of a slab id, never again.
  private raw: Array<Buffer | undefined> = [];
  private packs: Array<Buffer | undefined> = [];
  private views: Array<DataView | undefined> = [];
  private written: number[] = [];
  private live: number[] = [];
  private counted: number[] = [];
  private scopeIds: number[][] = [];
  private fillOf: number[] = [];
  private freeIds: number[] = [];
  private spares: Buffer[] = [];
  /** The slab being filled, or NONE. */
  private current = NONE;
  private fills = 0;
  /** Counts `clear`s: a packing that ends after one changes nothing. */
  private epoch = 0;
  /** Slab buffers zlib is reading: not reused as spares until it is done. */
  private readonly packing = new Set<Buffer>();
  private packed: Array<() => void> = [];
  /** The last packed slab inflated: its id, its fill and its bytes. */
  private inflatedSlab = NONE;
  private inflatedFill = -1;
  private inflated: Buffer | undefined;
  /** What the slabs count (see the class). */
  bytes = 0;
  /** Where `place` put the last bytes. */
  placed = NONE;
  placedOffset = 0;

  constructor(slabBytes: number, pack: boolean) {
    this.size = slabBytes;
    this.pack = pack;
  }

  /** Whether any slab is allocated. */
  get inUse(): boolean {
    return this.raw.length > 0;
  }

  /**
   * Finds room for `size` bytes (size > 0) in the slab being filled, a new one, or a slab of its own
   * (`placed`, `placedOffset`); the caller writes them through `view(placed)` at once, then, for a slab of its
   * own, calls `written(placed)`.
   */
  place(size: number): void {
    if (size > this.size) {
      const s = this.newSlab(Buffer.allocUnsafeSlow(size));
      this.written[s] = size;
      this.counted[s] = size;
      this.bytes += size;
      this.live[s] = 1;
      this.placed = s;
      this.placedOffset = 0;
      return;
    }
    let s = this.current;
    if (s === NONE || (this.written[s] as number) + size > this.size) {
      if (s !== NONE) {
        // Sealed: its unwritten end counts until it empties (it has live parts, or it would be empty).
        this.bytes += this.size - (this.counted[s] as number);
        this.counted[s] = this.size;
        this.startPacking(s);
      }
      s = this.newSlab(this.spares.pop() ?? Buffer.allocUnsafeSlow(this.size));
      this.current = s;
    }
    const at = this.written[s] as number;
    this.written[s] = at + size;
    this.counted[s] = (this.counted[s] as number) + size;
    this.bytes += size;
    this.live[s] = (this.live[s] as number) + 1;
    this.placed = s;
    this.placedOffset = at;
  }

  /** The slab `place` just gave out, to write into. */
  view(s: number): DataView {
    return this.views[s] as DataView;
  }

  /** The bytes placed in slab `s` are written: a slab of their own is sealed, and packed. */
  wrote(s: number): void {
    if (s !== this.current) this.startPacking(s);
  }

  /** The index of `scope`, referenced by slab `s` (once per fill). */
  scopeIn(s: number, scope: WireScope): number {
    const id = this.scopes.idOf(scope);
    const fill = this.fillOf[s] as number;
    if (this.scopes.fill[id] !== fill) {
      this.scopes.fill[id] = fill;
      this.scopes.ref(id);
      (this.scopeIds[s] as number[]).push(id);
    }
    return id;
  }

  /** The scope under index `id`. */
  scope(id: number): WireScope {
    return this.scopes.list[id] as WireScope;
  }

  /** Every scope by index, as span headers name them (a view keeps reading it). */
  get scopeList(): readonly (WireScope | undefined)[] {
    return this.scopes.list;
  }

  /** Scopes that slabs reference. */
  get scopeCount(): number {
    return this.scopes.size;
  }

  /** Slab `s`'s bytes: the slab, or its packed bytes inflated (the last inflated slab is kept for the next). */
  bytesOf(s: number): Buffer {
    const raw = this.raw[s];
    if (raw !== undefined) return raw;
    const fill = this.fillOf[s] as number;
    if (this.inflatedSlab !== s || this.inflatedFill !== fill || this.inflated === undefined) {
      this.inflated = PACK_CODEC.unpack(this.packs[s] as Buffer);
      this.inflatedSlab = s;
      this.inflatedFill = fill;
    }
    return this.inflated;
  }

  /** Lets go of the inflated slab kept for the next read (the reads of one release are over). */
  forgetInflated(): void {
    this.inflatedSlab = NONE;
    this.inflated = undefined;
  }

  /** Whether an inflated slab is kept (tests). */
  get keepsInflated(): boolean {
    return this.inflated !== undefined;
  }

  /**
   * A part in slab `s` left: when it was the last, the slab is emptied (reused, kept spare or let go) and gives
   * back its scopes.
   */
  leave(s: number): void {
    const live = (this.live[s] as number) - 1;
    this.live[s] = live;
    if (live > 0) return;
    this.bytes -= this.counted[s] as number;
    this.counted[s] = 0;
    this.written[s] = 0;
    this.fillOf[s] = this.fills++;
    const scopes = this.scopeIds[s] as number[];
    for (const id of scopes) this.scopes.unref(id);
    scopes.length = 0;
    if (s === this.inflatedSlab) this.inflated = undefined;
    if (s === this.current) return;
    const buf = this.raw[s];
    this.raw[s] = undefined;
    this.packs[s] = undefined;
    this.views[s] = undefined;
    this.freeIds.push(s);
    if (buf !== undefined && !this.packing.has(buf)) this.spare(buf);
  }

  /** Lets every slab go (packings under way change nothing when they end). */
  clear(): void {
    this.epoch++;
    this.scopes = new ScopeTable();
    this.raw = [];
    this.packs = [];
    this.views = [];
    this.written = [];
    this.live = [];
    this.counted = [];
    this.scopeIds = [];
    this.fillOf = [];
    this.freeIds = [];
    this.spares = [];
    this.current = NONE;
    this.forgetInflated();
    this.bytes = 0;
  }

  /** The slabs: how many are in use (packed or not), and the bytes allocated for them (spares included). */
  get stats(): { slabs: number; spares: number; allocatedBytes: number } {
    let slabs = 0;
    let allocatedBytes = 0;
    for (let s = 0; s < this.raw.length; s++) {
      const buf = this.raw[s] ?? this.packs[s];
      if (buf === undefined) continue;
      slabs++;
      allocatedBytes += buf.length;
    }
    for (const s of this.spares) allocatedBytes += s.length;
    return { slabs, spares: this.spares.length, allocatedBytes };
  }

  /** Slabs held packed, their packed bytes, and the bytes of the buffers those live in (the same, or a leak). */
  get packStats(): { slabs: number; bytes: number; retainedBytes: number } {
    let slabs = 0;
    let bytes = 0;
    let retainedBytes = 0;
    for (const p of this.packs) {
      if (p === undefined) continue;
      slabs++;
      bytes += p.length;
      retainedBytes += p.buffer.byteLength;
    }
    return { slabs, bytes, retainedBytes };
  }

  /** Resolves when no slab is being packed. */
  packsDone(): Promise<void> {
    if (this.packing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.packed.push(resolve));
  }

  /** Keeps an emptied slab buffer for the next fill, or lets it go. */
  private spare(buf: Buffer): void {
    if (buf.length === this.size && this.spares.length < SPARE_SLABS) this.spares.push(buf);
  }

  /**
   * Deflates sealed slab `s` on the thread pool; when done, and the slab still holds the same fill, keeps the
   * packed bytes instead (when they save an eighth or more) and lets the slab's buffer go.
   */
  private startPacking(s: number): void {
    const raw = this.raw[s];
    if (!this.pack || raw === undefined) return;
    const fill = this.fillOf[s] as number;
    const written = this.written[s] as number;
    const epoch = this.epoch;
    this.packing.add(raw);
    PACK_CODEC.pack(raw.subarray(0, written), (err, out) => {
      this.packing.delete(raw);
      if (this.epoch !== epoch) {
        // Cleared meanwhile: everything it held was let go.
      } else if (err === null && this.fillOf[s] === fill && out.length <= written * PACK_AT_MOST) {
        this.bytes += out.length - (this.counted[s] as number);
        this.counted[s] = out.length;
        this.packs[s] = ownBytes(out);
        this.raw[s] = undefined;
        this.views[s] = undefined;
        this.spare(raw);
      } else if (this.raw[s] !== raw) {
        // Emptied while zlib read it: the buffer can be reused now.
        this.spare(raw);
      }
      if (this.packing.size === 0) for (const resolve of this.packed.splice(0)) resolve();
    });
  }

  private newSlab(buf: Buffer): number {
    const s = this.freeIds.pop() ?? this.raw.length;
    this.raw[s] = buf;
    this.packs[s] = undefined;
    this.views[s] = dataViewOf(buf);
    this.written[s] = 0;
    this.live[s] = 0;
    this.counted[s] = 0;
    this.scopeIds[s] ??= [];
    this.fillOf[s] = this.fills++;
    return s;
  }
}

/** `out`'s bytes in a buffer of their own (a zlib chunk is a view into a larger one). */
function ownBytes(out: Buffer): Buffer {
  if (out.byteOffset === 0 && out.buffer.byteLength === out.length) return out;
  const own = Buffer.allocUnsafeSlow(out.length);
  out.copy(own);
  return own;
}
