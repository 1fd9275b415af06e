/**
 * Who is talking to the store, and may they (issue 14). Two kinds of caller:
 * - agents: a projected ServiceAccount token that TokenReview confirms for `auth.token_review.audience`, or a
 *   static token from `auth.token_files` (stores outside Kubernetes). They may ingest, use the decision feed and
 *   fetch the policy (`roleForPath` 'agent').
 * - readers: a token from `auth.reader_token_files` (Grafana, `sentinel compare`, an operator). They may search,
 *   look traces up, compare, and call every other query route (`roleForPath` 'reader').
 * Neither role includes the other: an agent in one namespace cannot read another's traces, and a reader token
 * leaked from a dashboard cannot write spans.
 */
import type { Clock } from '../clock.js';
import type { AuthVerdict } from '../receiver/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { AccessRole } from './access-role.js';
import { TokenAuth, tokenDigest } from './token-auth.js';
import { TokenReviewer, type TokenReviewCall, type TokenReviewResult } from './token-review.js';

/** Decides one request from its `Authorization` header and the role its path needs. */
export type Authorize = (
  authorization: string | undefined,
  role: AccessRole,
) => AuthVerdict | Promise<AuthVerdict>;

export interface StoreAuthOptions {
  /** `auth.required`: false lets every request through (the default, as before issue 14). */
  readonly required: boolean;
  readonly agentTokenFiles: readonly string[];
  readonly readerTokenFiles: readonly string[];
  readonly tokenReview?: {
    readonly audience: string;
    readonly cacheTtlMs: number;
    readonly kubeconfig: string;
  };
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
  /** Replaces the TokenReview API call (benchmarks). */
  readonly reviewCall?: TokenReviewCall;
}

const OK: AuthVerdict = Object.freeze({ ok: true });

type RefusalReason = 'missing' | 'invalid' | 'expired' | 'wrong_audience' | 'wrong_role' | 'unavailable';

export class StoreAuth {
  private readonly agents: TokenAuth;
  private readonly readers: TokenAuth;
  private readonly reviewer: TokenReviewer | undefined;
  private readonly refused;
  private readonly required: boolean;

  constructor(options: StoreAuthOptions) {
    this.required = options.required;
    const files = (tokenFiles: readonly string[], key: string) =>
      new TokenAuth({
        tokenFiles,
        key,
        logger: options.logger,
        ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
      });
    this.agents = files(options.agentTokenFiles, 'auth.token_files');
    this.readers = files(options.readerTokenFiles, 'auth.reader_token_files');
    this.reviewer = options.tokenReview
      ? new TokenReviewer(
          {
            ...options.tokenReview,
            logger: options.logger,
            metrics: options.metrics,
            ...(options.clock ? { clock: options.clock } : {}),
          },
          options.reviewCall,
        )
      : undefined;
    this.refused = options.metrics.counter(
      'store_auth_refused_requests_total',
      'Requests refused by the store for their credential, by the role the route needs and the reason (missing, invalid, expired, wrong_audience, wrong_role, unavailable).',
      ['role', 'reason'],
    );
    if (this.required && !this.reviewer && this.agents.size === 0)
      options.logger.warn(
        'auth.required is true but no agent credential is configured (auth.token_review or auth.token_files): every agent is refused',
      );
    if (this.required && this.readers.size === 0)
      options.logger.warn(
        'auth.required is true and auth.reader_token_files holds no token: search, trace lookup and compare refuse everyone',
      );
  }

  /** Loads the Kubernetes client when TokenReview is on (fails at start on a bad kubeconfig). */
  async init(): Promise<void> {
    await this.reviewer?.init();
  }

  /** The verdict for a request needing `role`, presenting `authorization` (an HTTP header or gRPC metadata). */
  authorize: Authorize = (authorization, role) => {
    if (role === 'open' || !this.required) return OK;
    const token = bearerToken(authorization);
    if (token === undefined) return this.refuse(role, 'missing');
    const digest = tokenDigest(token);
    // Static tokens first: no API call for them, and a reader token is never sent to the API server.
    if (this.readers.matchesDigest(digest)) return role === 'reader' ? OK : this.refuse(role, 'wrong_role');
    if (this.agents.matchesDigest(digest)) return role === 'agent' ? OK : this.refuse(role, 'wrong_role');
    if (!this.reviewer) return this.refuse(role, 'invalid');
    const review = this.reviewer.review(token, digest);
    // A cached review is answered synchronously, like a static token.
    return review instanceof Promise ? review.then((r) => this.verdict(role, r)) : this.verdict(role, review);
  };

  private verdict(role: AccessRole, r: TokenReviewResult): AuthVerdict {
    switch (r.kind) {
      case 'authenticated':
        return role === 'agent' ? OK : this.refuse(role, 'wrong_role');
      case 'refused':
        return this.refuse(role, r.reason);
      case 'unavailable':
        return this.refuse(role, 'unavailable');
    }
  }

  private refuse(role: AccessRole, reason: RefusalReason): AuthVerdict {
    this.refused.inc({ role, reason });
    switch (reason) {
      case 'wrong_role':
        return {
          ok: false,
          status: 403,
          code: 'SENTINEL_ERR_FORBIDDEN',
          message:
            role === 'reader'
              ? 'this route needs the reader credential (auth.reader_token_files); an agent identity cannot read traces'
              : 'this route is for agents (ingest, decision feed, policy); a reader credential cannot use it',
        };
      case 'unavailable':
        return {
          ok: false,
          status: 503,
          code: 'SENTINEL_ERR_AUTH_UNAVAILABLE',
          message: 'the Kubernetes TokenReview API could not check the token; retry',
        };
      default:
        return {
          ok: false,
          status: 401,
          code: 'SENTINEL_ERR_UNAUTHENTICATED',
          message:
            reason === 'missing'
              ? 'a bearer token is required'
              : reason === 'expired'
                ? 'the bearer token has expired'
                : reason === 'wrong_audience'
                  ? 'the bearer token is not for this audience (auth.token_review.audience)'
                  : 'the bearer token is not valid',
        };
    }
  }

  close(): void {
    this.agents.close();
    this.readers.close();
  }
}

function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return m ? m[1] : undefined;
}
