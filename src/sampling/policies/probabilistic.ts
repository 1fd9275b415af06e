/** `probabilistic`: a share of trace ids, by consistent probability sampling (threshold and randomness). */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import {
  DEFAULT_HASH_SALT,
  keeps,
  rvOf,
  saltState,
  thresholdFor,
  traceRandomnessInto,
  type U64,
} from '../probabilistic.js';
import { policyType, type Zod } from './policy-type.js';
import type { PolicyEvaluator, Verdict } from './verdict.js';

export const probabilisticSchema = (z: Zod) =>
  z.strictObject({
    sampling_percentage: z.number().min(0).max(100),
    hash_salt: z.string().default(''),
  });
export type ProbabilisticConfig = z.output<ReturnType<typeof probabilisticSchema>>;

class Probabilistic implements PolicyEvaluator {
  private readonly salt;
  private readonly threshold;
  /** The randomness of the trace being judged (written per trace, read at once). */
  private readonly r: U64 = { hi: 0, lo: 0 };
  /** Verdicts are read, never changed: one `not_sampled` serves every trace. */
  private readonly notSampled: Verdict;
  constructor(
    readonly name: string,
    percentage: number,
    hashSalt: string,
  ) {
    this.salt = saltState(hashSalt === '' ? DEFAULT_HASH_SALT : hashSalt);
    this.threshold = thresholdFor(percentage / 100);
    this.notSampled = Object.freeze({ decision: 'not_sampled', p: this.threshold.probability });
  }
  evaluate(trace: BufferedTrace): Verdict {
    const r = traceRandomnessInto(this.salt, trace.traceId, this.r);
    const p = this.threshold.probability;
    if (!keeps(r, this.threshold)) return this.notSampled;
    return { decision: 'sampled', p, th: this.threshold.th, rv: rvOf(r) };
  }
}

export const probabilistic = policyType(
  'probabilistic',
  probabilisticSchema,
  (name, c) => new Probabilistic(name, c.sampling_percentage, c.hash_salt),
);
