/**
 * The trace buffer as it was before issue 13 laid it out in typed-array columns (commit e980ddc): per waiting
 * trace a WireTrace object with two arrays (request, index per span), in a FifoMap keyed by the trace id. Kept
 * only as the baseline of bench/trace-buffer.ts (the policies' two fast paths over it included).
 */
import type { WireSpans } from '../src/otlp/index.js';
import { FifoMap } from './_fifo-map.js';

export const TRACE_OVERHEAD_BYTES = 560;
export const SPAN_OVERHEAD_BYTES = 16;

export class WireTrace {
  readonly requests: WireSpans[] = [];
  readonly indexes: number[] = [];
  bytes = 0;
  constructor(
    readonly traceId: string,
    readonly firstSeenMs: number,
  ) {}

  get spanCount(): number {
    return this.indexes.length;
  }
}

export class TraceBuffer {
  private readonly traces = new FifoMap<string, WireTrace>();
  private spans = 0;
  private byteCount = 0;

  get size(): number {
    return this.traces.size;
  }

  get spanCount(): number {
    return this.spans;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get(traceId: string): WireTrace | undefined {
    return this.traces.get(traceId);
  }

  open(traceId: string, nowMs: number): WireTrace {
    const trace = new WireTrace(traceId, nowMs);
    this.traces.set(traceId, trace);
    this.byteCount += TRACE_OVERHEAD_BYTES;
    return trace;
  }

  addSpan(trace: WireTrace, request: WireSpans, i: number, share: number): void {
    trace.requests.push(request);
    trace.indexes.push(i);
    trace.bytes += share;
    this.spans++;
    this.byteCount += share + SPAN_OVERHEAD_BYTES;
  }

  remove(trace: WireTrace): void {
    this.traces.delete(trace.traceId);
    this.spans -= trace.spanCount;
    this.byteCount -= trace.bytes + trace.spanCount * SPAN_OVERHEAD_BYTES + TRACE_OVERHEAD_BYTES;
    if (this.traces.size === 0) this.byteCount = 0;
  }

  oldest(): WireTrace | undefined {
    return this.traces.oldest();
  }
}

/** The latency policy's fast path as it read the two arrays. */
export function latencyMs(trace: WireTrace): number | undefined {
  const { requests, indexes } = trace;
  if (indexes.length === 0) return undefined;
  const r0 = requests[0]!;
  const hi0 = r0.startsHi[indexes[0]!]!;
  const lo0 = r0.startsLo[indexes[0]!]!;
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < indexes.length; k++) {
    const req = requests[k]!;
    const i = indexes[k]!;
    const start = (req.startsHi[i]! - hi0) * 4294967296 + (req.startsLo[i]! - lo0);
    const end = start + req.durationsNs[i]!;
    if (start < min) min = start;
    if (end > max) max = end;
  }
  return max > min ? Math.floor((max - min) / 1_000_000) : 0;
}

/** The status_code policy's fast path as it read the two arrays. */
export function hasStatusCode(trace: WireTrace, codes: ReadonlySet<number>): boolean {
  const { requests, indexes } = trace;
  for (let k = 0; k < indexes.length; k++) if (codes.has(requests[k]!.statusCodes[indexes[k]!]!)) return true;
  return false;
}
