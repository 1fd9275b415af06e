/**
 * What an evaluator answers: a verdict and `p`, the probability that this evaluator samples a trace with
 * this content over the space of trace ids (1 or 0 for rules, the percentage for `probabilistic`). The
 * weights of kept spans are derived from it.
 */
import type { BufferedTrace } from '../buffered-trace.js';

/** The Collector's decisions; the inverted ones come from `invert_match` and are deprecated there. */
export type PolicyDecision =
  'sampled' | 'not_sampled' | 'inverted_sampled' | 'inverted_not_sampled' | 'dropped';

export interface Verdict {
  readonly decision: PolicyDecision;
  /** P(this evaluator samples a trace with this content), over trace ids. */
  readonly p: number;
  /** For a plain R >= T keep: the `ot` threshold and randomness to write into tracestate. */
  readonly th?: string;
  readonly rv?: string;
}

export interface PolicyEvaluator {
  readonly name: string;
  evaluate(trace: BufferedTrace, nowMs: number): Verdict;
}

export const SAMPLED: Verdict = Object.freeze({ decision: 'sampled', p: 1 });
export const NOT_SAMPLED: Verdict = Object.freeze({ decision: 'not_sampled', p: 0 });
export const INVERTED_SAMPLED: Verdict = Object.freeze({ decision: 'inverted_sampled', p: 1 });
export const INVERTED_NOT_SAMPLED: Verdict = Object.freeze({ decision: 'inverted_not_sampled', p: 0 });
export const DROPPED: Verdict = Object.freeze({ decision: 'dropped', p: 0 });

export const isSampledLike = (d: PolicyDecision) => d === 'sampled' || d === 'inverted_sampled';
export const isNotSampledLike = (d: PolicyDecision) => d === 'not_sampled' || d === 'inverted_not_sampled';
