/**
 * The policy file as a live PolicySource. In Kubernetes the file is a mounted ConfigMap: the kubelet
 * writes a new `..<timestamp>` directory and atomically swaps the `..data` symlink, so the file's own
 * inode never changes in place. We therefore watch the directory (fs.watch) and also stat the path
 * (which follows the symlinks) on a timer, in case the watch misses the swap; both are unref()ed.
 *
 * A changed file is parsed and validated (in a short-lived worker process, policy-validation.ts, so that the
 * agent never loads yaml or zod; issue 13) and compiled here; a bad one keeps the last good policy, is
 * logged with line and column, and counted in `sentinel_policy_reload_failures_total`. A good one replaces the
 * policy for every trace not yet decided.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, statSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { SentinelError } from '../errors.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { PolicyParseResult } from './policy-config.js';
import { validatePolicyText, validatePolicyTextSync } from './policy-validation.js';
import { formatPolicyProblems, type PolicyProblem } from './policy-problems.js';
import { compilePolicy } from './sampling-policy.js';
import type { PolicyObserver, PolicySource, SamplingPolicy } from './sampling-policy.js';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';

export interface PolicyFileSourceOptions {
  readonly file: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock?: Clock;
  /** Stat fallback period; the reload promise is "within 2 s", so keep it under that. */
  readonly pollIntervalMs?: number;
  /** Watch the directory as well as polling (default true; tests turn it off to drive polling alone). */
  readonly watch?: boolean;
  /** Validates a changed file's text (default: in a short-lived process, validatePolicyTextSync; tests replace it). */
  readonly validate?: (text: string) => PolicyParseResult;
  /** The same without blocking, for the watcher and the poll (default: validatePolicyText, or `validate`). */
  readonly validateAsync?: (text: string) => Promise<PolicyParseResult>;
}

type CheckResult = 'reloaded' | 'failed' | 'unchanged';

/** Counts (and logs at debug) policy evaluations that throw; the policy is skipped for that trace. */
export function evaluationErrorObserver(metrics: Metrics, logger: Logger): PolicyObserver {
  const errors = metrics.counter(
    'sampling_policy_evaluation_errors_total',
    'Policy evaluations that threw; the policy is skipped for that trace.',
    ['policy'],
  );
  return {
    onEvaluationError(policy, err) {
      errors.inc({ policy });
      logger.debug({ err, policy }, 'sampling policy evaluation failed; skipped for this trace');
    },
  };
}

/** Loads a policy file once, throwing SENTINEL_ERR_POLICY_READ / SENTINEL_ERR_POLICY_INVALID. */
export function loadPolicyFile(
  file: string,
  observer: PolicyObserver = {},
  validate: (text: string) => PolicyParseResult = validatePolicyTextSync,
): { text: string; policy: SamplingPolicy; warnings: PolicyProblem[] } {
  const text = readPolicyText(file);
  const parsed = validate(text);
  if (!parsed.ok) {
    throw new SentinelError(
      'SENTINEL_ERR_POLICY_INVALID',
      `invalid sampling policy file:\n${formatPolicyProblems(file, parsed.errors)}`,
    );
  }
  return { text, policy: compilePolicy(parsed.config, observer), warnings: [...parsed.warnings] };
}

function readPolicyText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new SentinelError(
      'SENTINEL_ERR_POLICY_READ',
      `cannot read sampling policy file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Events: `reload` (policy) after a good file replaced the policy; `reloadFailed` (problems) after a bad
 * or unreadable one was refused.
 */
export class PolicyFileSource extends EventEmitter implements PolicySource {
  private policy: SamplingPolicy;
  private lastText: string;
  private lastSignature: string;
  private readonly file: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly useWatch: boolean;
  private watcher: FSWatcher | undefined;
  private pollTimer: ClockTimer | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly reloads;
  private readonly failures;
  private readonly observer: PolicyObserver;
  private readonly validate: (text: string) => PolicyParseResult;
  private readonly validateAsync: (text: string) => Promise<PolicyParseResult>;
  private checking: Promise<CheckResult> | undefined;
  private checkAgain = false;

  /** Reads and validates the file now: a bad file at start is an error, there is no last good policy yet. */
  constructor(options: PolicyFileSourceOptions) {
    super();
    this.file = options.file;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.useWatch = options.watch ?? true;
    this.validate = options.validate ?? validatePolicyTextSync;
    const validate = options.validate;
    this.validateAsync =
      options.validateAsync ?? (validate ? async (text) => validate(text) : validatePolicyText);
    this.reloads = options.metrics.counter(
      'policy_reloads_total',
      'Sampling policy files reloaded and applied.',
    );
    this.failures = options.metrics.counter(
      'policy_reload_failures_total',
      'Sampling policy file changes refused (unreadable or invalid); the last good policy stays in force.',
    );
    this.observer = evaluationErrorObserver(options.metrics, options.logger);
    this.lastSignature = this.signature();
    const loaded = loadPolicyFile(this.file, this.observer, this.validate);
    this.policy = loaded.policy;
    this.lastText = loaded.text;
    for (const w of loaded.warnings)
      this.logger.warn({ file: this.file, line: w.line, column: w.column }, w.message);
  }

  current(): SamplingPolicy {
    return this.policy;
  }

  /** Starts watching the directory and polling. */
  start(): this {
    if (this.useWatch) this.startWatch();
    this.schedulePoll();
    return this;
  }

  private startWatch(): void {
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, () => this.soon());
      this.watcher.on('error', (err) => {
        this.logger.warn({ err, file: this.file }, 'policy directory watch failed; relying on polling');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.logger.warn({ err, file: this.file }, 'cannot watch the policy directory; relying on polling');
    }
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.pollTimer) this.clock.clearTimeout(this.pollTimer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  /**
   * Re-reads the file if it changed and applies it when valid. Returns 'reloaded', 'failed' or 'unchanged'. The
   * validation blocks this thread (about 0.1 s in a worker process); the watcher and the poll use
   * `checkInBackground`, which does not.
   */
  check(): CheckResult {
    const change = this.change();
    if (typeof change === 'string') return change;
    let parsed: PolicyParseResult;
    try {
      parsed = this.validate(change.text);
    } catch (err) {
      return this.notValidated(err);
    }
    return this.apply(change.text, parsed);
  }

  /**
   * check() without blocking: the file is read here, validated in a worker process while the agent goes on, then
   * applied. One at a time; a change noticed meanwhile is checked when it ends. Never rejects.
   */
  checkInBackground(): Promise<CheckResult> {
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    const run = async (): Promise<CheckResult> => {
      let result: CheckResult;
      do {
        this.checkAgain = false;
        result = await this.checkAsync();
      } while (this.checkAgain && !this.closed);
      return result;
    };
    this.checking = run()
      .catch((err: unknown) => {
        this.logger.error(
          { err, file: this.file },
          'policy reload failed unexpectedly; the last good policy stays',
        );
        return 'failed' as const;
      })
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkAsync(): Promise<CheckResult> {
    const change = this.change();
    if (typeof change === 'string') return change;
    let parsed: PolicyParseResult;
    try {
      parsed = await this.validateAsync(change.text);
    } catch (err) {
      return this.notValidated(err);
    }
    if (this.closed) return 'unchanged';
    return this.apply(change.text, parsed);
  }

  /** The file's new text, or why there is none to validate (counted and told when it cannot be read). */
  private change(): { text: string } | 'failed' | 'unchanged' {
    const signature = this.signature();
    if (signature === this.lastSignature) return 'unchanged';
    this.lastSignature = signature;
    let text: string;
    try {
      text = readPolicyText(this.file);
    } catch (err) {
      this.failures.inc();
      const problem: PolicyProblem = { message: (err as Error).message };
      this.logger.error(
        { file: this.file },
        `policy reload failed, keeping the last good policy: ${problem.message}`,
      );
      this.emit('reloadFailed', [problem]);
      return 'failed';
    }
    if (text === this.lastText) return 'unchanged';
    return { text };
  }

  /** The validating process could not run: nothing was judged, so the next check reads the file again. */
  private notValidated(err: unknown): 'failed' {
    this.lastSignature = '';
    this.failures.inc();
    this.logger.error(
      { file: this.file, err: (err as Error).message },
      'the policy file could not be validated, keeping the last good policy; retried at the next check',
    );
    return 'failed';
  }

  /** A validated text: applied when good, counted, logged and told when not. */
  private apply(text: string, parsed: PolicyParseResult): 'reloaded' | 'failed' {
    this.lastText = text;
    if (!parsed.ok) {
      this.failures.inc();
      for (const p of parsed.errors) {
        this.logger.error(
          { file: this.file, line: p.line, column: p.column, policy: p.policy, key: p.key },
          `policy reload failed, keeping the last good policy: ${p.message}`,
        );
      }
      this.emit('reloadFailed', parsed.errors);
      return 'failed';
    }
    this.policy = compilePolicy(parsed.config, this.observer);
    this.reloads.inc();
    for (const w of parsed.warnings)
      this.logger.warn({ file: this.file, line: w.line, column: w.column }, w.message);
    this.logger.info({ file: this.file, policies: this.policy.names }, 'sampling policy reloaded');
    this.emit('reload', this.policy);
    return 'reloaded';
  }

  private signature(): string {
    try {
      const s = statSync(this.file);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  /** Coalesces the burst of events a symlink swap produces into one check. */
  private soon(): void {
    if (this.closed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (!this.closed) void this.checkInBackground();
    }, 50);
    this.debounce.unref();
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = this.clock.setTimeout(() => {
      void this.checkInBackground();
      this.schedulePoll();
    }, this.pollIntervalMs);
  }
}
