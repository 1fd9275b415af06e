/**
 * TraceBatches of the agent's byte path (issue 13). Stages read `wire` (before the sampler) or `encoded` (after
 * it); `data`, the decoded model, is decoded from the bytes only when something asks for it (tests, the debug
 * exporter), so the agent's own path never builds it.
 */
import type { TraceBatch } from './consumer.js';
import type { TraceData } from './model.js';
import { decodeTraceRequest } from './protobuf-decode.js';
import { RequestAssembler } from './wire-encode.js';
import type { WireSpans } from './wire-scan.js';

/**
 * Bytes of index per scanned span beyond its protobuf bytes, for the held-bytes figures: its 31 bytes of columns
 * in WireSpans plus its share of the request's objects (the columns' views, the WireSpans, the scopes array).
 * bench/wire-path.ts, with the columns in one buffer (session 5): the trace buffer holds 389 B per span of 279
 * protobuf bytes, counted 393 with this figure (it was 24, counting 369: the columns had grown since).
 */
export const WIRE_INDEX_BYTES_PER_SPAN = 48;

/** Bytes a scanned request holds: its buffer and its index. */
export function wireSpansBytes(spans: WireSpans): number {
  return spans.buf.byteLength + spans.count * WIRE_INDEX_BYTES_PER_SPAN;
}

/** Every span of a scanned request, assembled again (after enrichment: under the enriched resources). */
export function assembleWireSpans(spans: WireSpans): Buffer {
  const a = new RequestAssembler();
  for (let i = 0; i < spans.count; i++) {
    const off = spans.offsets[i] as number;
    a.add(spans.scope(i), spans.buf, off, off + (spans.lengths[i] as number));
  }
  return a.finish();
}

class LazyBatch implements TraceBatch {
  private decoded: TraceData | undefined;
  constructor(
    readonly spanCount: number,
    readonly bytes: number,
    readonly wire: WireSpans | undefined,
    readonly encoded: Uint8Array | undefined,
  ) {}
  get data(): TraceData {
    this.decoded ??= decodeTraceRequest(this.encoded ?? assembleWireSpans(this.wire as WireSpans));
    return this.decoded;
  }
}

/** A batch of scanned spans (receiver to sampler). */
export function wireBatch(spans: WireSpans, bytes = wireSpansBytes(spans)): TraceBatch {
  return new LazyBatch(spans.count, bytes, spans, undefined);
}

/** A batch holding an encoded ExportTraceServiceRequest (sampler to exporters). */
export function encodedBatch(request: Uint8Array, spanCount: number, bytes = request.byteLength): TraceBatch {
  return new LazyBatch(spanCount, bytes, undefined, request);
}
