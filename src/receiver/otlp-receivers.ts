import type { AgentConfig } from '../config/index.js';
import type { Signal, TraceConsumer } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { GrpcReceiver } from './grpc-receiver.js';
import { HttpReceiver, type CorsOptions } from './http-receiver.js';
import { Ingest } from './ingest.js';
import type { ReceiverAuthorize } from './authorize.js';
import type { ReceiverTls } from './tls.js';

export interface OtlpReceiversOptions {
  readonly grpcEndpoint: string;
  readonly httpEndpoint: string;
  readonly maxRequestBytes: number;
  /** The in-flight memory budget (memory_limit_mib): over it, clients are told to retry. */
  readonly memoryLimitBytes: number;
  readonly consumer: TraceConsumer;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly cors?: CorsOptions | undefined;
  readonly tls?: ReceiverTls | undefined;
  /** Called with the Authorization header (or gRPC metadata) and the path; a negative verdict refuses. */
  readonly authorize?: ReceiverAuthorize | undefined;
  /** The agent's byte path (issue 13): the pipeline gets scanned protobuf, not the decoded model. */
  readonly wire?: boolean | undefined;
  /** The signals the exporters carry (issue 16): logs and metrics are served only when listed and consumed. */
  readonly signals?: ReadonlySet<Signal> | undefined;
  /** How long a request may take to arrive (RECEIVE_TIMEOUT_MS, 60 s; tests shorten it). */
  readonly requestTimeoutMs?: number | undefined;
}

/** Both OTLP receivers over one pipeline, one memory budget and one set of metrics. */
export class OtlpReceivers {
  readonly ingest: Ingest;
  private readonly grpc: GrpcReceiver;
  private readonly http: HttpReceiver;
  private listening = false;

  constructor(options: OtlpReceiversOptions) {
    this.ingest = new Ingest({
      consumer: options.consumer,
      memoryLimitBytes: options.memoryLimitBytes,
      metrics: options.metrics,
      logger: options.logger,
      wire: options.wire,
      signals: options.signals,
    });
    const common = {
      maxRequestBytes: options.maxRequestBytes,
      requestTimeoutMs: options.requestTimeoutMs,
      ingest: this.ingest,
      logger: options.logger,
      tls: options.tls,
      authorize: options.authorize,
    };
    this.grpc = new GrpcReceiver({ ...common, endpoint: options.grpcEndpoint });
    this.http = new HttpReceiver({ ...common, endpoint: options.httpEndpoint, cors: options.cors });
  }

  /** Listens on both endpoints; resolves with the bound ports (useful with port 0). */
  async start(): Promise<{ grpcPort: number; httpPort: number }> {
    const [grpcPort, httpPort] = await Promise.all([this.grpc.start(), this.http.start()]);
    this.listening = true;
    return { grpcPort, httpPort };
  }

  /** True once both receivers listen and until draining starts. */
  get ready(): boolean {
    return this.listening && !this.ingest.isDraining;
  }

  /** Refuses new data from now on, stops listening, and waits for requests being handled. */
  async stop(): Promise<void> {
    this.ingest.startDraining();
    this.listening = false;
    await Promise.all([this.grpc.stop(), this.http.stop()]);
  }
}

/**
 * Receivers from the `receivers:` block and `memory_limit_mib` that agent and store configs share;
 * `extra` adds what only the store has (TLS, auth).
 */
export function receiversFromConfig(
  config: { readonly receivers: AgentConfig['receivers']; readonly memory_limit_mib: number },
  deps: Pick<
    OtlpReceiversOptions,
    'consumer' | 'metrics' | 'logger' | 'tls' | 'authorize' | 'wire' | 'signals'
  >,
): OtlpReceivers {
  const otlp = config.receivers.otlp;
  return new OtlpReceivers({
    grpcEndpoint: otlp.grpc.endpoint,
    httpEndpoint: otlp.http.endpoint,
    maxRequestBytes: otlp.max_request_bytes,
    memoryLimitBytes: config.memory_limit_mib * 1024 * 1024,
    cors: {
      allowedOrigins: otlp.http.cors.allowed_origins,
      allowedHeaders: otlp.http.cors.allowed_headers,
      maxAgeSeconds: otlp.http.cors.max_age,
    },
    ...deps,
  });
}
