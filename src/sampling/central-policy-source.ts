/**
 * The cluster's sampling policy as a live PolicySource (issue 14): fetched from a store's `GET /api/policy` at
 * start and every `poll_interval` with `If-None-Match`, so an unchanged policy costs a 304. A changed one is
 * parsed and validated like a reloaded `policy_file` (policy-file-source.ts), in a worker process that the agent
 * does not wait for (validatePolicyText; issue 13), and compiled here: a good one replaces the policy
 * for every trace not yet decided; a bad one keeps the last good policy, is logged and counted in
 * `sentinel_policy_reload_failures_total`.
 *
 * Until the first fetch succeeds (the store down, not yet up, or serving no policy), the snapshot the injector
 * put into the pod at admission applies (`sampling.policy_snapshot`), so an agent never keeps or drops
 * everything just because the store was not there when it started.
 */
import { EventEmitter } from 'node:events';
import type { AgentConfig } from '../config/index.js';
import { SentinelError } from '../errors.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { evaluationErrorObserver, PolicyFileSource } from './policy-file-source.js';
import type { PolicyParseResult } from './policy-config.js';
import { validatePolicyText, validatePolicyTextSync } from './policy-validation.js';
import { formatPolicyProblems, type PolicyProblem } from './policy-problems.js';
import { POLICY_MEDIA_TYPE, POLICY_PATH } from './policy-protocol.js';
import { compilePolicy, keepAllPolicy, staticPolicySource } from './sampling-policy.js';
import type { PolicyObserver, PolicySource, SamplingPolicy } from './sampling-policy.js';
import { headerValue, StoreHttpClient, StoreRequestError } from '../http/index.js';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';

export interface CentralPolicySourceOptions {
  /** `sampling.central_policy.url`: the store's query URL; `/api/policy` is added when it has no path. */
  readonly url: string;
  readonly pollIntervalMs: number;
  readonly bearerTokenFile?: string;
  readonly caFile?: string;
  /** `sampling.policy_snapshot`: the policy YAML in force until the first fetch succeeds. */
  readonly snapshot: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: Clock;
  readonly requestTimeoutMs?: number;
  /** Validates a fetched policy text (default: in a short-lived process, validatePolicyText; tests replace it). */
  readonly validate?: (text: string) => Promise<PolicyParseResult>;
}

/** A policy file is small; an answer this large is not one. */
const MAX_POLICY_BYTES = 4 * 1024 * 1024;

/** What one poll did. */
export type PolicyPollResult = 'reloaded' | 'unchanged' | 'failed' | 'error';

/**
 * Events: `reload` (policy) after a fetched policy replaced the current one; `reloadFailed` (problems) after a
 * fetched one was refused.
 */
export class CentralPolicySource extends EventEmitter implements PolicySource {
  private policy: SamplingPolicy;
  private readonly options: CentralPolicySourceOptions;
  private readonly url: URL;
  private readonly clock: Clock;
  private readonly http: StoreHttpClient;
  private readonly observer: PolicyObserver;
  /** The ETag of the last answer read, good or bad (a bad version is not fetched and refused again). */
  private etag: string | undefined;
  /** True once a fetched policy is in force (the snapshot no longer is). */
  private fetched = false;
  private timer: ClockTimer | undefined;
  private running: Promise<PolicyPollResult> | undefined;
  private closed = false;
  private readonly m;

  /** Parses the snapshot now: a bad snapshot at start is an error, as a bad policy_file is. */
  constructor(options: CentralPolicySourceOptions) {
    super();
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.url = policyUrl(options.url);
    this.http = new StoreHttpClient({
      bearerTokenFile: options.bearerTokenFile,
      tls: { caFile: options.caFile ?? '' },
      caFileKey: 'sampling.central_policy.tls.ca_file',
      timeoutMs: options.requestTimeoutMs ?? Math.max(2000, Math.min(10_000, options.pollIntervalMs)),
      maxResponseBytes: MAX_POLICY_BYTES,
    });
    const metrics = options.metrics;
    this.m = {
      reloads: metrics.counter('policy_reloads_total', 'Sampling policy files reloaded and applied.'),
      failures: metrics.counter(
        'policy_reload_failures_total',
        'Sampling policy file changes refused (unreadable or invalid); the last good policy stays in force.',
      ),
      fetchErrors: metrics.counter(
        'policy_fetch_errors_total',
        'Failed fetches of the central sampling policy, by reason (network, timeout, status, bad_response); the policy in force stays.',
        ['reason'],
      ),
      fromSnapshot: metrics.gauge(
        'policy_from_snapshot',
        '1 while the policy snapshot from admission applies because no central policy has been fetched yet.',
      ),
    };
    this.observer = evaluationErrorObserver(metrics, options.logger);
    this.policy = this.snapshotPolicy();
    this.m.fromSnapshot.set(1);
  }

  current(): SamplingPolicy {
    return this.policy;
  }

  /** Fetches now, then every poll interval. */
  start(): this {
    this.schedule(0);
    return this;
  }

  /** Stops polling and closes the connections. */
  close(): void {
    this.closed = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.http.close();
  }

  /** One fetch (at most one at a time); errors are counted and logged, never thrown. */
  poll(): Promise<PolicyPollResult> {
    this.running ??= this.fetch().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      void this.poll().then(() => this.schedule(this.options.pollIntervalMs));
    }, delayMs);
  }

  private async fetch(): Promise<PolicyPollResult> {
    let res;
    try {
      res = await this.http.request(this.url, {
        method: 'GET',
        headers: { accept: POLICY_MEDIA_TYPE, ...(this.etag ? { 'if-none-match': this.etag } : {}) },
        accept: [304],
      });
    } catch (err) {
      const reason = err instanceof StoreRequestError ? err.reason : 'network';
      this.m.fetchErrors.inc({ reason });
      this.options.logger.warn(
        { url: this.url.href, reason, err: (err as Error).message },
        this.fetched
          ? 'fetching the central sampling policy failed; the last one fetched stays in force'
          : 'fetching the central sampling policy failed; the policy snapshot from admission stays in force',
      );
      return 'error';
    }
    if (res.status === 304) return 'unchanged';
    const etag = headerValue(res.headers['etag']);
    if (etag !== undefined && etag === this.etag) return 'unchanged';
    const previousEtag = this.etag;
    this.etag = etag;
    let parsed;
    try {
      parsed = await (this.options.validate ?? validatePolicyText)(res.body.toString('utf8'));
    } catch (err) {
      // The validating process could not run (no process left to the container, killed): nothing was judged,
      // so the next poll fetches this version again instead of a 304.
      this.etag = previousEtag;
      this.m.failures.inc();
      this.options.logger.error(
        { url: this.url.href, etag, err: (err as Error).message },
        `the central policy could not be validated, keeping the ${this.fetched ? 'last good policy' : 'policy snapshot'}; retried at the next poll`,
      );
      return 'failed';
    }
    if (!parsed.ok) {
      this.m.failures.inc();
      for (const p of parsed.errors) {
        this.options.logger.error(
          { url: this.url.href, etag, line: p.line, column: p.column, policy: p.policy, key: p.key },
          `central policy refused, keeping the ${this.fetched ? 'last good policy' : 'policy snapshot'}: ${p.message}`,
        );
      }
      this.emit('reloadFailed', parsed.errors satisfies readonly PolicyProblem[]);
      return 'failed';
    }
    this.policy = compilePolicy(parsed.config, this.observer);
    this.fetched = true;
    this.m.fromSnapshot.set(0);
    this.m.reloads.inc();
    for (const w of parsed.warnings)
      this.options.logger.warn({ url: this.url.href, line: w.line, column: w.column }, w.message);
    this.options.logger.info(
      { url: this.url.href, etag, policies: this.policy.names },
      'central sampling policy applied',
    );
    this.emit('reload', this.policy);
    return 'reloaded';
  }

  private snapshotPolicy(): SamplingPolicy {
    if (this.options.snapshot.trim() === '') {
      this.options.logger.warn(
        { url: this.url.href },
        'sampling.policy_snapshot is empty: every trace is kept until the central policy is fetched',
      );
      return keepAllPolicy;
    }
    return compileSnapshot(this.options.snapshot, this.observer);
  }
}

/** The policy URL from `sampling.central_policy.url`: `/api/policy` when the URL names no path. */
export function policyUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_INVALID',
      `sampling.central_policy.url: expected an http(s) URL of the store, got ${JSON.stringify(raw)}`,
    );
  }
  if (url.pathname === '' || url.pathname === '/') url.pathname = POLICY_PATH;
  return url;
}

/**
 * The policy source of `sampling:`: a local `policy_file` wins (a pod annotation may name one); else the
 * central policy with the snapshot until its first fetch; else the snapshot alone; else keep every trace.
 */
export function choosePolicySource(
  config: AgentConfig['sampling'],
  deps: { readonly logger: Logger; readonly metrics: Metrics; readonly clock?: Clock | undefined },
): PolicySource & { close?(): void } {
  const common = { logger: deps.logger, metrics: deps.metrics, ...(deps.clock ? { clock: deps.clock } : {}) };
  if (config.policy_file !== '') return new PolicyFileSource({ file: config.policy_file, ...common }).start();
  const central = config.central_policy;
  if (central.url !== '')
    return new CentralPolicySource({
      url: central.url,
      pollIntervalMs: central.poll_interval,
      bearerTokenFile: central.bearer_token_file,
      caFile: central.tls.ca_file,
      snapshot: config.policy_snapshot,
      ...common,
    }).start();
  if (config.policy_snapshot.trim() !== '')
    return staticPolicySource(
      compileSnapshot(config.policy_snapshot, evaluationErrorObserver(deps.metrics, deps.logger)),
    );
  return staticPolicySource(keepAllPolicy);
}

/** `sampling.policy_snapshot` compiled; a bad one is SENTINEL_ERR_POLICY_INVALID (the injector wrote it). */
function compileSnapshot(snapshot: string, observer: PolicyObserver): SamplingPolicy {
  const parsed = validatePolicyTextSync(snapshot);
  if (!parsed.ok)
    throw new SentinelError(
      'SENTINEL_ERR_POLICY_INVALID',
      `invalid sampling.policy_snapshot:\n${formatPolicyProblems('sampling.policy_snapshot', parsed.errors)}`,
    );
  return compilePolicy(parsed.config, observer);
}
