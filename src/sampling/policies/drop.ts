/** `drop`: dropped when every sub-policy matches (the block, recursive, is in ../policy-config.ts). */
import type { BufferedTrace } from '../buffered-trace.js';
import { DROPPED, NOT_SAMPLED, isNotSampledLike, type PolicyEvaluator, type Verdict } from './verdict.js';

export class Drop implements PolicyEvaluator {
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
