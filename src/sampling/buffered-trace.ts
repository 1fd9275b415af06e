import type { KeyValue, WireLogs, WireSpans } from '../otlp/index.js';
import { readSpanFields } from '../otlp/index.js';
import { WireLogView, type PolicyLog } from './log-match.js';

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

/**
 * Everything this agent has seen of one trace so far, on the byte path (issue 13): per span only which scanned
 * request holds it and its index there (two array slots, 8 bytes); the span's bytes stay in the request.
 */
export class WireTrace {
  readonly requests: WireSpans[] = [];
  readonly indexes: number[] = [];
  /** The spans' share of their requests' bytes (what the memory budget counts). */
  bytes = 0;
  /** Log records that wait with the trace (issue 16): which scanned logs request, and the index there. */
  logRequests: WireLogs[] | undefined;
  logIndexes: number[] | undefined;
  /** The log records' share of their requests' bytes. */
  logBytes = 0;
  constructor(
    readonly traceId: string,
    readonly firstSeenMs: number,
  ) {}

  get spanCount(): number {
    return this.indexes.length;
  }

  get logCount(): number {
    return this.logIndexes?.length ?? 0;
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
    private readonly trace: WireTrace,
    private readonly attributeKeys: ReadonlySet<string> | undefined,
  ) {}
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
      const { requests, indexes } = this.trace;
      this.spanViews = new Array<PolicySpan>(indexes.length);
      for (let k = 0; k < indexes.length; k++) {
        const req = requests[k] as WireSpans;
        const i = indexes[k] as number;
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
    const { requests, indexes } = this.trace;
    if (indexes.length === 0) return undefined;
    // Starts relative to the first span's, as numbers: exact while a trace spans less than 2^53 ns (104 days).
    const r0 = requests[0] as WireSpans;
    const hi0 = r0.startsHi[indexes[0] as number] as number;
    const lo0 = r0.startsLo[indexes[0] as number] as number;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < indexes.length; k++) {
      const req = requests[k] as WireSpans;
      const i = indexes[k] as number;
      const start = ((req.startsHi[i] as number) - hi0) * 4294967296 + ((req.startsLo[i] as number) - lo0);
      const end = start + (req.durationsNs[i] as number);
      if (start < min) min = start;
      if (end > max) max = end;
    }
    return max > min ? Math.floor((max - min) / 1_000_000) : 0;
  }

  hasStatusCode(codes: ReadonlySet<number>): boolean {
    const { requests, indexes } = this.trace;
    for (let k = 0; k < indexes.length; k++) {
      if (codes.has((requests[k] as WireSpans).statusCodes[indexes[k] as number] as number)) return true;
    }
    return false;
  }

  get logs(): readonly PolicyLog[] {
    const { logRequests, logIndexes } = this.trace;
    this.logViews ??= (logIndexes ?? []).map(
      (i, k) => new WireLogView((logRequests as WireLogs[])[k] as WireLogs, i),
    );
    return this.logViews;
  }

  get origins(): readonly SpanOrigin[] {
    // A WireScope is an origin: its resource decodes its attributes on first use, once per distinct resource.
    const { requests, indexes } = this.trace;
    this.originViews ??= indexes.map((i, k) => (requests[k] as WireSpans).scope(i));
    return this.originViews;
  }
}
