import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';

/** TLS for the receivers (OTLP/HTTP and OTLP/gRPC servers alike): server options, and news of a rotated certificate. */
export interface ReceiverTls {
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  onChange(listener: (options: SecureContextOptions) => void): void;
  close(): void;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  readonly clientCaFile?: string | undefined;
  /** How often the files are checked for rotation (a mounted Secret changes in place). */
  readonly pollIntervalMs?: number;
}

/** TLS material read from files and re-read when they change, so cert-manager rotations need no restart. */
export class FileTls implements ReceiverTls {
  private material: { cert: Buffer; key: Buffer; ca: Buffer | undefined };
  private readonly listeners: Array<(o: SecureContextOptions) => void> = [];
  private readonly watched: string[];

  constructor(private readonly files: TlsFiles) {
    this.material = this.read();
    this.watched = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
    for (const f of this.watched) {
      watchFile(f, { interval: files.pollIntervalMs ?? 5000, persistent: false }, () => this.reload());
    }
  }

  private read(): { cert: Buffer; key: Buffer; ca: Buffer | undefined } {
    return {
      cert: readFileSync(this.files.certFile),
      key: readFileSync(this.files.keyFile),
      ca: this.files.clientCaFile ? readFileSync(this.files.clientCaFile) : undefined,
    };
  }

  private reload(): void {
    try {
      this.material = this.read();
    } catch {
      return; // a half-written rotation: keep the last good material, the next poll retries
    }
    const o = this.contextOptions();
    for (const l of this.listeners) l(o);
  }

  private contextOptions(): SecureContextOptions {
    const { cert, key, ca } = this.material;
    return ca ? { cert, key, ca } : { cert, key };
  }

  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    const mtls = this.material.ca !== undefined;
    return { ...this.contextOptions(), requestCert: mtls, rejectUnauthorized: mtls };
  }

  onChange(listener: (options: SecureContextOptions) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    for (const f of this.watched) unwatchFile(f);
  }
}
