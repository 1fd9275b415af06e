/**
 * A compiled policy file: evaluates every top-level policy on a trace and combines their verdicts as the
 * Collector's tail_sampling README documents it:
 *   a "drop" decision wins (the trace is not sampled); then an inverted not-sampled decision (not sampled);
 *   then any "sample" decision (sampled); then an inverted sampled decision when no policy said
 *   not-sampled (sampled); otherwise not sampled.
 * It also says which policy kept the trace and with what probability, for `sampling.weight`.
 */
import type { BufferedTrace } from './buffered-trace.js';
import { compileLogsPolicy, type LogsPolicy } from './logs-policy.js';
import type { PolicyConfig, PolicyFileConfig } from './policy-config.js';
import { compileEvaluator } from './policy-evaluators.js';
import type { PolicyEvaluator, Verdict } from './policy-evaluators.js';

/**
 * Why a trace was kept or not:
 * - `rule`: kept by a policy that keeps every trace like it (errors, latency, attributes, rate limits):
 *   weight 1;
 * - `probabilistic`: kept only by the trace-id hash (possibly inside an `and`): weight 1/p;
 * - `keep_all`: no policy file, every trace is kept: weight 1;
 * - `dropped`: a `drop` policy matched; `not_sampled`: no policy kept it;
 * - `completed`: no policy here kept it, but the decision feed said another agent kept it by a rule (issue 9):
 *   weight 1 and `sampling.completed: true`, outside the probabilistic sample (estimators skip it).
 */
export type DecisionReason = 'rule' | 'probabilistic' | 'keep_all' | 'dropped' | 'not_sampled' | 'completed';

/** The decision on one trace. Issue 9 publishes ids whose reason is `rule`. */
export interface TraceDecision {
  readonly keep: boolean;
  readonly reason: DecisionReason;
  /** The top-level policy that kept (or dropped) the trace; '' when none did. */
  readonly policy: string;
  /** Inverse keep probability: `sampling.weight` of every kept span. 0 when not kept. */
  readonly weight: number;
  /** For probabilistic keeps: the OpenTelemetry `ot` threshold and randomness written into tracestate. */
  readonly th?: string;
  readonly rv?: string;
}

/** The decision on a trace this agent dropped and another agent kept by a rule (issue 9). */
export const COMPLETED_DECISION: TraceDecision = Object.freeze({
  keep: true,
  reason: 'completed',
  policy: '_completion',
  weight: 1,
});

/** What decides traces: the current policy of a PolicySource. */
export interface SamplingPolicy {
  /** Top-level policy names, for metrics. */
  readonly names: readonly string[];
  /** True when no policy file is configured: the sampler passes everything through at once. */
  readonly keepsAll: boolean;
  /**
   * The attribute keys the policies read (resource or span): on the byte path only these are read from a
   * span's bytes. Undefined: every attribute.
   */
  readonly attributeKeys?: ReadonlySet<string>;
  /** The `logs:` section (issue 16): logs without a trace id, and orphans. Undefined: kept as they came. */
  readonly logs?: LogsPolicy | undefined;
  decide(trace: BufferedTrace, nowMs: number): TraceDecision;
}

/** Something that hands out the policy in force now (a file watcher, or a fixed policy). */
export interface PolicySource {
  current(): SamplingPolicy;
}

const KEEP_ALL_DECISION: TraceDecision = Object.freeze({
  keep: true,
  reason: 'keep_all',
  policy: '',
  weight: 1,
});

/** The policy of an empty `sampling.policy_file`: every trace kept, weight 1. */
export const keepAllPolicy: SamplingPolicy = Object.freeze({
  names: [],
  keepsAll: true,
  decide: () => KEEP_ALL_DECISION,
});

/** A source that always returns the same policy. */
export function staticPolicySource(policy: SamplingPolicy): PolicySource {
  return { current: () => policy };
}

/** Observes each top-level policy's verdict (for metrics), and evaluation errors. */
export interface PolicyObserver {
  onEvaluationError?(policy: string, err: unknown): void;
}

class CompiledPolicy implements SamplingPolicy {
  readonly keepsAll = false;
  readonly names: readonly string[];
  /** Per evaluator, the decisions that name it and nothing else: made once, not per trace (they are frozen). */
  private readonly ruleKeeps: readonly TraceDecision[];
  private readonly drops: readonly TraceDecision[];
  private readonly invertedNots: readonly TraceDecision[];
  constructor(
    private readonly evaluators: readonly PolicyEvaluator[],
    private readonly observer: PolicyObserver,
    readonly attributeKeys: ReadonlySet<string>,
    readonly logs: LogsPolicy | undefined,
  ) {
    this.names = evaluators.map((e) => e.name);
    const each = (reason: DecisionReason, keep: boolean) =>
      this.names.map((policy) => Object.freeze({ keep, reason, policy, weight: keep ? 1 : 0 }));
    this.ruleKeeps = each('rule', true);
    this.drops = each('dropped', false);
    this.invertedNots = each('not_sampled', false);
  }

  decide(trace: BufferedTrace, nowMs: number): TraceDecision {
    // The first policy of each verdict that names one, and which verdicts were seen (no Map per trace: this
    // runs once per trace on the agent's hot path).
    let dropped = -1;
    let invertedNot = -1;
    let sampled = false;
    let invertedSampled = false;
    let notSampled = false;
    // Among the policies that sample, the one with the largest p defines the keep probability: with a shared
    // salt the probabilistic keep sets are nested, so the trace is kept whenever that one keeps it.
    let bestAt = -1;
    let best: Verdict | undefined;
    const evaluators = this.evaluators;
    for (let i = 0; i < evaluators.length; i++) {
      const e = evaluators[i] as PolicyEvaluator;
      let v: Verdict;
      try {
        v = e.evaluate(trace, nowMs);
      } catch (err) {
        // Like the Collector, a failing policy is skipped (and counted), not fatal.
        this.observer.onEvaluationError?.(e.name, err);
        continue;
      }
      const d = v.decision;
      if (d === 'sampled' || d === 'inverted_sampled') {
        if (d === 'sampled') sampled = true;
        else invertedSampled = true;
        if (!best || v.p > best.p) {
          best = v;
          bestAt = i;
        }
      } else if (d === 'not_sampled') notSampled = true;
      else if (d === 'inverted_not_sampled') {
        if (invertedNot < 0) invertedNot = i;
      } else if (d === 'dropped') {
        dropped = i;
        break;
      }
    }
    if (dropped >= 0) return this.drops[dropped] as TraceDecision;
    if (invertedNot >= 0) return this.invertedNots[invertedNot] as TraceDecision;
    const keep = sampled || (invertedSampled && !notSampled);
    if (!keep || !best) return NOT_SAMPLED;
    if (best.p >= 1) return this.ruleKeeps[bestAt] as TraceDecision;
    return {
      keep: true,
      reason: 'probabilistic',
      policy: this.names[bestAt] as string,
      weight: 1 / best.p,
      ...(best.th !== undefined ? { th: best.th } : {}),
      ...(best.rv !== undefined ? { rv: best.rv } : {}),
    };
  }
}

const NOT_SAMPLED: TraceDecision = Object.freeze({
  keep: false,
  reason: 'not_sampled',
  policy: '',
  weight: 0,
});

/** Compiles a validated policy file. */
export function compilePolicy(config: PolicyFileConfig, observer: PolicyObserver = {}): SamplingPolicy {
  const keys = new Set<string>();
  for (const p of config.policies) collectAttributeKeys(p, keys);
  return new CompiledPolicy(
    config.policies.map((p: PolicyConfig) => compileEvaluator(p)),
    observer,
    keys,
    config.logs ? compileLogsPolicy(config.logs) : undefined,
  );
}

/** The attribute keys a policy (and its sub-policies) reads. */
function collectAttributeKeys(p: PolicyConfig, keys: Set<string>): void {
  for (const block of [p.string_attribute, p.numeric_attribute, p.boolean_attribute])
    if (block) keys.add(block.key);
  const subs = [
    ...(p.and?.and_sub_policy ?? []),
    ...(p.drop?.drop_sub_policy ?? []),
    ...(p.not ? [p.not.not_sub_policy] : []),
    ...(p.composite?.composite_sub_policy ?? []),
  ] as PolicyConfig[];
  for (const sub of subs) collectAttributeKeys(sub, keys);
}
