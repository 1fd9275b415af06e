/** `and`: kept when every sub-policy keeps it (the block, recursive, is in ../policy-config.ts). */
import type { BufferedTrace } from '../buffered-trace.js';
import { NOT_SAMPLED, SAMPLED, isNotSampledLike, type PolicyEvaluator, type Verdict } from './verdict.js';

export class And implements PolicyEvaluator {
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
