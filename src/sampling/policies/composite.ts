/**
 * `composite`: the first sub-policy (in `policy_order`) that keeps a trace decides, within its share of
 * `max_total_spans_per_second` (the block, recursive, is in ../policy-config.ts).
 */
import type { BufferedTrace } from '../buffered-trace.js';
import type { CompositeConfig, PolicyConfig } from '../policy-config.js';
import { NOT_SAMPLED, SAMPLED, isSampledLike, type PolicyEvaluator, type Verdict } from './verdict.js';

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

export function compileComposite(
  name: string,
  c: CompositeConfig,
  compile: (policy: PolicyConfig) => PolicyEvaluator,
): PolicyEvaluator {
  const byName = new Map(c.composite_sub_policy.map((p) => [p.name, p]));
  // policy_order first, then any sub-policy it leaves out, in file order.
  const ordered = [...new Set([...c.policy_order, ...c.composite_sub_policy.map((p) => p.name)])];
  const defaultShare = c.max_total_spans_per_second / c.composite_sub_policy.length;
  const allocation = new Map<string, number>();
  for (const a of c.rate_allocation) {
    allocation.set(a.policy, a.percent > 0 ? (a.percent / 100) * c.max_total_spans_per_second : defaultShare);
  }
  const subs: CompositeSub[] = ordered.map((n) => ({
    evaluator: compile(byName.get(n) as PolicyConfig),
    allocated: allocation.get(n),
    sampledThisSecond: 0,
  }));
  return new Composite(name, c.max_total_spans_per_second, subs);
}
