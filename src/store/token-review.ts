/**
 * Agents' projected ServiceAccount tokens, checked with the Kubernetes TokenReview API
 * (`authentication.k8s.io/v1`, issue 14), as Linkerd, Istio and Vault check workload tokens. The client
 * (@kubernetes/client-node) is imported only when `auth.token_review.enabled` is true.
 *
 * Results are cached by the token's SHA-256: a positive one for `cache_ttl`, never past the token's own `exp`;
 * a negative one briefly, so a misconfigured agent retrying in a loop does not become a load on the API server.
 * The API failing (unreachable, 5xx, a timeout) is not a verdict about the token: it is not cached, it is
 * counted, and the caller answers "unavailable, retry" rather than "unauthenticated".
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { systemClock, wallClockNow, type Clock } from '../clock.js';
import { kubeRequestDeadline } from '../enrich/index.js';
import { SentinelError } from '../errors.js';
import type { Logger, Metrics } from '../telemetry/index.js';

/** What the review said about one token. */
export type TokenReviewResult =
  | { readonly kind: 'authenticated'; readonly username: string }
  | { readonly kind: 'refused'; readonly reason: 'invalid' | 'wrong_audience' | 'expired' }
  | { readonly kind: 'unavailable'; readonly message: string };

/** The one call this needs from the API server: create a TokenReview, get its status back. */
export type TokenReviewCall = (token: string, audiences: readonly string[]) => Promise<TokenReviewStatus>;

/** `status` of an `authentication.k8s.io/v1` TokenReview (the fields read here). */
export interface TokenReviewStatus {
  readonly authenticated?: boolean;
  readonly audiences?: readonly string[];
  readonly error?: string;
  readonly user?: { readonly username?: string };
}

export interface TokenReviewerOptions {
  /** `auth.token_review.audience`: asked for in `spec.audiences`, required in `status.audiences`. */
  readonly audience: string;
  /** `auth.token_review.cache_ttl` in ms: how long a positive review is trusted. */
  readonly cacheTtlMs: number;
  /** `auth.token_review.kubeconfig`; empty: the in-cluster config. */
  readonly kubeconfig: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: Clock;
  /** Deadline of one review request. */
  readonly timeoutMs?: number;
  /** Tokens remembered at most (positive and negative). */
  readonly maxEntries?: number;
}

/** A refusal is remembered this long (capped by cache_ttl): long enough to absorb a retry loop, short enough
 * that a token the API server starts accepting (a clock skew, a restored ServiceAccount) works soon. */
const NEGATIVE_TTL_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 5_000;
/** Three base64url parts: the JWS compact serialisation every ServiceAccount token has. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

interface CachedReview {
  readonly result: TokenReviewResult;
  readonly untilMs: number;
}

export class TokenReviewer {
  private readonly options: TokenReviewerOptions;
  private readonly clock: Clock;
  private readonly cache: LRUCache<string, CachedReview>;
  /** Reviews under way, so parallel requests with one new token make one API call. */
  private readonly inFlight = new Map<string, Promise<TokenReviewResult>>();
  private call: TokenReviewCall | undefined;
  private readonly reviews;
  private readonly cacheHits;

  constructor(options: TokenReviewerOptions, call?: TokenReviewCall) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.cache = new LRUCache({ max: options.maxEntries ?? 10_000 });
    this.call = call;
    this.reviews = options.metrics.counter(
      'store_token_reviews_total',
      'TokenReview API calls for agent tokens, by result (authenticated, unauthenticated, wrong_audience, error).',
      ['result'],
    );
    this.cacheHits = options.metrics.counter(
      'store_token_review_cache_hits_total',
      'Agent tokens answered from the TokenReview cache, without an API call.',
    );
  }

  /**
   * Loads @kubernetes/client-node and the kubeconfig (the in-cluster config when empty). Called at the store's
   * start, so that a missing kubeconfig or ServiceAccount fails there, not at the first agent.
   */
  async init(): Promise<void> {
    if (this.call) return;
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    try {
      if (this.options.kubeconfig) kc.loadFromFile(this.options.kubeconfig);
      else kc.loadFromCluster();
    } catch (err) {
      throw new SentinelError(
        'SENTINEL_ERR_CONFIG_INVALID',
        `auth.token_review: cannot load ${this.options.kubeconfig ? `kubeconfig ${this.options.kubeconfig}` : 'the in-cluster config'}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (!kc.getCurrentCluster())
      throw new SentinelError(
        'SENTINEL_ERR_CONFIG_INVALID',
        `auth.token_review: ${this.options.kubeconfig ? `kubeconfig ${this.options.kubeconfig} names` : 'the in-cluster config has'} no current cluster (outside Kubernetes set auth.token_review.kubeconfig)`,
      );
    const api = kc.makeApiClient(k8s.AuthenticationV1Api);
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.call = async (token, audiences) => {
      const review = await api.createTokenReview(
        {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token, audiences: [...audiences] },
          },
        },
        kubeRequestDeadline(timeoutMs),
      );
      return review.status ?? {};
    };
  }

  /**
   * The review of `token`, synchronously from the cache when it is still good there (the hot path: one LRU get),
   * else from the API server. `digest` is the token's SHA-256 when the caller has it already.
   */
  review(token: string, digest?: Buffer): TokenReviewResult | Promise<TokenReviewResult> {
    const nowMs = this.wallNow();
    const key = (digest ?? createHash('sha256').update(token).digest()).toString('base64');
    const cached = this.cache.get(key);
    // A cached entry never outlives the token's exp, so a hit needs no look at the token itself.
    if (cached && cached.untilMs > nowMs) {
      this.cacheHits.inc();
      return cached.result;
    }
    const expMs = tokenExpiryMs(token);
    // An expired token is refused here, before any call: the API server would refuse it too.
    if (expMs !== undefined && expMs <= nowMs) return { kind: 'refused', reason: 'expired' };
    // ServiceAccount tokens are JWTs: anything else is refused here, so a client spraying arbitrary tokens
    // costs the API server nothing.
    if (!JWT_SHAPE.test(token)) return { kind: 'refused', reason: 'invalid' };
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.ask(key, token, expMs).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /**
   * Wall-clock on purpose: a token's `exp` is a date, and a cached review's end is the earlier of `cache_ttl` and
   * that date, so the cache reads the one clock they share.
   */
  private wallNow(): number {
    return wallClockNow(this.clock);
  }

  private async ask(key: string, token: string, expMs: number | undefined): Promise<TokenReviewResult> {
    if (!this.call) await this.init();
    const audience = this.options.audience;
    let status: TokenReviewStatus;
    try {
      status = await this.call!(token, [audience]);
    } catch (err) {
      this.reviews.inc({ result: 'error' });
      const message = `TokenReview failed: ${(err as Error).message}`;
      this.options.logger.warn({ err: (err as Error).message }, message);
      return { kind: 'unavailable', message };
    }
    const nowMs = this.wallNow();
    let result: TokenReviewResult;
    if (status.authenticated !== true) {
      this.reviews.inc({ result: 'unauthenticated' });
      this.options.logger.debug({ error: status.error }, 'TokenReview: token not authenticated');
      result = { kind: 'refused', reason: 'invalid' };
    } else if (!(status.audiences ?? []).includes(audience)) {
      // Kubernetes: a client that sets spec.audiences must find a compatible one in status.audiences; an empty
      // list means the token is valid for the API server's own audience, not ours.
      this.reviews.inc({ result: 'wrong_audience' });
      this.options.logger.debug(
        { audiences: status.audiences ?? [], expected: audience },
        'TokenReview: token authenticated for another audience',
      );
      result = { kind: 'refused', reason: 'wrong_audience' };
    } else {
      this.reviews.inc({ result: 'authenticated' });
      result = { kind: 'authenticated', username: status.user?.username ?? '' };
    }
    const ttl =
      result.kind === 'authenticated'
        ? this.options.cacheTtlMs
        : Math.min(NEGATIVE_TTL_MS, this.options.cacheTtlMs);
    const untilMs = Math.min(nowMs + ttl, expMs ?? Infinity);
    if (untilMs > nowMs) this.cache.set(key, { result, untilMs });
    return result;
  }
}

/**
 * The `exp` claim (unix seconds) of a JWT, in ms, read without verifying the signature: it only bounds how long
 * a review is cached and refuses a token that has run out; the API server decides whether the token is valid.
 */
export function tokenExpiryMs(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
