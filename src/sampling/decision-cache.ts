import { IdLru } from './id-lru.js';
import { grow, grownRows, NONE } from './rows.js';
import type { TraceDecision } from './sampling-policy.js';

const HOLD = 1;
const DROP = 2;

/**
 * Recent decisions by trace id (the Collector's `decision_cache`), so that spans arriving after their
 * trace was decided follow that decision instead of starting a new trace. Kept and dropped ids have
 * separate sizes because most traces are usually dropped. A size of 0 turns that half off. Each half is least
 * recently used first out (a lookup that finds an id makes it the most recent, as lru-cache and the
 * Collector's LRU do), kept in typed-array rows (id-lru.ts) rather than a string and an entry per id
 * (issue 13: 60,000 remembered ids by default).
 */
export class DecisionCache {
  private readonly kept: IdLru | undefined;
  /** The kept decisions, by row of `kept` (policies share their decision objects). */
  private readonly keptDecisions: Array<TraceDecision | undefined> = [];
  /** HOLD: no policy kept it, so the decision feed may still complete it (issue 9); DROP: a policy dropped it. */
  private readonly dropped: IdLru | undefined;
  private droppedKinds = new Uint8Array(64);

  constructor(sampledSize: number, nonSampledSize: number) {
    this.kept = sampledSize > 0 ? new IdLru(sampledSize) : undefined;
    this.dropped = nonSampledSize > 0 ? new IdLru(nonSampledSize) : undefined;
  }

  record(traceId: string, decision: TraceDecision): void {
    if (decision.keep) {
      if (this.kept) this.keptDecisions[this.kept.set(traceId)] = decision;
      this.forgetDropped(traceId);
    } else {
      if (this.dropped) {
        const row = this.dropped.set(traceId);
        if (row >= this.droppedKinds.length)
          this.droppedKinds = grow(this.droppedKinds, Math.max(row + 1, grownRows(this.droppedKinds.length)));
        this.droppedKinds[row] = completable(decision) ? HOLD : DROP;
      }
      this.forgetKept(traceId);
    }
  }

  /**
   * The kept decision; 'held' for a trace no policy kept (another agent's keep may still complete it);
   * 'dropped' for one a policy dropped; undefined when this id was not decided recently.
   */
  lookup(traceId: string): TraceDecision | 'held' | 'dropped' | undefined {
    const k = this.kept?.get(traceId) ?? NONE;
    if (k !== NONE) return this.keptDecisions[k];
    const d = this.dropped?.get(traceId) ?? NONE;
    return d === NONE ? undefined : this.droppedKinds[d] === HOLD ? 'held' : 'dropped';
  }

  get size(): { kept: number; dropped: number } {
    return { kept: this.kept?.size ?? 0, dropped: this.dropped?.size ?? 0 };
  }

  private forgetKept(traceId: string): void {
    const row = this.kept?.delete(traceId) ?? NONE;
    if (row !== NONE) this.keptDecisions[row] = undefined;
  }

  private forgetDropped(traceId: string): void {
    this.dropped?.delete(traceId);
  }
}

/**
 * Whether a not-kept trace may be completed by the decision feed (issue 9): only when no policy took a stand
 * on it. A `drop` policy or an inverted match that excluded it is the user's explicit wish and wins.
 */
export function completable(decision: TraceDecision): boolean {
  return !decision.keep && decision.reason === 'not_sampled' && decision.policy === '';
}
