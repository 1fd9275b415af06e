import type { IdGenerator } from '@opentelemetry/sdk-trace';

/** Seeded ids, so that every run sends the very same traces and runs can be compared span by span. */
export class SeededIds implements IdGenerator {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0;
  }
  private word(): string {
    this.x = (this.x + 0x6d2b79f5) >>> 0;
    let t = this.x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  }
  generateTraceId(): string {
    return this.word() + this.word() + this.word() + this.word();
  }
  generateSpanId(): string {
    return this.word() + this.word();
  }
}
