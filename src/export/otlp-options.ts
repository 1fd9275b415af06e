import { BearerTokenFile, readCaFile } from '../http/index.js';
import { encodeTraceRequest, type Signal, type TraceData } from '../otlp/index.js';
import type { ExportResult, SpanExporter } from './span-exporter.js';

/** What both OTLP transports share (the `otlp` exporter's config keys). */
export interface OtlpExporterOptions {
  readonly name: string;
  /** `http://host:port` or `https://host:port` (gRPC); the same, or a full `/v1/traces` URL (HTTP). */
  readonly endpoint: string;
  readonly compression: 'gzip' | 'none';
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as `authorization: Bearer <token>`, re-read when the file changes; empty: none. */
  readonly bearerTokenFile: string;
  readonly timeoutMs: number;
  readonly tls: { readonly caFile: string; readonly insecureSkipVerify: boolean };
}

/** Headers plus the current bearer token, resolved per export. */
export class RequestHeaders {
  private readonly token: BearerTokenFile | undefined;

  constructor(private readonly options: OtlpExporterOptions) {
    this.token = options.bearerTokenFile ? new BearerTokenFile(options.bearerTokenFile) : undefined;
  }

  async current(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.options.headers)) out[k.toLowerCase()] = v;
    if (this.token) {
      const t = await this.token.current();
      if (t) out['authorization'] = `Bearer ${t}`;
    }
    return out;
  }
}

/** The CA bundle of an OTLP exporter's `tls.ca_file`. */
export function exporterCaFile(options: OtlpExporterOptions): Buffer | undefined {
  return readCaFile(options.tls.caFile, `exporter ${options.name}: tls.ca_file`);
}

/**
 * What the OTLP/gRPC and OTLP/HTTP exporters share: every signal is one encoded request sent by `send` to the
 * signal's service or path (issue 16), with the same headers, compression, TLS, retries and outcomes.
 */
export abstract class OtlpSignalExporter implements SpanExporter {
  constructor(readonly name: string) {}

  protected abstract send(signal: Signal, request: Uint8Array): Promise<ExportResult>;

  export(data: TraceData): Promise<ExportResult> {
    return this.send('traces', encodeTraceRequest(data));
  }

  exportEncoded(request: Uint8Array): Promise<ExportResult> {
    return this.send('traces', request);
  }

  /** Logs: `LogsService/Export`, `/v1/logs`. */
  exportLogs(request: Uint8Array): Promise<ExportResult> {
    return this.send('logs', request);
  }

  /** Metrics: `MetricsService/Export`, `/v1/metrics`. */
  exportMetrics(request: Uint8Array): Promise<ExportResult> {
    return this.send('metrics', request);
  }

  async forceFlush(): Promise<void> {}

  abstract shutdown(): Promise<void>;
}
