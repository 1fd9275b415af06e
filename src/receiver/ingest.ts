import { isSentinelError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import {
  countSpans as countSpans_,
  countSpansInRequest,
  decodeTraceRequest,
  encodeTraceRequest,
  rejectInvalidSpans,
  scanSignalRequest,
  scanTraceRequest,
  SIGNAL_ITEMS,
  wireBatch,
} from '../otlp/index.js';
import type { Rejection, Signal, TraceBatch, TraceConsumer, TraceData } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { estimateProtobufRequest } from './admission-estimate.js';

/**
 * Estimated heap bytes of the decoded model per byte of uncompressed OTLP protobuf, for callers that have no
 * body to scan. The receivers price each request by what it holds (admission-estimate.ts): 10 per wire byte
 * is right for SDK spans with rich attributes and 4 times too low for id-only spans (issue 18).
 */
export const MODEL_BYTES_PER_WIRE_BYTE = 10;

/**
 * The agent's byte path (issue 13) holds the request bytes plus a 24-byte index per span, about 1.1-1.2x the
 * wire bytes for SDK spans (bench/wire-path.ts); admission estimates 2x, for the scan's transient strings.
 */
export const WIRE_HELD_BYTES_PER_WIRE_BYTE = 2;

/**
 * How long a request may take to arrive, headers to last byte, on either receiver (the HTTP server's
 * requestTimeout; the gRPC receiver's read of a call's message).
 */
export const RECEIVE_TIMEOUT_MS = 60_000;

/** Seconds a refused client is asked to wait before retrying (Retry-After, gRPC RetryInfo). */
export const RETRY_AFTER_SECONDS = 1;

export type Transport = 'grpc' | 'http';

/** Why spans were refused, as the `reason` label of `sentinel_receiver_refused_spans_total`. */
export type RefusalReason =
  | 'decode_error'
  | 'invalid'
  | 'too_large'
  | 'unsupported_media_type'
  | 'memory_limit'
  | 'queue_full'
  | 'shutting_down'
  | 'unauthenticated'
  | 'forbidden'
  | 'auth_unavailable'
  | 'pipeline_error'
  | 'timeout';

/** The outcome of one Export call, mapped to a status by each transport. */
export type IngestResult =
  | { kind: 'accepted'; spans: number; partial: Rejection | undefined }
  | { kind: 'refused'; reason: RefusalReason; code: ErrorCode; message: string; retryable: boolean };

export interface IngestOptions {
  readonly consumer: TraceConsumer;
  readonly memoryLimitBytes: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /**
   * Hand the pipeline scanned protobuf bytes (`TraceBatch.wire`) instead of the decoded model: the agent's
   * path (issue 13). OTLP/JSON is converted to protobuf once, here.
   */
  readonly wire?: boolean | undefined;
  /**
   * The signals the pipeline's exporters carry (issue 16); logs and metrics are taken only when listed here and
   * the consumer has `consumeLogs` / `consumeMetrics`. Absent: whatever the consumer has.
   */
  readonly signals?: ReadonlySet<Signal> | undefined;
}

/** Logs or metrics. */
export type ItemSignal = Exclude<Signal, 'traces'>;

/**
 * The transport-independent half of the receivers: memory budget, decoding, validation, hand-off to the
 * pipeline, and the metrics that count every accepted and refused span.
 */
export class Ingest {
  private inflightBytes = 0;
  private draining = false;
  private readonly accepted;
  private readonly refused;
  private readonly requestBytes;
  private readonly latency;
  private readonly refusedRequests;
  /** Accepted and refused log records / data points (issue 16), by signal. */
  private readonly signalCounters;

  constructor(private readonly options: IngestOptions) {
    const m = options.metrics;
    const items = (signal: ItemSignal) => {
      const what = SIGNAL_ITEMS[signal];
      return {
        accepted: m.counter(
          `receiver_accepted_${what.metric}_total`,
          `OTLP ${what.noun} accepted by the receivers.`,
          ['transport'],
        ),
        refused: m.counter(
          `receiver_refused_${what.metric}_total`,
          `OTLP ${what.noun} refused by the receivers, by reason.`,
          ['transport', 'reason'],
        ),
      };
    };
    this.signalCounters = { logs: items('logs'), metrics: items('metrics') };
    this.accepted = m.counter('receiver_accepted_spans_total', 'Spans accepted by the receivers.', [
      'transport',
    ]);
    this.refused = m.counter('receiver_refused_spans_total', 'Spans refused by the receivers, by reason.', [
      'transport',
      'reason',
    ]);
    this.requestBytes = m.histogram(
      'receiver_request_bytes',
      'Uncompressed size of OTLP export requests.',
      ['transport'],
      [1024, 16384, 65536, 262144, 1048576, 4194304, 16777216],
    );
    this.latency = m.histogram(
      'receiver_request_duration_seconds',
      'Time from a request fully read to its answer.',
      ['transport'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    );
    this.refusedRequests = m.counter(
      'receiver_refused_requests_total',
      'Export requests refused, by reason (also those whose spans could not be counted).',
      ['transport', 'reason'],
    );
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect with the gauge as `this`
    const self = this;
    m.gauge(
      'receiver_memory_used_bytes',
      'Estimated bytes held by the receivers and the pipeline.',
      [],
      function () {
        this.set(self.usedBytes());
      },
    );
    m.gauge('receiver_memory_limit_bytes', 'The memory budget (memory_limit_mib).').set(
      options.memoryLimitBytes,
    );
  }

  /** Stops accepting: every later request is refused as retryable (another replica or a restart takes it). */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Whether a request priced at `bytes` is refused before any work, and why. A request that alone would take more
   * than the whole budget once decoded can never fit: it is refused for good (413 / RESOURCE_EXHAUSTED without
   * RetryInfo), not taken, or one such request could pass the memory limit the budget is sized for (issue 18:
   * 130k id-only spans in 4 MB take ~130 MB).
   */
  private admission(bytes: number): 'shutting_down' | 'too_large' | 'memory_limit' | undefined {
    return this.draining
      ? 'shutting_down'
      : bytes > this.options.memoryLimitBytes
        ? 'too_large'
        : this.overBudget(bytes)
          ? 'memory_limit'
          : undefined;
  }

  private admissionRefusal(
    admission: 'shutting_down' | 'too_large' | 'memory_limit',
    bytes: number,
    wireBytes: number,
  ): Extract<IngestResult, { kind: 'refused' }> {
    const limit = this.options.memoryLimitBytes;
    if (admission === 'too_large') {
      const mib = (n: number) => (n / 1048576).toFixed(1);
      return refusal(
        'too_large',
        'SENTINEL_ERR_MEMORY_LIMIT',
        `the request would take about ${mib(bytes)} MiB once decoded (${wireBytes} bytes on the wire, priced by what it holds), more than the whole memory budget of ${mib(limit)} MiB (memory_limit_mib); send smaller batches`,
      );
    }
    return admission === 'shutting_down'
      ? refusal(
          'shutting_down',
          'SENTINEL_ERR_SHUTTING_DOWN',
          'the receiver is shutting down; retry against another instance',
          true,
        )
      : refusal(
          'memory_limit',
          'SENTINEL_ERR_MEMORY_LIMIT',
          `memory limit of ${limit} bytes (memory_limit_mib) reached; retry later`,
          true,
        );
  }

  /** True when `bytes` more would pass the budget. */
  private overBudget(bytes: number): boolean {
    return this.usedBytes() + bytes > this.options.memoryLimitBytes;
  }

  /** What the receivers and the pipeline hold, in estimated heap bytes: the figure the memory budget bounds. */
  usedBytes(): number {
    // Not the sum: a request being handed over is already counted by the stage holding it (the consumer
    // contract), so adding both counted it twice and refused at half the budget. The receiver's own figure
    // is a floor in case a stage under-reports.
    return Math.max(this.inflightBytes, this.options.consumer.bufferedBytes());
  }

  /** Counts a refusal decided by a transport before decoding (size limits, media types, auth). */
  countRefusedRequest(transport: Transport, reason: RefusalReason): void {
    this.refusedRequests.inc({ transport, reason });
  }

  /**
   * Decodes and hands one request's spans to the pipeline. `wireBytes` is the uncompressed body size;
   * `countSpans`, when given, counts the spans of a request refused before decoding (cheaper than decoding).
   * `estimate`, when given, prices the request in heap bytes before decoding (admission-estimate.ts); without
   * it, `wireBytes * MODEL_BYTES_PER_WIRE_BYTE`. The agent's wire path holds bytes, not objects, and prices
   * `wireBytes * WIRE_HELD_BYTES_PER_WIRE_BYTE` instead. `protobuf`, when given, is the request's protobuf bytes
   * (the wire path scans them; without it, a JSON request, it encodes what `decode` gives). Never throws: every
   * failure is a refusal with a reason.
   */
  async ingest(
    transport: Transport,
    wireBytes: number,
    decode: () => TraceData,
    countSpans?: () => number,
    estimate?: () => number,
    protobuf?: () => Uint8Array,
  ): Promise<IngestResult> {
    const started = performance.now();
    this.requestBytes.observe({ transport }, wireBytes);
    try {
      return await this.ingestInner(transport, wireBytes, decode, countSpans, estimate, protobuf);
    } finally {
      this.latency.observe({ transport }, (performance.now() - started) / 1000);
    }
  }

  /** `ingest` for an OTLP/protobuf ExportTraceServiceRequest, as both receivers take it. */
  ingestProtobuf(transport: Transport, bytes: Uint8Array): Promise<IngestResult> {
    return this.ingest(
      transport,
      bytes.length,
      () => decodeTraceRequest(bytes),
      () => countSpansInRequest(bytes),
      () => estimateProtobufRequest(bytes),
      () => bytes,
    );
  }

  private async ingestInner(
    transport: Transport,
    wireBytes: number,
    decode: () => TraceData,
    countSpans: (() => number) | undefined,
    estimate: (() => number) | undefined,
    protobuf: (() => Uint8Array) | undefined,
  ): Promise<IngestResult> {
    // Admission first, before any decoding work: under overload, refusing must stay cheap (a tag walk at most).
    // The wire path (issue 13) holds the request's bytes plus a small index, so it prices those; the decoded model
    // is priced by its measured heap (issue 18).
    const bytes = this.options.wire
      ? wireBytes * WIRE_HELD_BYTES_PER_WIRE_BYTE
      : estimate
        ? estimate()
        : wireBytes * MODEL_BYTES_PER_WIRE_BYTE;
    const admission = this.admission(bytes);
    if (admission) {
      const spans = countSpans ? countSpans() : countOrZero(decode);
      this.refused.inc({ transport, reason: admission }, spans);
      this.refusedRequests.inc({ transport, reason: admission });
      return this.admissionRefusal(admission, bytes, wireBytes);
    }
    let batch: TraceBatch;
    let partial: Rejection;
    try {
      if (this.options.wire) {
        const scanned = scanTraceRequest(protobuf ? protobuf() : encodeTraceRequest(decode()));
        partial = scanned;
        batch = wireBatch(scanned.spans);
      } else {
        const data = decode();
        partial = rejectInvalidSpans(data);
        batch = { data, spanCount: countSpans_(data), bytes };
      }
    } catch (err) {
      const code: ErrorCode = isSentinelError(err) ? err.code : 'SENTINEL_ERR_OTLP_DECODE';
      const reason: RefusalReason = code === 'SENTINEL_ERR_OTLP_INVALID' ? 'invalid' : 'decode_error';
      // The spans of an undecodable body cannot be counted; the request is.
      this.refusedRequests.inc({ transport, reason });
      this.options.logger.debug({ transport, err: (err as Error).message }, 'refused an undecodable request');
      return { kind: 'refused', reason, code, message: (err as Error).message, retryable: false };
    }
    if (partial.rejectedSpans > 0) this.refused.inc({ transport, reason: 'invalid' }, partial.rejectedSpans);
    const spanCount = batch.spanCount;
    if (spanCount === 0)
      return { kind: 'accepted', spans: 0, partial: partial.rejectedSpans ? partial : undefined };
    this.inflightBytes += bytes;
    try {
      await this.options.consumer.consume(batch);
    } catch (err) {
      const refused = pipelineRefusal(err);
      this.refused.inc({ transport, reason: refused.reason }, spanCount);
      this.refusedRequests.inc({ transport, reason: refused.reason });
      if (refused.reason === 'pipeline_error')
        this.options.logger.warn({ err, transport }, 'the pipeline refused a request');
      return refused;
    } finally {
      this.inflightBytes -= bytes;
    }
    this.accepted.inc({ transport }, spanCount);
    return {
      kind: 'accepted',
      spans: spanCount,
      partial: partial.rejectedSpans
        ? { rejectedSpans: partial.rejectedSpans, errorMessage: partial.errorMessage }
        : undefined,
    };
  }
  /** True when the pipeline takes `signal` (else the receivers answer 404 / UNIMPLEMENTED, as before issue 16). */
  takes(signal: ItemSignal): boolean {
    const c = this.options.consumer;
    const has = signal === 'logs' ? c.consumeLogs !== undefined : c.consumeMetrics !== undefined;
    return has && (this.options.signals?.has(signal) ?? true);
  }

  /**
   * Logs and metrics (issue 16): the same budget, limits and refusals as spans, counted in
   * `receiver_{accepted,refused}_{log_records,metric_points}_total`. `protobuf` gives the request's protobuf
   * bytes (a JSON body is transcoded there); they are scanned for structure and counted, then handed on as they
   * are. Never throws.
   */
  async ingestSignal(
    signal: ItemSignal,
    transport: Transport,
    wireBytes: number,
    protobuf: () => Uint8Array,
  ): Promise<IngestResult> {
    const started = performance.now();
    this.requestBytes.observe({ transport }, wireBytes);
    try {
      return await this.ingestSignalInner(signal, transport, wireBytes, protobuf);
    } finally {
      this.latency.observe({ transport }, (performance.now() - started) / 1000);
    }
  }

  private async ingestSignalInner(
    signal: ItemSignal,
    transport: Transport,
    wireBytes: number,
    protobuf: () => Uint8Array,
  ): Promise<IngestResult> {
    const counters = this.signalCounters[signal];
    const consume =
      signal === 'logs' ? this.options.consumer.consumeLogs : this.options.consumer.consumeMetrics;
    // Held as bytes, like the span wire path: the request plus transient scan state.
    const bytes = wireBytes * WIRE_HELD_BYTES_PER_WIRE_BYTE;
    const admission = this.admission(bytes);
    if (admission) {
      // The items of a refused request are not counted (a scan is the work refusing avoids); the request is.
      this.refusedRequests.inc({ transport, reason: admission });
      return this.admissionRefusal(admission, bytes, wireBytes);
    }
    let encoded: Uint8Array;
    let itemCount: number;
    try {
      encoded = protobuf();
      itemCount = scanSignalRequest(signal, encoded).itemCount;
    } catch (err) {
      const code: ErrorCode = isSentinelError(err) ? err.code : 'SENTINEL_ERR_OTLP_DECODE';
      const reason: RefusalReason = code === 'SENTINEL_ERR_OTLP_INVALID' ? 'invalid' : 'decode_error';
      this.refusedRequests.inc({ transport, reason });
      this.options.logger.debug(
        { transport, signal, err: (err as Error).message },
        'refused an undecodable request',
      );
      return { kind: 'refused', reason, code, message: (err as Error).message, retryable: false };
    }
    if (itemCount === 0 || !consume) return { kind: 'accepted', spans: 0, partial: undefined };
    this.inflightBytes += bytes;
    let partial: Rejection | undefined;
    try {
      partial = (await consume.call(this.options.consumer, { encoded, itemCount, bytes })) ?? undefined;
    } catch (err) {
      const refused = pipelineRefusal(err);
      counters.refused.inc({ transport, reason: refused.reason }, itemCount);
      this.refusedRequests.inc({ transport, reason: refused.reason });
      if (refused.reason === 'pipeline_error')
        this.options.logger.warn({ err, transport, signal }, 'the pipeline refused a request');
      return refused;
    } finally {
      this.inflightBytes -= bytes;
    }
    // Items the stage dropped (the store's validation of log records) are refused as invalid, and the client is
    // told in `partial_success`, as it is of spans with bad ids.
    const rejected = Math.min(itemCount, partial?.rejectedSpans ?? 0);
    if (rejected > 0) counters.refused.inc({ transport, reason: 'invalid' }, rejected);
    counters.accepted.inc({ transport }, itemCount - rejected);
    return { kind: 'accepted', spans: itemCount - rejected, partial };
  }
}

/** What a stage's refusal means for the client (its code picks the status and whether to retry). */
function pipelineRefusal(err: unknown): Extract<IngestResult, { kind: 'refused' }> {
  const code: ErrorCode = isSentinelError(err) ? err.code : 'SENTINEL_ERR_EXPORT_FAILED';
  const reason: RefusalReason =
    code === 'SENTINEL_ERR_MEMORY_LIMIT'
      ? 'memory_limit'
      : code === 'SENTINEL_ERR_QUEUE_FULL' || code === 'SENTINEL_ERR_WAL_FULL'
        ? 'queue_full'
        : code === 'SENTINEL_ERR_SHUTTING_DOWN'
          ? 'shutting_down'
          : 'pipeline_error';
  return { kind: 'refused', reason, code, message: (err as Error).message, retryable: true };
}

/** A refusal before decoding, as an IngestResult. */
export function refusal(
  reason: RefusalReason,
  code: ErrorCode,
  message: string,
  retryable = false,
): Extract<IngestResult, { kind: 'refused' }> {
  return { kind: 'refused', reason, code, message, retryable };
}

function countOrZero(decode: () => TraceData): number {
  try {
    return countSpans_(decode());
  } catch {
    return 0;
  }
}
