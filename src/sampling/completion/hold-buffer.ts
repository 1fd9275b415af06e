import type { Span } from '../../otlp/index.js';
import type { SpanOrigin } from '../buffered-trace.js';

/** The spans of one dropped trace that this agent still holds, in case another agent kept the trace. */
export interface HeldTrace {
  readonly traceId: string;
  /** Clock time the trace was first held; it leaves `window` later. */
  readonly heldAtMs: number;
  readonly spans: Span[];
  readonly origins: SpanOrigin[];
  bytes: number;
}

/** Why held spans left without being released. */
export type EvictionReason = 'bytes' | 'age';

export interface HoldBufferOptions {
  /** `sampling.completion.window`: how long a dropped trace is held. */
  readonly windowMs: number;
  /** `sampling.completion.max_bytes`: estimated heap bytes held at most; beyond, the oldest trace goes. */
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
  private readonly traces = new Map<string, HeldTrace>();
  private byteCount = 0;
  private spanCount = 0;

  constructor(private readonly options: HoldBufferOptions) {}

  /**
   * Holds spans of a dropped trace (all of it at its decision, or late spans later); a trace already held
   * keeps its place and age. Expired and, past `max_bytes`, the oldest traces are evicted first.
   */
  add(traceId: string, spans: Span[], origins: SpanOrigin[], bytes: number, nowMs: number): void {
    this.expire(nowMs);
    let held = this.traces.get(traceId);
    if (held === undefined) {
      held = { traceId, heldAtMs: nowMs, spans, origins, bytes };
      this.traces.set(traceId, held);
    } else {
      for (let i = 0; i < spans.length; i++) {
        held.spans.push(spans[i] as Span);
        held.origins.push(origins[i] as SpanOrigin);
      }
      held.bytes += bytes;
    }
    this.byteCount += bytes;
    this.spanCount += spans.length;
    while (this.byteCount > this.options.maxBytes && this.traces.size > 0) {
      const oldest = this.traces.values().next().value as HeldTrace;
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
    for (const held of this.traces.values()) {
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
    const oldest = this.traces.values().next();
    return oldest.done ? undefined : oldest.value.heldAtMs + this.options.windowMs;
  }

  get stats(): { traces: number; spans: number; bytes: number } {
    return { traces: this.traces.size, spans: this.spanCount, bytes: this.byteCount };
  }

  private remove(held: HeldTrace): void {
    this.traces.delete(held.traceId);
    this.byteCount -= held.bytes;
    this.spanCount -= held.spans.length;
    if (this.traces.size === 0) {
      this.byteCount = 0; // no float drift once empty
      this.spanCount = 0;
    }
  }
}
