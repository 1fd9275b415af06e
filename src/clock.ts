/**
 * Time, as every room sees it (issue 17: one clock, injected the same way everywhere). Rooms take an optional
 * `clock` in their options and default to `systemClock`; tests pass a `ManualClock` and drive decision waits,
 * batch timeouts, retry backoff and polling without sleeping (STYLE.md "Timing logic uses injected clocks"), or a
 * `ScaledClock` to play a 60 s outage in about a second of real time.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale in epoch milliseconds; only differences matter. */
  now(): number;
  /** Runs `fn` after `ms`; the handle never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. Never keeps the process alive. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** An opaque timer handle. */
export interface ClockTimer {
  readonly id: unknown;
}

/** A sleep on any clock's timers: resolved when due, or at once when `signal` aborts. */
function sleepOn(
  timers: Pick<Clock, 'setTimeout' | 'clearTimeout'>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      timers.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = timers.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
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
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
};

/**
 * The calendar's epoch milliseconds on `clock`, for times compared with span timestamps or written into objects
 * (block ids and metas, retention cut-offs, a token's `exp`): `Date.now()` on the system clock, whose `now()` is
 * monotonic and may drift from the calendar over a long run; any other clock's `now()`, so that a test's
 * ManualClock sets both. Deadlines and intervals read `clock.now()`.
 */
export function wallClockNow(clock: Clock): number {
  return clock === systemClock ? Date.now() : clock.now();
}

/** A repeating timer on a clock, from `every`. */
export interface ClockInterval {
  stop(): void;
}

/**
 * Runs `fn` every `ms` on `clock` until `stop()`: a clock timer renewed at each run, so that a ManualClock's
 * `advance` runs it once for each `ms` that passes. Like the clock's timers, it never keeps the process alive.
 */
export function every(clock: Clock, ms: number, fn: () => void): ClockInterval {
  let timer: ClockTimer | undefined;
  let stopped = false;
  const arm = (): void => {
    timer = clock.setTimeout(() => {
      if (stopped) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
    },
  };
}

interface PendingTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
  readonly sleep: boolean;
}

/** A clock that only moves when told to: `advance(ms)` fires every timer and sleep that falls due, in order. */
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
    return this.schedule(fn, ms, false);
  }

  clearTimeout(timer: ClockTimer): void {
    this.timers.delete(timer.id as number);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const timers = {
      setTimeout: (fn: () => void, after: number) => this.schedule(fn, after, true),
      clearTimeout: (timer: ClockTimer) => this.clearTimeout(timer),
    };
    return sleepOn(timers, ms, signal);
  }

  /** Number of timers (sleeps included) not yet fired. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Sleeps not yet resolved. */
  get pendingSleeps(): number {
    let n = 0;
    for (const t of this.timers.values()) if (t.sleep) n++;
    return n;
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

  private schedule(fn: () => void, ms: number, sleep: boolean): ClockTimer {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.nowMs + Math.max(0, ms), fn, sleep });
    return { id };
  }
}

/**
 * Real timers running `factor` times faster than the wall clock: a 60 s outage with the default 1 s-30 s
 * backoff, played in a little over a second of wall time (e2e tests, the demo).
 */
export class ScaledClock implements Clock {
  private readonly origin = performance.now();
  constructor(private readonly factor: number) {}

  now(): number {
    return performance.timeOrigin + this.origin + (performance.now() - this.origin) * this.factor;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return systemClock.setTimeout(fn, ms / this.factor);
  }

  clearTimeout(timer: ClockTimer): void {
    systemClock.clearTimeout(timer);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms / this.factor, signal);
  }
}
