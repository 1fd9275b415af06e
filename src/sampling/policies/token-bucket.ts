/** A token bucket refilled continuously (golang.org/x/time/rate, as the Collector uses). */
export class TokenBucket {
  private tokens: number;
  private lastMs: number | undefined;
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  allow(n: number, nowMs: number): boolean {
    if (this.lastMs !== undefined && nowMs > this.lastMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.perSecond);
    }
    this.lastMs = this.lastMs === undefined ? nowMs : Math.max(this.lastMs, nowMs);
    if (n > this.tokens) return false;
    this.tokens -= n;
    return true;
  }
}
