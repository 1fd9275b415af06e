import { SPAN_COLUMN_BYTES, spanColumnsIn, WireSpans, type SpanColumns } from '../otlp/index.js';

/**
 * Where the trace buffer keeps the requests its spans wait in (issue 13, session 15): copied into chunks of 1 MiB
 * that are reused once every request in them has left, instead of the request Buffer the receiver assembled.
 *
 * Why: V8 counts the bytes of every ArrayBuffer allocated since its last mark-compact against the old
 * generation's limit (Heap::OldGenerationSpaceAvailable), and starts incremental marking when what is left of
 * the limit falls to the young generation's size. A request the trace buffer holds lives for `decision_wait`:
 * its Buffer (28 KiB for the footprint load's 100 spans) and its index columns are promoted and only freed by a
 * mark-compact. At full speed that was 17 MB/s of such bytes, and with the completion slabs it started a
 * mark-compact about every 250 ms on a 12 MB heap: the garbage collector took about 40 % of the agent's CPU (a
 * quarter of the main thread, and the four V8 worker threads; BENCHMARKS.md "Session 15"). Copied here, the
 * request's own Buffer and columns die young (a scavenge frees them) and the chunks are allocated once.
 *
 * The rule that makes reuse safe: bytes of a request let go (its pins back to 0) are read only in the same
 * synchronous pass. Every pass that takes spans out of the trace buffer copies them before it returns: kept
 * spans into the export request (KeptOutbox.pushKept finishes the assembler), dropped spans into the completion
 * slabs (HoldBuffer.add). A chunk is written again only by `adopt`, in a later consume, which first fills it
 * with 0xee: a view kept past its pass then reads garbage in tests rather than plausible spans.
 */
export const HELD_CHUNK_BYTES = 1 << 20;
/** A request larger than this keeps the receiver's Buffer (and the GC frees it). */
const MAX_ADOPTED_BYTES = HELD_CHUNK_BYTES / 4;
/** Emptied chunks kept for reuse; beyond them a chunk is let go to the GC. */
const MAX_SPARE_CHUNKS = 2;
const POISON = 0xee;

class Chunk {
  used = 0;
  /** Written since it was last filled with POISON. */
  dirty = false;
  /** Requests in it not let go yet. */
  live = 0;
  constructor(readonly buf: Buffer) {}
}

/** A request's spans as the trace buffer holds them: in a chunk, pinned by each buffer row that names them. */
export class HeldSpans extends WireSpans {
  /** Trace buffer rows that name it, plus one while the pass that adopted it runs. */
  pins = 1;

  constructor(
    source: WireSpans,
    buf: Buffer,
    columns: SpanColumns,
    private readonly chunk: Chunk,
    private readonly owner: HeldRequests,
  ) {
    super(
      buf,
      source.scopes,
      source.count,
      columns.scopeIndex,
      columns.offsets,
      columns.lengths,
      columns.kinds,
      columns.statusCodes,
      columns.marks,
      columns.durationsNs,
      [],
      [],
      columns.startsHi,
      columns.startsLo,
    );
    // The sampler reads ids and names from the request it adopted; these are never read.
    this.traceIds = undefined;
    this.names = undefined;
  }

  pin(): void {
    this.pins++;
  }

  /** One holder fewer; with none left its bytes go back to the chunk (read them no more after this pass). */
  unpin(): void {
    if (--this.pins === 0) this.owner.letGo(this.chunk);
  }
}

/** The chunks held requests are copied into (see the file's comment). */
export class HeldRequests {
  private current: Chunk | undefined;
  private readonly spares: Chunk[] = [];
  /** Chunks allocated and not let go to the GC: the one being filled, full ones with live requests, spares. */
  private chunkCount = 0;
  private liveCount = 0;

  /**
   * `spans` copied into a chunk, pinned once for the caller's pass (`unpin` at its end), or `spans` itself when
   * it is too large to copy.
   */
  adopt(spans: WireSpans): WireSpans {
    const body = spans.buf.length;
    const n = spans.count;
    const start = align8(body);
    const need = align8(start + n * SPAN_COLUMN_BYTES);
    if (need > MAX_ADOPTED_BYTES) return spans;
    const chunk = this.room(need);
    const at = chunk.used;
    if (at === 0 && chunk.dirty) chunk.buf.fill(POISON);
    chunk.dirty = true;
    chunk.used = at + need;
    chunk.live++;
    this.liveCount++;
    const buf = chunk.buf;
    spans.buf.copy(buf, at);
    const columns = spanColumnsIn(buf.buffer, buf.byteOffset + at + start, n);
    copyColumns(spans, columns, n);
    return new HeldSpans(spans, buf.subarray(at, at + body), columns, chunk, this);
  }

  /**
   * A request in `chunk` let go (HeldSpans.unpin). Its bytes stay as they are until the next `adopt`: the pass
   * that let it go may still copy them.
   */
  letGo(chunk: Chunk): void {
    this.liveCount--;
    if (--chunk.live > 0) return;
    chunk.used = 0;
    if (chunk !== this.current) this.spare(chunk);
  }

  /** Chunks allocated (filled, spare or being filled) and requests held in them. */
  get stats(): { chunks: number; spares: number; requests: number; bytes: number } {
    return {
      chunks: this.chunkCount,
      spares: this.spares.length,
      requests: this.liveCount,
      bytes: this.chunkCount * HELD_CHUNK_BYTES,
    };
  }

  private room(need: number): Chunk {
    const c = this.current;
    if (c !== undefined && c.used + need <= HELD_CHUNK_BYTES) return c;
    // A full chunk stays until its last request leaves (letGo then makes it a spare).
    let next = this.spares.pop();
    if (next === undefined) {
      next = new Chunk(Buffer.allocUnsafeSlow(HELD_CHUNK_BYTES));
      this.chunkCount++;
    }
    this.current = next;
    return next;
  }

  private spare(chunk: Chunk): void {
    if (this.spares.length < MAX_SPARE_CHUNKS) this.spares.push(chunk);
    else this.chunkCount--;
  }
}

/** `from`'s columns into `to` (a WireSpans' columns hold exactly its `count` rows; others are cut to `n`). */
function copyColumns(from: WireSpans, to: SpanColumns, n: number): void {
  const rows = <T extends Uint32Array | Uint8Array | Float64Array>(a: T): T =>
    a.length === n ? a : (a.subarray(0, n) as T);
  to.durationsNs.set(rows(from.durationsNs));
  to.scopeIndex.set(rows(from.scopeIndex));
  to.offsets.set(rows(from.offsets));
  to.lengths.set(rows(from.lengths));
  to.startsHi.set(rows(from.startsHi));
  to.startsLo.set(rows(from.startsLo));
  to.kinds.set(rows(from.kinds));
  to.statusCodes.set(rows(from.statusCodes));
  to.marks.set(rows(from.marks));
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
