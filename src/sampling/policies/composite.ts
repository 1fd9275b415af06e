/**
 * `composite`: the first sub-policy (in `policy_order`) that keeps a trace decides, within its share of
 * `max_total_spans_per_second`. Its block holds whole policies: ../policy-config.ts passes the policy schema in.
 */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import type { PolicyConfig } from '../policy-config.js';
import { nonEmptyString, type Zod } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, isSampledLike, type PolicyEvaluator, type Verdict } from './verdict.js';

/** The parsed `composite:` block, over the policy type `P` of its sub-policies. */
export interface CompositeBlock<P> {
  max_total_spans_per_second: number;
  policy_order: string[];
  composite_sub_policy: P[];
  rate_allocation: Array<{ policy: string; percent: number }>;
}

/** The `composite:` block; its sub-policies are validated by `subPolicies` (the whole policy schema). */
export function compositeSchema<P extends { readonly name: string }>(
  z: Zod,
  subPolicies: z.ZodType<P[], unknown>,
): z.ZodType<CompositeBlock<P>, unknown> {
  return z
    .strictObject({
      max_total_spans_per_second: z.number().positive(),
      policy_order: z.array(z.string()).default([]),
      composite_sub_policy: subPolicies,
      rate_allocation: z
        .array(
          z.strictObject({ policy: nonEmptyString(z, 'policy name'), percent: z.number().min(0).max(100) }),
        )
        .default([]),
    })
    .superRefine((v, ctx) => {
      const names = new Set(v.composite_sub_policy.map((p) => p.name));
      v.policy_order.forEach((name, i) => {
        if (!names.has(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['policy_order', i],
            message: `expected the name of a composite_sub_policy, got ${JSON.stringify(name)}`,
          });
        }
      });
      let total = 0;
      v.rate_allocation.forEach((a, i) => {
        total += a.percent;
        if (!names.has(a.policy)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rate_allocation', i, 'policy'],
            message: `expected the name of a composite_sub_policy, got ${JSON.stringify(a.policy)}`,
          });
        }
      });
      if (total > 100) {
        ctx.addIssue({
          code: 'custom',
          path: ['rate_allocation'],
          message: `expected percents adding up to at most 100, got ${total}`,
        });
      }
    });
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

export function compileComposite(
  name: string,
  c: CompositeBlock<PolicyConfig>,
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
