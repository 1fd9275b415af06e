/**
 * The completion buffer as it was before issue 13 moved its bytes into slabs (commit 497539b): each held part a
 * latin1 string, an index array and a scopes array. Kept only as the baseline of bench/hold-buffer.ts.
 */
import type { WireLogs, WireScope, WireSpans } from '../src/otlp/index.js';
import { FifoMap } from './_fifo-map.js';

/**
 * Spans of one dropped trace, copied out of their requests (issue 13): a held trace lives for the completion
 * window (30 s), and a view into a request would keep the whole request alive. The bytes are kept as a
 * one-byte (latin1) string: a V8 string costs 16 bytes beside its characters, a Uint8Array about 200
 * (bench/wire-path.ts), and a held trace is copied back out only when the feed releases it.
 */
export interface HeldPart {
  /** The spans' Span messages, one after another, one char per byte. */
  readonly data: string;
  /** Per span: `end * 8 + marks`, where it ends in `data` (it starts where the previous one ends) and the
   * scanner's marks (sampling attributes it carries already). */
  readonly index: readonly number[];
  /** Per span its scope, or one scope for all when they share it (the common case). */
  readonly scopes: readonly WireScope[];
  /** Log records of the trace (issue 16) rather than spans: released with them, to the logs pipeline. */
  readonly logs?: true;
}

/** Heap bytes of a held part beyond its span bytes (object, string header, two small arrays, Map entry, id). */
export const HELD_PART_OVERHEAD_BYTES = 400;
/** Heap bytes per held span beyond its bytes: its slots in the two arrays. */
export const HELD_SPAN_OVERHEAD_BYTES = 8;

/** What a part holds, in bytes: the figure `max_bytes` bounds. */
export function heldPartBytes(part: HeldPart): number {
  return part.data.length + part.index.length * HELD_SPAN_OVERHEAD_BYTES + HELD_PART_OVERHEAD_BYTES;
}

/** Copies log records (`indexes[k]` of `requests[k]`) out into one held part (issue 16). */
export function holdLogs(requests: readonly WireLogs[], indexes: readonly number[]): HeldPart {
  return { ...holdSpans(requests, indexes), logs: true };
}

/** Copies spans (`indexes[k]` of `requests[k]`) out into one held part. */
export function holdSpans(
  requests: ReadonlyArray<WireSpans | WireLogs>,
  indexes: readonly number[],
): HeldPart {
  let total = 0;
  for (let k = 0; k < indexes.length; k++)
    total += (requests[k] as WireSpans | WireLogs).lengths[indexes[k] as number] as number;
  const copy = Buffer.allocUnsafe(total);
  const index: number[] = [];
  const scopes: WireScope[] = [];
  let uniform = true;
  let pos = 0;
  for (let k = 0; k < indexes.length; k++) {
    const req = requests[k] as WireSpans | WireLogs;
    const i = indexes[k] as number;
    const off = req.offsets[i] as number;
    const len = req.lengths[i] as number;
    req.buf.copy(copy, pos, off, off + len);
    pos += len;
    index.push(pos * 8 + (req.marks[i] as number));
    const scope = req.scope(i);
    if (k > 0 && scope !== scopes[0]) uniform = false;
    scopes.push(scope);
  }
  return { data: copy.toString('latin1'), index, scopes: uniform ? scopes.slice(0, 1) : scopes };
}

/** Calls `visit` for every span of a held part, with its bytes' bounds in `bytes`. */
export function forEachHeldSpan(
  part: HeldPart,
  visit: (scope: WireScope, bytes: Buffer, start: number, end: number, marks: number) => void,
): void {
  const bytes = Buffer.from(part.data, 'latin1');
  let start = 0;
  for (let k = 0; k < part.index.length; k++) {
    const v = part.index[k] as number;
    const end = Math.floor(v / 8);
    visit(
      (part.scopes.length === 1 ? part.scopes[0] : part.scopes[k]) as WireScope,
      bytes,
      start,
      end,
      v % 8,
    );
    start = end;
  }
}

/** The spans of one dropped trace that this agent still holds, in case another agent kept the trace. */
export interface HeldTrace {
  readonly traceId: string;
  /** Clock time the trace was first held; it leaves `window` later. */
  readonly heldAtMs: number;
  readonly parts: HeldPart[];
  spanCount: number;
  bytes: number;
}

/** Why held spans left without being released. */
export type EvictionReason = 'bytes' | 'age';

export interface HoldBufferOptions {
  /** `sampling.completion.window`: how long a dropped trace is held. */
  readonly windowMs: number;
  /** `sampling.completion.max_bytes`: bytes held at most (span bytes plus their index); beyond, the oldest trace goes. */
  readonly maxBytes: number;
  /** Told of every trace that leaves unreleased (for metrics). */
  readonly onEvict: (trace: HeldTrace, reason: EvictionReason) => void;
}

/**
 * The completion buffer (issue 9): dropped traces, oldest first, bounded by age and bytes. A trace leaves
 * it when the decision feed says another agent kept it (`take`), when it is older than the window, or when
 * room is needed (oldest first). It is a best-effort cache of data the sampler already decided to drop, so
 * it does not count in the receivers' memory budget: its own bound, `max_bytes`, is on top of it.
 */
export class HoldBuffer {
  /** Insertion order is hold order, so the first entry is always the oldest. */
  private readonly traces = new FifoMap<string, HeldTrace>();
  private byteCount = 0;
  private spanCount = 0;

  constructor(private readonly options: HoldBufferOptions) {}

  /**
   * Holds spans of a dropped trace (all of it at its decision, or late spans later); a trace already held
   * keeps its place and age. Expired and, past `max_bytes`, the oldest traces are evicted first.
   */
  add(traceId: string, part: HeldPart, nowMs: number): void {
    this.expire(nowMs);
    const bytes = heldPartBytes(part);
    const spans = part.logs ? 0 : part.index.length;
    let held = this.traces.get(traceId);
    if (held === undefined) {
      held = { traceId, heldAtMs: nowMs, parts: [part], spanCount: spans, bytes };
      this.traces.set(traceId, held);
    } else {
      held.parts.push(part);
      held.spanCount += spans;
      held.bytes += bytes;
    }
    this.byteCount += bytes;
    this.spanCount += spans;
    for (let oldest = this.traces.oldest(); oldest !== undefined; oldest = this.traces.oldest()) {
      if (this.byteCount <= this.options.maxBytes) break;
      this.remove(oldest);
      this.options.onEvict(oldest, 'bytes');
    }
  }

  /** Removes and returns a held trace (the feed said another agent kept it), or undefined. */
  take(traceId: string): HeldTrace | undefined {
    const held = this.traces.get(traceId);
    if (held !== undefined) this.remove(held);
    return held;
  }

  has(traceId: string): boolean {
    return this.traces.has(traceId);
  }

  /** Evicts every trace held longer than the window. */
  expire(nowMs: number): void {
    const cutoff = nowMs - this.options.windowMs;
    for (let held = this.traces.oldest(); held !== undefined; held = this.traces.oldest()) {
      if (held.heldAtMs > cutoff) break;
      this.remove(held);
      this.options.onEvict(held, 'age');
    }
  }

  /** Drops everything (shutdown): held spans were dropped data, so nothing is lost that was promised. */
  clear(): void {
    this.traces.clear();
    this.byteCount = 0;
    this.spanCount = 0;
  }

  /** When the oldest trace expires, or undefined when nothing is held. */
  nextExpiryMs(): number | undefined {
    const oldest = this.traces.oldest();
    return oldest === undefined ? undefined : oldest.heldAtMs + this.options.windowMs;
  }

  get stats(): { traces: number; spans: number; bytes: number } {
    return { traces: this.traces.size, spans: this.spanCount, bytes: this.byteCount };
  }

  private remove(held: HeldTrace): void {
    this.traces.delete(held.traceId);
    this.byteCount -= held.bytes;
    this.spanCount -= held.spanCount;
    if (this.traces.size === 0) {
      this.byteCount = 0;
      this.spanCount = 0;
    }
  }
}
