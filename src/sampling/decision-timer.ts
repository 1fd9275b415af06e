import { type Clock, type ClockTimer } from '../clock.js';

/**
 * One timer for the earliest thing due (the oldest trace's decision, the oldest held trace's expiry): setting
 * a later time than the one pending changes nothing, an earlier one moves it.
 */
export class DecisionTimer {
  private timer: ClockTimer | undefined;
  private at = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
  ) {}

  /** Whether a time is set and has not fired yet. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** Fires at `dueMs` unless something earlier is pending. */
  schedule(dueMs: number): void {
    if (this.timer && this.at <= dueMs) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.at = dueMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.at = Number.POSITIVE_INFINITY;
      this.onDue();
    }, dueMs - this.clock.now());
  }

  clear(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Number.POSITIVE_INFINITY;
  }
}
