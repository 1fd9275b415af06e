/**
 * Time as the export stage sees it: backoff sleeps, batch timeouts and max_elapsed_time. Injected so tests
 * drive a 60 s outage or a `Retry-After: 2` without waiting for it (STYLE.md "injected clocks").
 */
export interface ExportClock {
  /** Milliseconds on a monotonic scale; only differences matter. */
  now(): number;
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. Never keeps the process alive. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: monotonic `performance.now()`, unref()ed timers. */
export const systemExportClock: ExportClock = {
  now: () => performance.now(),
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

/**
 * A clock that moves only when told to (`advance`), resolving every sleep that falls due. For tests that
 * check "not called again before 2 s" without waiting 2 s.
 */
export class ManualExportClock implements ExportClock {
  private current = 0;
  private sleepers: Array<{ at: number; resolve: () => void }> = [];

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { at: this.current + Math.max(0, ms), resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Sleeps now pending. */
  get pendingSleeps(): number {
    return this.sleepers.length;
  }

  /** Moves time forward by `ms`, resolving every sleep due by then. */
  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((s) => s.at <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.at > this.current);
    for (const s of due) s.resolve();
  }
}

/**
 * Real timers running `factor` times faster than the wall clock: a 60 s outage with the default 1 s-30 s
 * backoff, played in a little over a second of wall time (e2e tests, the demo).
 */
export class ScaledExportClock implements ExportClock {
  private readonly origin = performance.now();
  constructor(private readonly factor: number) {}

  now(): number {
    return (performance.now() - this.origin) * this.factor;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemExportClock.sleep(ms / this.factor, signal);
  }
}
