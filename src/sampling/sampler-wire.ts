/**
 * The sampler's helpers on the byte path (issue 13; issue 16 for logs): scanned spans of a batch, the
 * pass-through of a keep-all policy, held parts released by the decision feed.
 */
import {
  addKeptLogRecord,
  encodedBatch,
  encodeTraceRequest,
  RequestAssembler,
  scanTraceRequest,
  type TraceBatch,
  type TraceConsumer,
  type WireSpans,
} from '../otlp/index.js';
import type { BufferedTrace } from './buffered-trace.js';
import { forEachHeldSpan, type HeldPart } from './completion/hold-buffer.js';
import type { KeptBatch } from './kept-outbox.js';
import { COMPLETED_DECISION, type TraceDecision } from './sampling-policy.js';
import { addKeptSpan } from './weights.js';

export const EMPTY_TRACE: BufferedTrace = { traceId: '', firstSeenMs: 0, spans: [], origins: [], bytes: 0 };

/** Every span of a batch kept at once (no policy file), with weight 1. */
export async function keepAll(
  next: TraceConsumer,
  spans: WireSpans,
  all: TraceDecision,
  bytes: number,
): Promise<void> {
  const out = new RequestAssembler();
  for (let i = 0; i < spans.count; i++) {
    const off = spans.offsets[i] as number;
    const end = off + (spans.lengths[i] as number);
    addKeptSpan(out, spans.scope(i), spans.buf, off, end, spans.marks[i] as number, all);
  }
  releaseColumns(spans);
  if (out.spanCount === 0) return;
  await next.consume(encodedBatch(out.finish(), out.spanCount, bytes));
}

/**
 * The batch's scanned spans: the receiver's on the agent's path; a decoded batch (tests, embeddings) is
 * encoded and scanned here, once.
 */
export function wireOf(batch: TraceBatch): WireSpans {
  if (batch.wire) return batch.wire;
  return scanTraceRequest(batch.encoded ?? encodeTraceRequest(batch.data)).spans;
}

/** The sampler has read the trace ids; the strings need not live as long as the spans wait. */
export function releaseColumns(spans: WireSpans): void {
  spans.traceIds = undefined;
  spans.names = undefined;
}

/** A held part released by the feed: spans, or (issue 16) the trace's log records. */
export function addHeldPart(released: KeptBatch, part: HeldPart): void {
  if (part.logs) {
    forEachHeldSpan(part, (scope, bytes, start, end, marks) =>
      addKeptLogRecord(released.logs, scope, bytes, start, end, marks, 1, true),
    );
    return;
  }
  forEachHeldSpan(part, (scope, bytes, start, end, marks) =>
    addKeptSpan(released.out, scope, bytes, start, end, marks, COMPLETED_DECISION),
  );
}
