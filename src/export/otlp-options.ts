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

/**
 * The CA bundle of a `tls.ca_file` key, read once at start (undefined when the key is empty); a clear error
 * naming the key (`what`, e.g. `exporter store: tls.ca_file`) when the file cannot be read.
 */
export function readCaFile(caFile: string, what: string): Buffer | undefined {
  if (!caFile) return undefined;
  // `env:NAME`: the PEM is in an environment variable (the injector puts the store's CA into the pod spec, since
  // an app namespace holds no ConfigMap of ours to mount).
  if (caFile.startsWith('env:')) {
    const pem = process.env[caFile.slice(4)];
    if (pem) return Buffer.from(pem);
    throw new SentinelError(
      'SENTINEL_ERR_TLS_LOAD',
      `${what} ${caFile}: the environment variable is not set`,
    );
  }
  try {
    return readFileSync(caFile);
  } catch (err) {
    throw new SentinelError(
      'SENTINEL_ERR_TLS_LOAD',
      `${what} ${caFile} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** The CA bundle of an OTLP exporter's `tls.ca_file`. */
export function exporterCaFile(options: OtlpExporterOptions): Buffer | undefined {
  return readCaFile(options.tls.caFile, `exporter ${options.name}: tls.ca_file`);
}
