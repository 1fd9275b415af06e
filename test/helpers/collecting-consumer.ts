import type { Span, TraceBatch, TraceConsumer } from '../../src/otlp/index.js';

/** The last stage of a test pipeline: keeps every batch it is given, optionally stalling. */
export class CollectingConsumer implements TraceConsumer {
  readonly batches: TraceBatch[] = [];
  private stalled: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private held = 0;

  async consume(batch: TraceBatch): Promise<void> {
    this.held += batch.bytes;
    if (this.stalled) await this.stalled;
    this.held -= batch.bytes;
    this.batches.push(batch);
  }

  bufferedBytes(): number {
    return this.held;
  }

  /** Every span received so far, in arrival order. */
  spans(): Span[] {
    const out: Span[] = [];
    for (const b of this.batches)
      for (const rs of b.data.resourceSpans) for (const ss of rs.scopeSpans) out.push(...ss.spans);
    return out;
  }

  spanCount(): number {
    return this.batches.reduce((n, b) => n + b.spanCount, 0);
  }

  /** Makes every consume wait until `resume()`. */
  stall(): void {
    if (this.stalled) return;
    this.stalled = new Promise((resolve) => (this.release = resolve));
  }

  resume(): void {
    this.release?.();
    this.stalled = undefined;
    this.release = undefined;
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {
    this.resume();
  }
}
