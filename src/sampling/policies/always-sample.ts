/** `always_sample`: every trace. */
import { blocklessPolicyType } from './policy-type.js';
import { SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

class AlwaysSample implements PolicyEvaluator {
  constructor(readonly name: string) {}
  evaluate(): Verdict {
    return SAMPLED;
  }
}

export const alwaysSample = blocklessPolicyType('always_sample', (name) => new AlwaysSample(name));
