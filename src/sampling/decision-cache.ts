import { LRUCache } from 'lru-cache';
import type { TraceDecision } from './sampling-policy.js';

/**
 * Recent decisions by trace id (the Collector's `decision_cache`), so that spans arriving after their
 * trace was decided follow that decision instead of starting a new trace. Kept and dropped ids have
 * separate sizes because most traces are usually dropped. A size of 0 turns that half off.
 */
export class DecisionCache {
  private readonly kept: LRUCache<string, TraceDecision> | undefined;
  /** 'hold': no policy kept it, so the decision feed may still complete it (issue 9); 'drop': a policy dropped it. */
  private readonly dropped: LRUCache<string, 'hold' | 'drop'> | undefined;

  constructor(sampledSize: number, nonSampledSize: number) {
    this.kept = sampledSize > 0 ? new LRUCache({ max: sampledSize }) : undefined;
    this.dropped = nonSampledSize > 0 ? new LRUCache({ max: nonSampledSize }) : undefined;
  }

  record(traceId: string, decision: TraceDecision): void {
    if (decision.keep) {
      this.kept?.set(traceId, decision);
      this.dropped?.delete(traceId);
    } else {
      this.dropped?.set(traceId, completable(decision) ? 'hold' : 'drop');
      this.kept?.delete(traceId);
    }
  }

  /**
   * The kept decision; 'held' for a trace no policy kept (another agent's keep may still complete it);
   * 'dropped' for one a policy dropped; undefined when this id was not decided recently.
   */
  lookup(traceId: string): TraceDecision | 'held' | 'dropped' | undefined {
    const k = this.kept?.get(traceId);
    if (k !== undefined) return k;
    const d = this.dropped?.get(traceId);
    return d === undefined ? undefined : d === 'hold' ? 'held' : 'dropped';
  }

  get size(): { kept: number; dropped: number } {
    return { kept: this.kept?.size ?? 0, dropped: this.dropped?.size ?? 0 };
  }
}

/**
 * Whether a not-kept trace may be completed by the decision feed (issue 9): only when no policy took a stand
 * on it. A `drop` policy or an inverted match that excluded it is the user's explicit wish and wins.
 */
export function completable(decision: TraceDecision): boolean {
  return !decision.keep && decision.reason === 'not_sampled' && decision.policy === '';
}
