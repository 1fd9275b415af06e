import { Client, credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { tlsServerNameFor } from '../http/index.js';
import { EXPORT_METHODS, type Signal } from '../otlp/index.js';
import {
  exporterCaFile,
  OtlpSignalExporter,
  RequestHeaders,
  type OtlpExporterOptions,
} from './otlp-options.js';
import { partialSuccess, retryInfoDelayMs } from './retry-info.js';
import { failure, retryable, successWith, type ExportResult } from './span-exporter.js';

/** gRPC codes the OTLP spec lists as retryable ("Failures"); RESOURCE_EXHAUSTED only with RetryInfo. */
const RETRYABLE_CODES = new Set<number>([
  grpcStatus.CANCELLED,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.ABORTED,
  grpcStatus.OUT_OF_RANGE,
  grpcStatus.UNAVAILABLE,
  grpcStatus.DATA_LOSS,
]);

/**
 * OTLP/gRPC (the `otlp` exporter with `protocol: grpc`). The request is encoded by Sentinel's own
 * protobuf encoder and passed through identity serialisers, as the receiver does, so no generated code
 * or protobufjs sits on the path. gzip is grpc-js's per-message compression.
 */
export class OtlpGrpcExporter extends OtlpSignalExporter {
  private readonly client: Client;
  private readonly headers: RequestHeaders;
  private readonly target: string;

  constructor(private readonly options: OtlpExporterOptions) {
    super(options.name);
    const { target, host, secure } = grpcTarget(options.endpoint);
    this.target = target;
    // grpc-js sends the target's host as SNI and checks the certificate against it; an absolute name's trailing
    // dot (an endpoint such as the chart's) must not reach SNI (src/http/tls-server-name.ts).
    const servername = secure ? tlsServerNameFor(host) : undefined;
    const creds = secure
      ? credentials.createSsl(
          exporterCaFile(options) ?? null,
          null,
          null,
          options.tls.insecureSkipVerify ? { checkServerIdentity: () => undefined } : {},
        )
      : credentials.createInsecure();
    this.client = new Client(target, creds, {
      'grpc.max_send_message_length': -1,
      // Channelz (gRPC's introspection service, which Sentinel does not serve) tracks every call; off.
      'grpc.enable_channelz': 0,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      // 2 = gzip in grpc-js's compression algorithm enum.
      ...(options.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {}),
      // Retries are the RetryingExporter's job, with its metrics and max_elapsed_time.
      'grpc.enable_retries': 0,
      // No gRPC service config from DNS TXT records: Sentinel uses none, and each resolution would add a TXT
      // query (through the pod's whole search list for a relative name).
      'grpc.service_config_disable_resolution': 1,
      ...(servername ? { 'grpc.ssl_target_name_override': servername } : {}),
    });
    this.headers = new RequestHeaders(options);
  }

  protected async send(signal: Signal, request: Uint8Array): Promise<ExportResult> {
    const body = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(await this.headers.current())) metadata.set(k, v);
    return new Promise<ExportResult>((resolve) => {
      this.client.makeUnaryRequest(
        EXPORT_METHODS[signal],
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        metadata,
        { deadline: Date.now() + this.options.timeoutMs },
        (err: ServiceError | null, response?: Buffer) =>
          resolve(err ? this.outcome(err) : successWith(response ? partialSuccess(response) : undefined)),
      );
    });
  }

  private outcome(err: ServiceError): ExportResult {
    const error = new Error(
      `gRPC ${grpcStatus[err.code] ?? err.code} from ${this.target}: ${err.details || err.message}`,
    );
    if (err.code === grpcStatus.RESOURCE_EXHAUSTED) {
      const details = err.metadata?.get('grpc-status-details-bin')[0];
      const delay = Buffer.isBuffer(details) ? retryInfoDelayMs(details) : undefined;
      // Without RetryInfo the server says the limit will not go away (OTLP spec): permanent.
      return delay === undefined ? failure(error) : retryable(error, delay);
    }
    if (RETRYABLE_CODES.has(err.code)) {
      // gRPC's server pushback (A6), which Sentinel's own receivers also send.
      const pushback = Number(err.metadata?.get('grpc-retry-pushback-ms')[0]);
      return retryable(error, Number.isFinite(pushback) && pushback >= 0 ? pushback : undefined);
    }
    return failure(error);
  }

  async shutdown(): Promise<void> {
    this.client.close();
  }
}

/**
 * `http://host:port` -> plaintext, `https://host:port` -> TLS, a bare `host:port` -> plaintext; `host` is the
 * target without its port (an IPv6 literal keeps its brackets).
 */
export function grpcTarget(endpoint: string): { target: string; host: string; secure: boolean } {
  const m = /^(https?):\/\/([^/]+)\/?$/.exec(endpoint);
  const target = m ? m[2]! : endpoint.replace(/\/$/, '');
  return { target, host: target.replace(/:\d+$/, ''), secure: m ? m[1] === 'https' : false };
}
