import { gzipSync } from 'node:zlib';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { TRACE_EXPORT_METHOD, type TraceConsumer, type TraceData } from '../../src/otlp/index.js';
import { ProtobufReader } from '../../src/otlp/protobuf-reader.js';
import { OtlpReceivers } from '../../src/receiver/index.js';
import type { OtlpReceiversOptions } from '../../src/receiver/otlp-receivers.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';

/** OTLP receivers on free ports of 127.0.0.1 in front of `consumer`. */
export async function startReceivers(
  consumer: TraceConsumer,
  overrides: Partial<OtlpReceiversOptions> = {},
): Promise<{ receivers: OtlpReceivers; metrics: Metrics; grpcPort: number; httpPort: number }> {
  const metrics = overrides.metrics ?? new Metrics();
  const receivers = new OtlpReceivers({
    grpcEndpoint: '127.0.0.1:0',
    httpEndpoint: '127.0.0.1:0',
    maxRequestBytes: 4 * 1024 * 1024,
    memoryLimitBytes: 64 * 1024 * 1024,
    consumer,
    metrics,
    logger: silentLogger(),
    ...overrides,
  });
  const ports = await receivers.start();
  return { receivers, metrics, ...ports };
}

/** Merges every batch into one TraceData. */
export function merge(batches: readonly { data: TraceData }[]): TraceData {
  return { resourceSpans: batches.flatMap((b) => b.data.resourceSpans) };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** A raw OTLP/HTTP POST. */
export async function postTraces(
  port: number,
  body: Uint8Array | string,
  headers: Record<string, string>,
  path = '/v1/traces',
  method = 'POST',
): Promise<RawResponse> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body: typeof body === 'string' ? body : Buffer.from(body) }),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A raw OTLP/gRPC Export call with arbitrary request bytes. */
export function grpcExport(
  port: number,
  body: Uint8Array,
  options: { gzip?: boolean; metadata?: Record<string, string>; method?: string } = {},
): Promise<{ error: ServiceError | null; response: Buffer | undefined }> {
  const client = new Client(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
    options.gzip
      ? { 'grpc.default_compression_algorithm': 2, 'grpc.max_send_message_length': -1 }
      : { 'grpc.max_send_message_length': -1 },
  );
  const md = new Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      options.method ?? TRACE_EXPORT_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      md,
      (error, response) => {
        client.close();
        resolve({ error, response });
      },
    );
  });
}

export { gzipSync };

/**
 * The delay a RESOURCE_EXHAUSTED answer asks for: `google.rpc.RetryInfo.retry_delay` inside the
 * `google.rpc.Status` of `grpc-status-details-bin`, decoded with Sentinel's own protobuf reader.
 */
export function retryDelayMs(error: ServiceError): number | undefined {
  const raw = error.metadata.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(raw)) return undefined;
  const r = new ProtobufReader(raw);
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 3) {
      r.skip(tag & 7);
      continue;
    }
    const anyEnd = r.enter();
    let typeUrl = '';
    let delayMs: number | undefined;
    while (r.pos < r.end) {
      const t = r.uint32();
      if (t >>> 3 === 1) typeUrl = r.string();
      else if (t >>> 3 === 2) {
        const valueEnd = r.enter();
        while (r.pos < r.end) {
          const f = r.uint32();
          if (f >>> 3 !== 1) {
            r.skip(f & 7);
            continue;
          }
          const durEnd = r.enter();
          let seconds = 0n;
          let nanos = 0;
          while (r.pos < r.end) {
            const d = r.uint32();
            if (d >>> 3 === 1) seconds = r.int64();
            else if (d >>> 3 === 2) nanos = r.uint32();
            else r.skip(d & 7);
          }
          r.leave(durEnd);
          delayMs = Number(seconds) * 1000 + nanos / 1e6;
        }
        r.leave(valueEnd);
      } else r.skip(t & 7);
    }
    r.leave(anyEnd);
    if (typeUrl === 'type.googleapis.com/google.rpc.RetryInfo') return delayMs;
  }
  return undefined;
}

/** An Export call that retries RESOURCE_EXHAUSTED after the RetryInfo delay, as the Collector's exporter does. */
export async function grpcExportHonouringRetryInfo(
  port: number,
  body: Uint8Array,
  maxAttempts = 10,
): Promise<{ error: ServiceError | null; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    const { error } = await grpcExport(port, body);
    const delay = error && error.code === 8 ? retryDelayMs(error) : undefined;
    if (!error || delay === undefined || attempt >= maxAttempts) return { error, attempts: attempt };
    await new Promise((r) => setTimeout(r, delay));
  }
}
