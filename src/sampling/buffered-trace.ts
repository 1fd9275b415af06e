import type { KeyValue, WireLogs, WireSpans } from '../otlp/index.js';
import { readSpanFields } from '../otlp/index.js';
import { WireLogView, type PolicyLog } from './log-match.js';
import { NONE } from './rows.js';
import type { TraceBuffer } from './trace-buffer.js';

/** What the policies read of a span: a decoded `Span` has it, and so does a span read from its bytes. */
export interface PolicySpan {
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly status: { readonly code: number };
  readonly flags: number;
  readonly traceState: string;
  /** On a span read from bytes: only the attributes the policies name. */
  readonly attributes: readonly KeyValue[];
}

/** Where a span came from, as the policies see it: its resource's attributes. */
export interface SpanOrigin {
  readonly resource: { readonly attributes: readonly KeyValue[] };
}

/** A trace as the policies judge it. */
export interface BufferedTrace {
  readonly traceId: string;
  /** Clock time of the first span's arrival; the decision is due `decision_wait` later. */
  readonly firstSeenMs: number;
  readonly spans: readonly PolicySpan[];
  /** `origins[i]` is where `spans[i]` came from. */
  readonly origins: readonly SpanOrigin[];
  /** The spans' bytes (their share of their requests). */
  readonly bytes: number;
  /**
   * Fast paths a trace on the byte path answers from the scanner's columns, without reading each span's bytes
   * (the same answers as from `spans`): the latency policy's duration in whole ms (earliest start to latest end,
   * 0 when the end is not after the start; undefined without spans), and whether any span has one of `codes`.
   */
  readonly latencyMs?: () => number | undefined;
  readonly hasStatusCode?: (codes: ReadonlySet<number>) => boolean;
  /** The trace's log records that waited with it (issue 16); undefined where logs are not buffered. */
  readonly logs?: readonly PolicyLog[];
}

/** Spans or log records of a trace as arrays: `indexes[k]` of `requests[k]` (what the completion buffer holds). */
export interface TraceEntries<R> {
  readonly requests: R[];
  readonly indexes: number[];
}

/**
 * Everything this agent has seen of one trace so far, on the byte path (issue 13): a handle on its row in the
 * trace buffer (trace-buffer.ts), made when the trace is decided; per span only which scanned request holds it
 * and its index there. Valid until the buffer frees the row.
 */
export class WireTrace {
  private id: string | undefined;
  constructor(
    readonly buffer: TraceBuffer,
    private rowNo: number,
  ) {}

  get row(): number {
    return this.rowNo;
  }

  /**
   * The handle of another row of the same buffer, for a caller that decides traces one at a time (the sampler:
   * a handle per decided trace). Returns this.
   */
  at(row: number): this {
    this.rowNo = row;
    this.id = undefined;
    return this;
  }

  get traceId(): string {
    this.id ??= this.buffer.traceId(this.row);
    return this.id;
  }

  get firstSeenMs(): number {
    return this.buffer.firstSeenMs(this.row);
  }

  /** The spans' share of their requests' bytes (what the memory budget counts). */
  get bytes(): number {
    return this.buffer.spanBytesOf(this.row);
  }

  /** The log records' share of their requests' bytes. */
  get logBytes(): number {
    return this.buffer.logBytesOf(this.row);
  }

  get spanCount(): number {
    return this.buffer.spansOf(this.row);
  }

  get logCount(): number {
    return this.buffer.logsOf(this.row);
  }

  /** The spans, in arrival order. */
  spanEntries(): TraceEntries<WireSpans> {
    return this.entries<WireSpans>(this.buffer.firstSpan(this.row), this.spanCount);
  }

  /**
   * The spans, in arrival order, written into `requests` and `indexes` from 0 (arrays the caller reuses from
   * trace to trace: two new arrays per dropped trace were a twentieth of what the sampler allocated); returns
   * how many.
   */
  spanEntriesInto(requests: WireSpans[], indexes: number[]): number {
    return this.entriesInto(this.buffer.firstSpan(this.row), requests, indexes);
  }

  /** Log records that wait with the trace (issue 16), in arrival order. */
  logEntries(): TraceEntries<WireLogs> {
    return this.entries<WireLogs>(this.buffer.firstLog(this.row), this.logCount);
  }

  private entries<R extends WireSpans | WireLogs>(first: number, count: number): TraceEntries<R> {
    const requests = new Array<R>(count);
    const indexes = new Array<number>(count);
    this.entriesInto(first, requests, indexes);
    return { requests, indexes };
  }

  /** The entries from `first` on, written into `requests` and `indexes` from 0; returns how many. */
  private entriesInto<R extends WireSpans | WireLogs>(
    first: number,
    requests: R[],
    indexes: number[],
  ): number {
    const b = this.buffer;
    let k = 0;
    for (let e = first; e !== NONE; e = b.nextEntry(e), k++) {
      requests[k] = b.entryRequest(e) as R;
      indexes[k] = b.entryIndex(e);
    }
    return k;
  }
}

/**
 * The policies' view of a WireTrace: spans are read from their bytes when a policy first asks (a probabilistic
 * or keep-all decision never does), with only the attribute keys the policy names.
 */
export class WireTraceView implements BufferedTrace {
  private spanViews: PolicySpan[] | undefined;
  private originViews: SpanOrigin[] | undefined;
  private logViews: PolicyLog[] | undefined;
  constructor(
    private trace: WireTrace,
    private attributeKeys: ReadonlySet<string> | undefined,
  ) {}

  /**
   * The view of another trace, for a caller that judges traces one at a time (the sampler: a view per trace was
   * a fortieth of its allocations). Returns this.
   */
  reset(trace: WireTrace, attributeKeys: ReadonlySet<string> | undefined): this {
    this.trace = trace;
    this.attributeKeys = attributeKeys;
    this.spanViews = undefined;
    this.originViews = undefined;
    this.logViews = undefined;
    return this;
  }
  get traceId(): string {
    return this.trace.traceId;
  }
  get firstSeenMs(): number {
    return this.trace.firstSeenMs;
  }
  get bytes(): number {
    return this.trace.bytes;
  }
  get spans(): readonly PolicySpan[] {
    if (this.spanViews === undefined) {
      const { buffer: b, row } = this.trace;
      this.spanViews = new Array<PolicySpan>(b.spansOf(row));
      let k = 0;
      for (let e = b.firstSpan(row); e !== NONE; e = b.nextEntry(e), k++) {
        const req = b.entryRequest(e) as WireSpans;
        const i = b.entryIndex(e);
        const off = req.offsets[i] as number;
        this.spanViews[k] = readSpanFields(
          req.buf,
          off,
          off + (req.lengths[i] as number),
          this.attributeKeys,
        );
      }
    }
    return this.spanViews;
  }
  latencyMs(): number | undefined {
    const { buffer: b, row } = this.trace;
    const first = b.firstSpan(row);
    if (first === NONE) return undefined;
    // Starts relative to the first span's, as numbers: exact while a trace spans less than 2^53 ns (104 days).
    const r0 = b.entryRequest(first) as WireSpans;
    const hi0 = r0.startsHi[b.entryIndex(first)] as number;
    const lo0 = r0.startsLo[b.entryIndex(first)] as number;
    let min = Infinity;
    let max = -Infinity;
    for (let e = first; e !== NONE; e = b.nextEntry(e)) {
      const req = b.entryRequest(e) as WireSpans;
      const i = b.entryIndex(e);
      const start = ((req.startsHi[i] as number) - hi0) * 4294967296 + ((req.startsLo[i] as number) - lo0);
      const end = start + (req.durationsNs[i] as number);
      if (start < min) min = start;
      if (end > max) max = end;
    }
    return max > min ? Math.floor((max - min) / 1_000_000) : 0;
  }

  hasStatusCode(codes: ReadonlySet<number>): boolean {
    const { buffer: b, row } = this.trace;
    for (let e = b.firstSpan(row); e !== NONE; e = b.nextEntry(e)) {
      if (codes.has((b.entryRequest(e) as WireSpans).statusCodes[b.entryIndex(e)] as number)) return true;
    }
    return false;
  }

  get logs(): readonly PolicyLog[] {
    if (this.logViews === undefined) {
      const { buffer: b, row } = this.trace;
      this.logViews = [];
      for (let e = b.firstLog(row); e !== NONE; e = b.nextEntry(e))
        this.logViews.push(new WireLogView(b.entryRequest(e) as WireLogs, b.entryIndex(e)));
    }
    return this.logViews;
  }

  get origins(): readonly SpanOrigin[] {
    // A WireScope is an origin: its resource decodes its attributes on first use, once per distinct resource.
    if (this.originViews === undefined) {
      const { buffer: b, row } = this.trace;
      this.originViews = [];
      for (let e = b.firstSpan(row); e !== NONE; e = b.nextEntry(e))
        this.originViews.push((b.entryRequest(e) as WireSpans).scope(b.entryIndex(e)));
    }
    return this.originViews;
  }
}
