import {
  Metadata,
  Server,
  ServerCredentials,
  status as grpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import {
  countSpansInRequest,
  decodeTraceRequest,
  encodeTraceResponse,
  signalServiceDefinition,
  traceServiceDefinition,
} from '../otlp/index.js';
import type { Logger } from '../telemetry/index.js';
import { estimateProtobufRequest } from './admission-estimate.js';

import { authRefusal, type ReceiverAuthorize } from './authorize.js';
import { grpcCodeFor } from './http-receiver.js';
import { RETRY_AFTER_SECONDS, type Ingest, type IngestResult, type ItemSignal } from './ingest.js';
import { encodeRpcStatus, GrpcCode } from './rpc-status.js';
import type { ReceiverTls } from './tls.js';

export interface GrpcReceiverOptions {
  readonly endpoint: string;
  readonly maxRequestBytes: number;
  readonly ingest: Ingest;
  readonly logger: Logger;
  readonly tls?: ReceiverTls | undefined;
  readonly authorize?: ReceiverAuthorize | undefined;
}

/**
 * OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, and `LogsService/Export` and
 * `MetricsService/Export` when the pipeline takes logs and metrics (issue 16; else UNIMPLEMENTED, grpc-js's answer
 * for a service not served). gzip is handled by grpc-js.
 */
export class GrpcReceiver {
  private readonly server: Server;

  constructor(private readonly options: GrpcReceiverOptions) {
    this.server = new Server({
      // grpc-js checks this limit on the message as received and again after decompression.
      'grpc.max_receive_message_length': options.maxRequestBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
      // Channelz (gRPC's introspection service, which Sentinel does not serve) wraps every call in trackers
      // and closures: 3 % of the agent's main thread at 10k spans/s (CPU profile, issue 13). Off.
      'grpc.enable_channelz': 0,
    });
    this.server.addService(traceServiceDefinition, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.export(call, callback).catch((err: unknown) => {
          options.logger.error({ err }, 'OTLP/gRPC handler failed');
          callback({ code: grpcStatus.INTERNAL, details: 'internal error' });
        });
      },
    });
    for (const signal of ['logs', 'metrics'] as const) {
      if (!options.ingest.takes(signal)) continue;
      this.server.addService(signalServiceDefinition(signal), {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
          this.exportSignal(signal, call, callback).catch((err: unknown) => {
            options.logger.error({ err, signal }, 'OTLP/gRPC handler failed');
            callback({ code: grpcStatus.INTERNAL, details: 'internal error' });
          });
        },
      });
    }
  }

  /** Authorizes a call; false when it was refused (and answered). */
  private async authorized(
    call: ServerUnaryCall<Buffer, Buffer>,
    callback: sendUnaryData<Buffer>,
  ): Promise<boolean> {
    if (!this.options.authorize) return true;
    const auth = call.metadata.get('authorization')[0];
    const verdict = await this.options.authorize(typeof auth === 'string' ? auth : undefined, call.getPath());
    if (verdict.ok) return true;
    const refused = authRefusal(verdict);
    this.options.ingest.countRefusedRequest('grpc', refused.reason);
    callback({ code: grpcCodeFor(refused), details: verdict.message });
    return false;
  }

  private async exportSignal(
    signal: ItemSignal,
    call: ServerUnaryCall<Buffer, Buffer>,
    callback: sendUnaryData<Buffer>,
  ): Promise<void> {
    if (!(await this.authorized(call, callback))) return;
    const body = call.request;
    this.answer(await this.options.ingest.ingestSignal(signal, 'grpc', body.length, () => body), callback);
  }

  /** The Export response (the same protobuf fields for all three signals), or the refusal's status. */
  private answer(result: IngestResult, callback: sendUnaryData<Buffer>): void {
    if (result.kind === 'accepted') {
      callback(null, encodeTraceResponse(result.partial));
      return;
    }
    const code = grpcCodeFor(result);
    const metadata = new Metadata();
    if (result.retryable && code === GrpcCode.RESOURCE_EXHAUSTED) {
      // RESOURCE_EXHAUSTED is retryable for OTLP clients only with RetryInfo (OTLP specification, "Failures").
      metadata.set('grpc-status-details-bin', encodeRpcStatus(code, result.message, RETRY_AFTER_SECONDS));
      // gRPC's own retry design (A6) reads server pushback from this trailer; grpc-js retry policies honour it.
      metadata.set('grpc-retry-pushback-ms', String(RETRY_AFTER_SECONDS * 1000));
    }
    callback({ code, details: result.message, metadata });
  }

  private async export(
    call: ServerUnaryCall<Buffer, Buffer>,
    callback: sendUnaryData<Buffer>,
  ): Promise<void> {
    if (!(await this.authorized(call, callback))) return;
    const body = call.request;
    const result = await this.options.ingest.ingest(
      'grpc',
      body.length,
      () => decodeTraceRequest(body),
      () => countSpansInRequest(body),
      () => estimateProtobufRequest(body),
      () => body,
    );
    this.answer(result, callback);
  }

  async start(): Promise<number> {
    const creds = this.options.tls ? this.options.tls.grpcCredentials() : ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.options.endpoint, creds, (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  /** Stops accepting calls and waits for running ones, forcing the end after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
