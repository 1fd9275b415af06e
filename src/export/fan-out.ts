import type { TraceBatch, TraceConsumer } from '../otlp/index.js';

/** A consumer that can say in advance that it would refuse (ExporterConsumer). */
export interface AdmissionCheck {
  refusal(): Error | undefined;
}

/**
 * Hands every batch to each of several consumers (one per configured exporter). The batch is accepted
 * once all have accepted it; each exporter gets its own queue behind its own consumer.
 */
export class FanOutConsumer implements TraceConsumer {
  constructor(private readonly consumers: readonly TraceConsumer[]) {}

  async consume(batch: TraceBatch): Promise<void> {
    if (this.consumers.length === 1) return (this.consumers[0] as TraceConsumer).consume(batch);
    // Ask every exporter first: when one queue is full the batch is refused before any other took it,
    // so the client's retry does not hand the others the same spans twice.
    for (const c of this.consumers) {
      const refusal = (c as Partial<AdmissionCheck>).refusal?.();
      if (refusal) throw refusal;
    }
    await Promise.all(this.consumers.map((c) => c.consume(batch)));
  }

  bufferedBytes(): number {
    let n = 0;
    for (const c of this.consumers) n = Math.max(n, c.bufferedBytes());
    return n;
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.shutdown()));
  }
}
