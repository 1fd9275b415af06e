/**
 * Keeps the HTTPS server's certificate in step with the files. cert-manager and Helm-managed Secrets are
 * mounted through a `..data` symlink that the kubelet swaps on update, so the files are re-read on a
 * directory watch and on a timer (watches miss events on some filesystems); a pair that does not load
 * keeps the last good one in place.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

export interface CertificateReloaderOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** Called with a new, valid pair. */
  readonly onChange: (pair: SecureContextOptions) => void;
  readonly onError: (err: Error) => void;
  readonly intervalMs?: number;
}

export class CertificateReloader {
  private readonly options: CertificateReloaderOptions;
  private current = '';
  private timer: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  private checking: Promise<boolean> | undefined;

  constructor(options: CertificateReloaderOptions) {
    this.options = options;
  }

  /** Reads the pair once; throws when it does not load (at start there is no last good pair to keep). */
  async load(): Promise<SecureContextOptions> {
    const pair = await this.read();
    createSecureContext(pair);
    this.current = fingerprint(pair);
    return pair;
  }

  /** Starts watching; call after `load()`. */
  start(): void {
    const interval = this.options.intervalMs ?? 10_000;
    this.timer = setInterval(() => void this.check(), interval);
    this.timer.unref();
    for (const dir of new Set([dirname(this.options.certFile), dirname(this.options.keyFile)])) {
      try {
        const w = watch(dir, () => void this.check());
        w.on('error', () => w.close());
        w.unref();
        this.watchers.push(w);
      } catch {
        // The timer still catches the change.
      }
    }
  }

  /** Re-reads the files; resolves true when a new pair was applied. Concurrent calls share one read. */
  check(): Promise<boolean> {
    this.checking ??= this.reload().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private async reload(): Promise<boolean> {
    let pair: SecureContextOptions;
    try {
      pair = await this.read();
    } catch (err) {
      this.options.onError(err as Error);
      return false;
    }
    const fp = fingerprint(pair);
    if (fp === this.current) return false;
    try {
      // A half-written update (new cert, old key) fails here and is retried on the next event.
      createSecureContext(pair);
    } catch (err) {
      this.options.onError(new Error(`certificate and key do not load: ${(err as Error).message}`));
      return false;
    }
    this.current = fp;
    this.options.onChange(pair);
    return true;
  }

  private async read(): Promise<SecureContextOptions> {
    const [cert, key] = await Promise.all([readFile(this.options.certFile), readFile(this.options.keyFile)]);
    return { cert, key };
  }
}

function fingerprint(pair: SecureContextOptions): string {
  return `${String(pair.cert)}\u0000${String(pair.key)}`;
}
