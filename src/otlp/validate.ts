import { isZeroId } from './hex.js';
import type { Span, TraceData } from './model.js';

/** What validation removed from a request, for OTLP's `partial_success`. */
export interface Rejection {
  rejectedSpans: number;
  errorMessage: string;
}

/**
 * The largest start or end time a block can hold: the Parquet `Timestamp` column is a signed INT64 of
 * nanoseconds, so 2^63 - 1 (the year 2262). OTLP's fixed64 reaches 2^64 - 1.
 */
export const MAX_SPAN_TIME_UNIX_NANO = 2n ** 63n - 1n;

/** Why a span's times cannot be stored, for `spanTimeProblem`. */
export type SpanTimeProblem = 'start_out_of_range' | 'end_out_of_range' | 'end_before_start';

/**
 * Whether a span's start and end times can be stored, given the raw fixed64 values as unsigned bigints
 * (a byte-level scanner reads them with `readBigUInt64LE`). `undefined` when they can. Refused
 * (docs/store-robustness.md "Validation at the door"): a time at or above 2^63 ns, which the INT64
 * `Timestamp` column cannot hold, and an end before the start (trace.proto: "it is expected that
 * end_time >= start_time"), whose duration would be negative. Zero times pass: OTLP allows them.
 */
export function spanTimeProblem(start: bigint, end: bigint): SpanTimeProblem | undefined {
  if (start > MAX_SPAN_TIME_UNIX_NANO || start < 0n) return 'start_out_of_range';
  if (end > MAX_SPAN_TIME_UNIX_NANO || end < 0n) return 'end_out_of_range';
  if (end < start) return 'end_before_start';
  return undefined;
}

/** The `partial_success` wording for each kind of refused span, naming what was expected. */
const PROBLEM_TEXT: Record<SpanTimeProblem | 'zero_id', string> = {
  zero_id: 'an empty or all-zero trace_id or span_id (expected 16 and 8 bytes, not all zero)',
  start_out_of_range: `a start_time_unix_nano at or above 2^63 (expected at most ${MAX_SPAN_TIME_UNIX_NANO})`,
  end_out_of_range: `an end_time_unix_nano at or above 2^63 (expected at most ${MAX_SPAN_TIME_UNIX_NANO})`,
  end_before_start: 'an end_time_unix_nano before its start_time_unix_nano (expected end >= start)',
};

/** Why one span is refused, or undefined when it is kept. */
export function spanProblem(s: Span): SpanTimeProblem | 'zero_id' | undefined {
  if (s.traceId === '' || s.spanId === '' || isZeroId(s.traceId) || isZeroId(s.spanId)) return 'zero_id';
  return spanTimeProblem(s.startTimeUnixNano, s.endTimeUnixNano);
}

/**
 * Removes the spans a block cannot hold or OTLP calls invalid: an empty or all-zero trace or span id
 * (trace.proto: "An ID with all zeroes OR of length other than 16 bytes is considered invalid"), and times
 * `spanTimeProblem` refuses. Ids of a wrong length never get here: the decoders refuse the whole request for
 * those, as the Collector's pdata unmarshalling does. The rest of the request is accepted; the client is told
 * through `partial_success`, with a message naming each kind of problem and what was expected.
 */
export function rejectInvalidSpans(data: TraceData): Rejection {
  let rejected = 0;
  const counts = new Map<SpanTimeProblem | 'zero_id', number>();
  for (const rs of data.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      let bad = false;
      for (const s of ss.spans) {
        if (spanProblem(s) !== undefined) {
          bad = true;
          break;
        }
      }
      if (!bad) continue;
      const kept: Span[] = [];
      for (const s of ss.spans) {
        const problem = spanProblem(s);
        if (problem === undefined) kept.push(s);
        else counts.set(problem, (counts.get(problem) ?? 0) + 1);
      }
      rejected += ss.spans.length - kept.length;
      ss.spans = kept;
    }
  }
  return { rejectedSpans: rejected, errorMessage: describeRejections(counts) };
}

/** The `partial_success` message for refused spans counted by problem (the agent's wire scanner shares it). */
export function describeRejections(counts: ReadonlyMap<SpanTimeProblem | 'zero_id', number>): string {
  return [...counts].map(([p, n]) => `${n} span(s) with ${PROBLEM_TEXT[p]} were rejected`).join('; ');
}
