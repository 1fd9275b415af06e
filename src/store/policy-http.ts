/**
 * `GET /api/policy` (issue 14): the cluster's sampling policy file (`policy.file`, a mounted ConfigMap) as it is,
 * with a strong ETag (the SHA-256 of its bytes), so that agents poll with `If-None-Match` and get 304 until the
 * ConfigMap changes. The file is re-read when it changes (polled by stat, which follows the kubelet's `..data`
 * symlink swap). The store serves the bytes unchanged: agents parse and validate them, and keep their last good
 * policy on a bad one; the store only says in its log and a gauge that the file it serves does not validate.
 */
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatPolicyProblems, POLICY_MEDIA_TYPE, type loadPolicyParser } from '../sampling/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';

export interface PolicyHttpOptions {
  /** `policy.file`; empty: the route answers 404 SENTINEL_ERR_POLICY_NOT_CONFIGURED. */
  readonly file: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How often the file is checked for a change. */
  readonly pollIntervalMs?: number;
  /** Validates a policy text: the sampling room's parsePolicyText (loadPolicyParser), in-process. */
  readonly parse: PolicyParser;
}

export type PolicyParser = Awaited<ReturnType<typeof loadPolicyParser>>;

interface ServedPolicy {
  readonly text: Buffer;
  readonly etag: string;
}

export class PolicyHttp {
  private readonly options: PolicyHttpOptions;
  private served: ServedPolicy | undefined;
  private readError: string | undefined;
  private readonly onChange = () => this.reload();
  private readonly valid;
  private readonly requests;

  constructor(options: PolicyHttpOptions) {
    this.options = options;
    this.valid = options.metrics.gauge(
      'store_policy_valid',
      'Whether the policy file the store serves on /api/policy validates (1) or not (0); agents keep their last good policy on a bad one.',
    );
    this.requests = options.metrics.counter(
      'store_policy_requests_total',
      'GET /api/policy answers, by status (200 a new version, 304 unchanged, 404 not configured, 503 unreadable).',
      ['status'],
    );
    if (options.file) {
      this.reload();
      watchFile(options.file, { interval: options.pollIntervalMs ?? 1000, persistent: false }, this.onChange);
    }
  }

  /** The ETag served now (undefined when no file is configured or it cannot be read). */
  get etag(): string | undefined {
    return this.served?.etag;
  }

  /**
   * Re-reads the file; an unreadable file keeps the last version read (a ConfigMap swap can race a read).
   * `quiet`: a failure is not logged again (a request's retry, see `serve`).
   */
  reload(quiet = false): void {
    const file = this.options.file;
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch (err) {
      this.readError = (err as Error).message;
      if (!quiet) this.options.logger.error({ file, err: this.readError }, 'cannot read policy.file');
      return;
    }
    this.readError = undefined;
    const etag = `"${createHash('sha256').update(text).digest('base64url')}"`;
    if (etag === this.served?.etag) return;
    this.served = { text, etag };
    const parsed = this.options.parse(text.toString('utf8'));
    this.valid.set(parsed.ok ? 1 : 0);
    if (parsed.ok) this.options.logger.info({ file, etag }, 'serving the sampling policy on /api/policy');
    else
      this.options.logger.error(
        { file, etag },
        `policy.file does not validate; agents keep their last good policy:\n${formatPolicyProblems(file, parsed.errors)}`,
      );
  }

  /** Answers GET or HEAD /api/policy. */
  serve(req: IncomingMessage, res: ServerResponse): void {
    const send = (status: number, headers: Record<string, string>, body?: Buffer | string) => {
      this.requests.inc({ status: String(status) });
      res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body);
    };
    if (!this.options.file) {
      send(
        404,
        { 'content-type': 'application/json' },
        JSON.stringify({
          error:
            'this store serves no sampling policy: set policy.file (the chart: store.policy) to serve one',
          code: 'SENTINEL_ERR_POLICY_NOT_CONFIGURED',
        }),
      );
      return;
    }
    // Nothing read yet (the file is not there, or was not at the last poll): try again now, so that a file that
    // appears is served from the first request after, whatever the watcher saw (a file that did not exist when
    // watchFile started was seen in CI to go unnoticed for over 5 s).
    if (!this.served) this.reload(true);
    const served = this.served;
    if (!served) {
      send(
        503,
        { 'content-type': 'application/json', 'retry-after': '5' },
        JSON.stringify({ error: `policy.file cannot be read: ${this.readError ?? 'not read yet'}` }),
      );
      return;
    }
    const headers = { etag: served.etag, 'cache-control': 'no-cache' };
    if (etagMatches(req.headers['if-none-match'], served.etag)) {
      send(304, headers);
      return;
    }
    send(200, { ...headers, 'content-type': POLICY_MEDIA_TYPE }, served.text);
  }

  close(): void {
    if (this.options.file) unwatchFile(this.options.file, this.onChange);
  }
}

/** RFC 9110 13.1.2: If-None-Match is `*` or a list of entity tags compared weakly (a `W/` prefix is ignored). */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
