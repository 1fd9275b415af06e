/**
 * The evaluator compiler, and the evaluators of the types that combine other policies (and, drop, not,
 * composite), with the Collector's semantics (processor/tailsamplingprocessor internal/sampling/*.go as
 * its README documents them). The leaf types each have a file in ./policies/ (schema and evaluator).
 */
import type { BufferedTrace } from './buffered-trace.js';
import { LEAF_POLICY_TYPES, type PolicyTypeModule } from './policies/index.js';
import {
  DROPPED,
  NOT_SAMPLED,
  SAMPLED,
  isNotSampledLike,
  isSampledLike,
  type PolicyEvaluator,
  type Verdict,
} from './policies/verdict.js';
import type { LeafPolicyBlocks, PolicyConfig } from './policy-config.js';

export type { PolicyDecision, PolicyEvaluator, Verdict } from './policies/verdict.js';

/** The leaf types by name (./policies/index.ts). */
const LEAF_BY_TYPE: ReadonlyMap<string, PolicyTypeModule> = new Map(
  LEAF_POLICY_TYPES.map((m) => [m.type, m as PolicyTypeModule]),
);

class And implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly subs: readonly PolicyEvaluator[],
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    // Sampled when every sub-policy samples. With the shared default salt, probabilistic sub-policies keep
    // nested sets of ids, so the smallest p is the probability of the conjunction.
    let best: Verdict = SAMPLED;
    for (const sub of this.subs) {
      const v = sub.evaluate(trace, nowMs);
      if (isNotSampledLike(v.decision) || v.decision === 'dropped') return NOT_SAMPLED;
      if (v.p < best.p) best = v;
    }
    return best.p >= 1 ? SAMPLED : { ...best, decision: 'sampled' };
  }
}

class Drop implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly subs: readonly PolicyEvaluator[],
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    for (const sub of this.subs) {
      if (isNotSampledLike(sub.evaluate(trace, nowMs).decision)) return NOT_SAMPLED;
    }
    return DROPPED;
  }
}

class Not implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly sub: PolicyEvaluator,
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    const v = this.sub.evaluate(trace, nowMs);
    // The complement of an R >= T set is not one, so no threshold is passed on.
    if (v.decision === 'sampled') return 1 - v.p <= 0 ? NOT_SAMPLED : { decision: 'not_sampled', p: 1 - v.p };
    if (v.decision === 'not_sampled') return 1 - v.p >= 1 ? SAMPLED : { decision: 'sampled', p: 1 - v.p };
    return v;
  }
}

interface CompositeSub {
  readonly evaluator: PolicyEvaluator;
  /** Spans per second allotted, or undefined: whatever the total leaves (the README's always_sample filler). */
  readonly allocated: number | undefined;
  sampledThisSecond: number;
}

class Composite implements PolicyEvaluator {
  private currentSecond = Number.NaN;
  private totalThisSecond = 0;
  constructor(
    readonly name: string,
    private readonly maxTotal: number,
    private readonly subs: CompositeSub[],
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.currentSecond) {
      this.currentSecond = second;
      this.totalThisSecond = 0;
      for (const s of this.subs) s.sampledThisSecond = 0;
    }
    const n = trace.spans.length;
    for (const sub of this.subs) {
      const v = sub.evaluator.evaluate(trace, nowMs);
      if (!isSampledLike(v.decision)) continue;
      // The first sub-policy that samples decides: within its allocation (and the total) the trace is kept,
      // otherwise it is not, and nothing is counted so that a smaller trace may still fit this second.
      const withinSub = sub.allocated === undefined || sub.sampledThisSecond + n <= sub.allocated;
      if (withinSub && this.totalThisSecond + n <= this.maxTotal) {
        sub.sampledThisSecond += n;
        this.totalThisSecond += n;
        return v.decision === 'sampled' ? v : SAMPLED;
      }
      return NOT_SAMPLED;
    }
    return NOT_SAMPLED;
  }
}

/** Builds the evaluator for one policy (recursively for and, drop, not, composite). */
export function compileEvaluator(cfg: PolicyConfig): PolicyEvaluator {
  const name = cfg.name;
  switch (cfg.type) {
    case 'and':
      return new And(name, req(cfg.and).and_sub_policy.map(compileEvaluator));
    case 'drop':
      return new Drop(name, req(cfg.drop).drop_sub_policy.map(compileEvaluator));
    case 'not':
      return new Not(name, compileEvaluator(req(cfg.not).not_sub_policy));
    case 'composite':
      return compileComposite(name, req(cfg.composite));
    default: {
      const leaf = LEAF_BY_TYPE.get(cfg.type);
      if (leaf === undefined) throw new TypeError(`unknown policy type ${JSON.stringify(cfg.type)}`);
      const block = leaf.schema === undefined ? undefined : req(cfg[cfg.type as keyof LeafPolicyBlocks]);
      return leaf.compile(name, block);
    }
  }
}

function compileComposite(name: string, c: NonNullable<PolicyConfig['composite']>): PolicyEvaluator {
  const byName = new Map(c.composite_sub_policy.map((p) => [p.name, p]));
  // policy_order first, then any sub-policy it leaves out, in file order.
  const ordered = [...new Set([...c.policy_order, ...c.composite_sub_policy.map((p) => p.name)])];
  const defaultShare = c.max_total_spans_per_second / c.composite_sub_policy.length;
  const allocation = new Map<string, number>();
  for (const a of c.rate_allocation) {
    allocation.set(a.policy, a.percent > 0 ? (a.percent / 100) * c.max_total_spans_per_second : defaultShare);
  }
  const subs: CompositeSub[] = ordered.map((n) => ({
    evaluator: compileEvaluator(byName.get(n) as PolicyConfig),
    allocated: allocation.get(n),
    sampledThisSecond: 0,
  }));
  return new Composite(name, c.max_total_spans_per_second, subs);
}

function req<T>(block: T | undefined): T {
  // Validation guarantees the block named by `type`; this guards hand-built configs.
  if (block === undefined) throw new TypeError('policy block missing for its type');
  return block;
}
