/**
 * The decision cache as it was before issue 13 laid it out in typed-array rows (commit e980ddc): two lru-cache
 * LRUs keyed by the trace id strings. The model of test/sampling-decision-cache.test.ts and the baseline of
 * bench/trace-buffer.ts.
 */
import { LRUCache } from 'lru-cache';
import { completable } from '../../src/sampling/decision-cache.js';
import type { TraceDecision } from '../../src/sampling/sampling-policy.js';

export class LruDecisionCache {
  private readonly kept: LRUCache<string, TraceDecision> | undefined;
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
