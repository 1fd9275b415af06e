import { readFileSync } from 'node:fs';
import { SentinelError } from '../errors.js';
import { BearerTokenFile } from './bearer-token.js';

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

/** The CA bundle named by `tls.ca_file`, read once at start; a clear error when it cannot be read. */
export function readCaFile(options: OtlpExporterOptions): Buffer | undefined {
  if (!options.tls.caFile) return undefined;
  try {
    return readFileSync(options.tls.caFile);
  } catch (err) {
    throw new SentinelError(
      'SENTINEL_ERR_TLS_LOAD',
      `exporter ${options.name}: tls.ca_file ${options.tls.caFile} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
