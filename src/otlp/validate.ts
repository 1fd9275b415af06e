import { isZeroId } from './hex.js';
import type { TraceData } from './model.js';

/** What validation removed from a request, for OTLP's `partial_success`. */
export interface Rejection {
  rejectedSpans: number;
  errorMessage: string;
}

/**
 * Removes spans whose trace or span id is empty or all zeroes, which the OTLP specification calls invalid
 * (trace.proto: "An ID with all zeroes OR of length other than 16 bytes is considered invalid").
 * Ids of a wrong length never get here: the decoders refuse the whole request for those.
 * The rest of the request is accepted; the client is told through `partial_success`.
 */
export function rejectInvalidSpans(data: TraceData): Rejection {
  let rejected = 0;
  for (const rs of data.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      let bad = false;
      for (const s of ss.spans) {
        if (s.traceId === '' || s.spanId === '' || isZeroId(s.traceId) || isZeroId(s.spanId)) {
          bad = true;
          break;
        }
      }
      if (!bad) continue;
      const before = ss.spans.length;
      ss.spans = ss.spans.filter(
        (s) => s.traceId !== '' && s.spanId !== '' && !isZeroId(s.traceId) && !isZeroId(s.spanId),
      );
      rejected += before - ss.spans.length;
    }
  }
  return {
    rejectedSpans: rejected,
    errorMessage:
      rejected > 0 ? `${rejected} span(s) with an empty or all-zero trace_id or span_id were rejected` : '',
  };
}
