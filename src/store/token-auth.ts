import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../telemetry/index.js';

export interface TokenAuthOptions {
  /** Refuse every request without a valid token (`auth.required`). */
  readonly required: boolean;
  /** Files holding the accepted bearer tokens, one per non-empty line (a mounted Secret). */
  readonly tokenFiles: readonly string[];
  readonly logger: Logger;
  /** How often the files are checked for a rotation. */
  readonly pollIntervalMs?: number;
}

/**
 * Bearer-token auth for ingest and queries. Tokens are read from files and re-read when a file changes, so
 * rotating a Kubernetes Secret takes effect without a restart (and the old token stops working).
 * Presented tokens are compared in constant time against every accepted one (as SHA-256 digests, so
 * lengths do not leak either).
 */
export class TokenAuth {
  private readonly options: TokenAuthOptions;
  private digests: Buffer[] = [];

  constructor(options: TokenAuthOptions) {
    this.options = options;
    this.reload();
    for (const f of options.tokenFiles) {
      watchFile(f, { interval: options.pollIntervalMs ?? 1000, persistent: false }, () => this.reload());
    }
  }

  /** Re-reads every token file; a file that cannot be read contributes no token. */
  reload(): void {
    const digests: Buffer[] = [];
    for (const f of this.options.tokenFiles) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (err) {
        this.options.logger.error({ file: f, err: (err as Error).message }, 'cannot read an auth token file');
        continue;
      }
      for (const line of text.split(/\r?\n/)) {
        const token = line.trim();
        if (token) digests.push(digest(token));
      }
    }
    if (this.options.required && digests.length === 0) {
      this.options.logger.error('auth.required is true but no token could be read: every request is refused');
    }
    this.digests = digests;
  }

  /** True when the request may proceed: auth not required, or a valid `Bearer` token presented. */
  authorize = (authorization: string | undefined): boolean => {
    if (!this.options.required) return true;
    if (!authorization) return false;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return false;
    const presented = digest(m[1]!);
    let ok = false;
    // No early exit: the time taken does not depend on which token matched.
    for (const d of this.digests) if (timingSafeEqual(d, presented)) ok = true;
    return ok;
  };

  close(): void {
    for (const f of this.options.tokenFiles) unwatchFile(f);
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
