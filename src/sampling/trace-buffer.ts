import { WIRE_INDEX_BYTES_PER_LOG, type WireLogs, type WireSpans } from '../otlp/index.js';
import { WireTrace } from './buffered-trace.js';
import { FifoMap } from './fifo-map.js';

/** Heap bytes of a buffered trace beyond its spans: the object, two arrays, its Map entry and id (bench/wire-path.ts: measured 462 B per span against 449 counted). */
export const TRACE_OVERHEAD_BYTES = 560;
/** Heap bytes per buffered span beyond its share of its request: a slot in each of the two arrays. */
export const SPAN_OVERHEAD_BYTES = 16;
/** Heap bytes per buffered log record beyond its share of its request: two array slots and its index columns. */
export const LOG_OVERHEAD_BYTES = SPAN_OVERHEAD_BYTES + WIRE_INDEX_BYTES_PER_LOG;
/**
 * Heap bytes of a trace's two log arrays (issue 16), charged with its first record: bench/logs-sampling.ts
 * measured 266 B per held record of 153 protobuf bytes, 5 per trace, where records alone counted 170.
 */
export const TRACE_LOGS_OVERHEAD_BYTES = 400;

/**
 * Traces waiting for their decision, by id, in first-seen order (a Map's insertion order), so the oldest is
 * always the first entry. Spans stay in the request bytes they came in; `bytes` is their share of those
 * requests plus the index, the figure `max_buffered_bytes` bounds.
 */
export class TraceBuffer {
  private readonly traces = new FifoMap<string, WireTrace>();
  private spans = 0;
  private logs = 0;
  private byteCount = 0;

  get size(): number {
    return this.traces.size;
  }

  get spanCount(): number {
    return this.spans;
  }

  get logCount(): number {
    return this.logs;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get(traceId: string): WireTrace | undefined {
    return this.traces.get(traceId);
  }

  has(traceId: string): boolean {
    return this.traces.has(traceId);
  }

  /** Starts a trace (the caller checked it is not buffered). */
  open(traceId: string, nowMs: number): WireTrace {
    const trace = new WireTrace(traceId, nowMs);
    this.traces.set(traceId, trace);
    this.byteCount += TRACE_OVERHEAD_BYTES;
    return trace;
  }

  /** Adds span `i` of `request` to `trace`, charging `share` bytes of the request. */
  addSpan(trace: WireTrace, request: WireSpans, i: number, share: number): void {
    trace.requests.push(request);
    trace.indexes.push(i);
    trace.bytes += share;
    this.spans++;
    this.byteCount += share + SPAN_OVERHEAD_BYTES;
  }

  /**
   * Adds record `i` of `logs` to `trace` (issue 16): a log with a trace id waits with its trace, in the same
   * budget, charged its share of the request plus two array slots as a span is.
   */
  addLog(trace: WireTrace, logs: WireLogs, i: number, share: number): void {
    if (trace.logIndexes === undefined) this.byteCount += TRACE_LOGS_OVERHEAD_BYTES;
    (trace.logRequests ??= []).push(logs);
    (trace.logIndexes ??= []).push(i);
    trace.logBytes += share;
    this.logs++;
    this.byteCount += share + LOG_OVERHEAD_BYTES;
  }

  /** Takes a trace out (decided). */
  remove(trace: WireTrace): void {
    this.traces.delete(trace.traceId);
    this.spans -= trace.spanCount;
    this.logs -= trace.logCount;
    const logCount = trace.logCount;
    this.byteCount -=
      trace.bytes +
      trace.spanCount * SPAN_OVERHEAD_BYTES +
      TRACE_OVERHEAD_BYTES +
      (logCount > 0 ? trace.logBytes + logCount * LOG_OVERHEAD_BYTES + TRACE_LOGS_OVERHEAD_BYTES : 0);
    if (this.traces.size === 0) {
      this.byteCount = 0; // no float drift once empty
      this.logs = 0;
    }
  }

  oldest(): WireTrace | undefined {
    return this.traces.oldest();
  }

  values(): IterableIterator<WireTrace> {
    return this.traces.values();
  }
}
