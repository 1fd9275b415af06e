import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../telemetry/index.js';

export interface TokenAuthOptions {
  /** Files holding the accepted bearer tokens, one per non-empty line (a mounted Secret). */
  readonly tokenFiles: readonly string[];
  /** The config key the files come from, for log lines (`auth.token_files`, `auth.reader_token_files`). */
  readonly key?: string;
  readonly logger: Logger;
  /** How often the files are checked for a rotation. */
  readonly pollIntervalMs?: number;
}

/**
 * A set of static bearer tokens read from files and re-read when a file changes, so rotating a Kubernetes
 * Secret takes effect without a restart (and the old token stops working). Presented tokens are compared in
 * constant time against every accepted one (as SHA-256 digests, so lengths do not leak either).
 */
export class TokenAuth {
  private readonly options: TokenAuthOptions;
  private digests: Buffer[] = [];
  private readonly onChange = () => this.reload();

  constructor(options: TokenAuthOptions) {
    this.options = options;
    this.reload();
    for (const f of options.tokenFiles) {
      watchFile(f, { interval: options.pollIntervalMs ?? 1000, persistent: false }, this.onChange);
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
        this.options.logger.error(
          { file: f, key: this.options.key, err: (err as Error).message },
          'cannot read an auth token file',
        );
        continue;
      }
      for (const line of text.split(/\r?\n/)) {
        const token = line.trim();
        if (token) digests.push(tokenDigest(token));
      }
    }
    this.digests = digests;
  }

  /** How many tokens the files hold now. */
  get size(): number {
    return this.digests.length;
  }

  /** True when `token` is one of the files' tokens. */
  matches(token: string): boolean {
    return this.matchesDigest(tokenDigest(token));
  }

  /** True when a token whose SHA-256 is `presented` is one of the files' tokens. */
  matchesDigest(presented: Buffer): boolean {
    let ok = false;
    // No early exit: the time taken does not depend on which token matched.
    for (const d of this.digests) if (timingSafeEqual(d, presented)) ok = true;
    return ok;
  }

  close(): void {
    for (const f of this.options.tokenFiles) unwatchFile(f, this.onChange);
  }
}

/** A token's SHA-256, the form token sets and the TokenReview cache compare. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
