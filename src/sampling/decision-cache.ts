import { LRUCache } from 'lru-cache';
import type { TraceDecision } from './sampling-policy.js';

/**
 * Recent decisions by trace id (the Collector's `decision_cache`), so that spans arriving after their
 * trace was decided follow that decision instead of starting a new trace. Kept and dropped ids have
 * separate sizes because most traces are usually dropped. A size of 0 turns that half off.
 */
export class DecisionCache {
  private readonly kept: LRUCache<string, TraceDecision> | undefined;
  private readonly dropped: LRUCache<string, true> | undefined;

  constructor(sampledSize: number, nonSampledSize: number) {
    this.kept = sampledSize > 0 ? new LRUCache({ max: sampledSize }) : undefined;
    this.dropped = nonSampledSize > 0 ? new LRUCache({ max: nonSampledSize }) : undefined;
  }

  record(traceId: string, decision: TraceDecision): void {
    if (decision.keep) {
      this.kept?.set(traceId, decision);
      this.dropped?.delete(traceId);
    } else {
      this.dropped?.set(traceId, true);
      this.kept?.delete(traceId);
    }
  }

  /** The kept decision, 'dropped', or undefined when this id was not decided recently. */
  lookup(traceId: string): TraceDecision | 'dropped' | undefined {
    const k = this.kept?.get(traceId);
    if (k !== undefined) return k;
    return this.dropped?.get(traceId) ? 'dropped' : undefined;
  }

  get size(): { kept: number; dropped: number } {
    return { kept: this.kept?.size ?? 0, dropped: this.dropped?.size ?? 0 };
  }
}
