import {
  decodeTraceRequest,
  encodedBatch,
  RequestAssembler,
  scanTraceRequest,
  type ResourceSpans,
  type ScopeSpans,
  type TraceBatch,
  type TraceData,
} from '../otlp/index.js';
import { systemClock, type Clock } from '../clock.js';

/** The Collector batch processor's keys, in spans and milliseconds. */
export interface BatchOptions {
  /** A batch is sent once this many spans are pending (`send_batch_size`). */
  readonly sendBatchSize: number;
  /** No batch is larger; bigger ones are split (`send_batch_max_size`; 0 = no limit). */
  readonly sendBatchMaxSize: number;
  /** A batch is sent this long after its first span arrived, whatever its size (`timeout`; 0 = at once). */
  readonly timeoutMs: number;
}

export interface BatchProcessorOptions extends BatchOptions {
  /** Takes a cut batch (into the queue); a rejection is thrown to whoever caused the cut. */
  readonly send: (batch: TraceBatch) => Promise<void>;
  readonly clock?: Clock;
  /** Reports a failure of a timer-driven send, which has no caller to throw to. */
  readonly onTimerError?: (err: unknown, batch: TraceBatch) => void;
  /** Splits an encoded request of another signal (logs, metrics: issue 16); default: spans. */
  readonly splitEncoded?: (
    request: Uint8Array,
    max: number,
  ) => Array<{ request: Uint8Array; spanCount: number }>;
}

/**
 * Groups incoming batches into batches of `send_batch_size` spans, at most `send_batch_max_size`, or
 * whatever arrived within `timeout` (the Collector's `batchprocessor`). `add` resolves once the spans
 * are pending; when they complete a batch it resolves once that batch is sent on, so a slow or full
 * queue pushes back on the receivers. Pending spans are bounded by `send_batch_size` plus one incoming
 * batch: a batch that reaches the size is cut at once.
 */
export class BatchProcessor {
  /** Decoded batches, and encoded requests from before a decoded one (tests, embeddings). */
  private pending: Array<TraceData | Uint8Array> = [];
  /** Encoded requests (the agent's byte path, issue 13), appended as they come. */
  private readonly encoded = new AppendedRequests();
  private pendingSpans = 0;
  private pendingByteCount = 0;
  private timer: AbortController | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: BatchProcessorOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Estimated heap bytes of pending spans. */
  pendingBytes(): number {
    return this.pendingByteCount;
  }

  async add(batch: TraceBatch): Promise<void> {
    if (batch.spanCount === 0) return;
    if (batch.encoded) this.encoded.append(batch.encoded);
    else {
      if (this.encoded.size > 0) this.pending.push(this.encoded.take());
      this.pending.push(batch.data);
    }
    this.pendingSpans += batch.spanCount;
    this.pendingByteCount += batch.bytes;
    if (this.pendingSpans >= this.options.sendBatchSize || this.options.timeoutMs <= 0) {
      await this.flush();
      return;
    }
    if (!this.timer) this.startTimer();
  }

  /** Sends everything pending now, in batches of at most `send_batch_max_size` spans. */
  async flush(): Promise<void> {
    this.timer?.abort();
    this.timer = undefined;
    if (this.pendingSpans === 0) return;
    const pending = this.pending;
    if (this.encoded.size > 0) pending.push(this.encoded.take());
    const spans = this.pendingSpans;
    const bytes = this.pendingByteCount;
    this.pending = [];
    this.pendingSpans = 0;
    this.pendingByteCount = 0;
    const max = this.options.sendBatchMaxSize;
    const share = (n: number): number => Math.ceil((bytes * n) / spans);
    let batches: TraceBatch[];
    if (pending.every((p) => p instanceof Uint8Array)) {
      // Encoded requests merge by concatenation: `resource_spans` is a repeated field (protobuf encoding guide).
      const request =
        pending.length === 1 ? (pending[0] as Uint8Array) : Buffer.concat(pending as Uint8Array[]);
      const parts =
        max > 0 && spans > max
          ? (this.options.splitEncoded ?? splitEncodedBySpans)(request, max)
          : [{ request, spanCount: spans }];
      batches = parts.map((p) => encodedBatch(p.request, p.spanCount, share(p.spanCount)));
    } else {
      const data: TraceData = {
        resourceSpans: pending.flatMap(
          (d) => (d instanceof Uint8Array ? decodeTraceRequest(d) : d).resourceSpans,
        ),
      };
      const parts = max > 0 && spans > max ? splitBySpans(data, max) : [{ data, spanCount: spans }];
      batches = parts.map((p) => ({ data: p.data, spanCount: p.spanCount, bytes: share(p.spanCount) }));
    }
    const sends = batches.map((b) => this.options.send(b));
    const results = await Promise.allSettled(sends);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Stops the timer; pending spans stay until `flush`. */
  stop(): void {
    this.timer?.abort();
    this.timer = undefined;
  }

  private startTimer(): void {
    const timer = new AbortController();
    this.timer = timer;
    void this.clock.sleep(this.options.timeoutMs, timer.signal).then(() => {
      if (timer.signal.aborted || this.timer !== timer) return;
      this.timer = undefined;
      const spans = this.pendingSpans;
      const bytes = this.pendingByteCount;
      this.flush().catch((err: unknown) =>
        this.options.onTimerError?.(err, { data: { resourceSpans: [] }, spanCount: spans, bytes }),
      );
    });
  }
}

/** The first buffer of a batch when no batch was cut before. */
const MIN_APPEND_BYTES = 64 * 1024;

/**
 * Encoded requests appended into one buffer as they arrive (session 15). Kept as a list until the batch was cut,
 * each request (one sampler pass's kept spans, about 11 KiB at full speed) lived for the batch's `timeout` and
 * was freed by a mark-compact: V8 counts the bytes of ArrayBuffers allocated since the last one against the old
 * generation's limit (src/sampling/held-requests.ts). Copied here at once, a request dies young. The buffer is
 * sized from the last batch, so that one allocation usually holds a batch; a batch that fills less than half of
 * it leaves as a copy of its own, so that the queue does not hold the rest.
 */
class AppendedRequests {
  private buf: Buffer | undefined;
  private used = 0;
  private lastBatch = MIN_APPEND_BYTES;

  get size(): number {
    return this.used;
  }

  append(request: Uint8Array): void {
    const need = this.used + request.length;
    let buf = this.buf;
    if (buf === undefined || need > buf.length) {
      const grown = buf === undefined ? this.lastBatch + (this.lastBatch >>> 2) : 2 * buf.length;
      const next = Buffer.allocUnsafeSlow(Math.max(need, grown, MIN_APPEND_BYTES));
      if (buf !== undefined) buf.copy(next, 0, 0, this.used);
      this.buf = buf = next;
    }
    buf.set(request, this.used);
    this.used = need;
  }

  /** The requests appended so far, as one request (`resource_spans` is a repeated field); empties it. */
  take(): Uint8Array {
    const buf = this.buf as Buffer;
    const used = this.used;
    this.buf = undefined;
    this.used = 0;
    this.lastBatch = Math.max(MIN_APPEND_BYTES, used);
    return used * 2 < buf.length ? Buffer.from(buf.subarray(0, used)) : buf.subarray(0, used);
  }
}

/** Splits an encoded request into requests of at most `max` spans, without decoding a span. */
export function splitEncodedBySpans(
  request: Uint8Array,
  max: number,
): Array<{ request: Uint8Array; spanCount: number }> {
  const spans = scanTraceRequest(request).spans;
  const out: Array<{ request: Uint8Array; spanCount: number }> = [];
  for (let first = 0; first < spans.count; first += max) {
    const a = new RequestAssembler();
    for (let i = first; i < Math.min(spans.count, first + max); i++) {
      const off = spans.offsets[i] as number;
      a.add(spans.scope(i), spans.buf, off, off + (spans.lengths[i] as number));
    }
    out.push({ request: a.finish(), spanCount: a.spanCount });
  }
  return out;
}

/** Splits data into parts of at most `max` spans, keeping each span under its own resource and scope. */
export function splitBySpans(data: TraceData, max: number): Array<{ data: TraceData; spanCount: number }> {
  const out: Array<{ data: TraceData; spanCount: number }> = [];
  let current: ResourceSpans[] = [];
  let count = 0;
  const cut = (): void => {
    if (count > 0) out.push({ data: { resourceSpans: current }, spanCount: count });
    current = [];
    count = 0;
  };
  for (const rs of data.resourceSpans) {
    let scopes: ScopeSpans[] = [];
    const pushResource = (): void => {
      if (scopes.length > 0) current.push({ ...rs, scopeSpans: scopes });
      scopes = [];
    };
    for (const ss of rs.scopeSpans) {
      let i = 0;
      while (i < ss.spans.length) {
        const take = Math.min(max - count, ss.spans.length - i);
        scopes.push({ ...ss, spans: ss.spans.slice(i, i + take) });
        i += take;
        count += take;
        if (count >= max) {
          pushResource();
          cut();
        }
      }
    }
    pushResource();
  }
  cut();
  return out;
}
