import type { Signal, SignalBatch, TraceBatch, TraceConsumer } from '../otlp/index.js';

/** A consumer that can say in advance that it would refuse (ExporterConsumer, ExporterStage per signal). */
export interface AdmissionCheck {
  refusal(signal?: Signal): Error | undefined;
}

/** A consumer that says which signals it carries (ExporterStage); without it, traces plus what it has methods for. */
interface CarriesSignals {
  readonly signals?: ReadonlySet<Signal>;
}

/**
 * Hands every batch to each of several consumers (one per configured exporter), routed by signal (issue 16): spans
 * to those that carry traces, logs and metrics to those with `consumeLogs` / `consumeMetrics`. The batch is
 * accepted once all have accepted it; each exporter gets its own queue behind its own consumer.
 */
export class FanOutConsumer implements TraceConsumer {
  private readonly traces: readonly TraceConsumer[];
  readonly consumeLogs?: (batch: SignalBatch) => Promise<void>;
  readonly consumeMetrics?: (batch: SignalBatch) => Promise<void>;

  constructor(private readonly consumers: readonly TraceConsumer[]) {
    this.traces = consumers.filter((c) => (c as CarriesSignals).signals?.has('traces') ?? true);
    const logs = consumers.filter((c) => c.consumeLogs !== undefined);
    const metrics = consumers.filter((c) => c.consumeMetrics !== undefined);
    if (logs.length > 0) this.consumeLogs = (b) => fanOut(logs, 'logs', (c) => c.consumeLogs!(b));
    if (metrics.length > 0)
      this.consumeMetrics = (b) => fanOut(metrics, 'metrics', (c) => c.consumeMetrics!(b));
  }

  /** The signals at least one consumer carries: what the receivers serve. */
  signals(): Set<Signal> {
    const out = new Set<Signal>();
    if (this.traces.length > 0) out.add('traces');
    if (this.consumeLogs) out.add('logs');
    if (this.consumeMetrics) out.add('metrics');
    return out;
  }

  consume(batch: TraceBatch): Promise<void> {
    return fanOut(this.traces, 'traces', (c) => c.consume(batch));
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

async function fanOut(
  consumers: readonly TraceConsumer[],
  signal: Signal,
  take: (c: TraceConsumer) => Promise<unknown>,
): Promise<void> {
  if (consumers.length === 1) {
    await take(consumers[0] as TraceConsumer);
    return;
  }
  // Ask every exporter first: when one queue is full the batch is refused before any other took it,
  // so the client's retry does not hand the others the same items twice.
  for (const c of consumers) {
    const refusal = (c as Partial<AdmissionCheck>).refusal?.(signal);
    if (refusal) throw refusal;
  }
  await Promise.all(consumers.map(take));
}
