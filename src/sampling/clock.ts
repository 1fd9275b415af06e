/**
 * Time as the sampler sees it. Injected so that tests drive decision_wait, rate limits and reload polling
 * without sleeping (STYLE.md "Timing logic uses injected clocks").
 */
export interface Clock {
  /** Milliseconds since the epoch (or any monotonic origin; only differences matter). */
  now(): number;
  /** Runs `fn` after `ms`; the returned handle must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

/** An opaque timer handle. */
export interface ClockTimer {
  readonly id: unknown;
}

/**
 * The real clock: unref()ed Node timers, and a monotonic now (performance.now from the process's start, in
 * epoch milliseconds) so that a wall-clock step cannot reorder deadlines or rate-limit seconds.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { id: t };
  },
  clearTimeout(timer) {
    clearTimeout(timer.id as NodeJS.Timeout);
  },
};

interface PendingTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** A clock that only moves when told to: `advance(ms)` fires every timer that falls due, in order. */
export class ManualClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, PendingTimer>();

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.nowMs + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(timer: ClockTimer): void {
    this.timers.delete(timer.id as number);
  }

  /** Number of timers not yet fired. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers (including ones they schedule) in time order. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: PendingTimer | undefined;
      for (const t of this.timers.values()) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))
        ) {
          next = t;
        }
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.nowMs = Math.max(this.nowMs, next.at);
      next.fn();
    }
    this.nowMs = target;
  }
}
