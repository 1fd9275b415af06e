/** `not`: the complement of its sub-policy (the block, recursive, is in ../policy-config.ts). */
import type { BufferedTrace } from '../buffered-trace.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export class Not implements PolicyEvaluator {
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
