import type { SignalBatch, SignalPartial, TraceConsumer } from './consumer.js';

/** The logs and metrics methods of a stage that passes them on untouched. */
export interface SignalMethods {
  consumeLogs?: (batch: SignalBatch) => Promise<SignalPartial>;
  consumeMetrics?: (batch: SignalBatch) => Promise<SignalPartial>;
}

/**
 * Pass-through of logs and metrics (issue 16) for a stage that leaves them as they are: exactly the methods
 * `next` has, so a pipeline whose end takes no logs still says so (the receivers answer 404 / UNIMPLEMENTED).
 */
export function forwardSignals(next: TraceConsumer): SignalMethods {
  const out: SignalMethods = {};
  if (next.consumeLogs) out.consumeLogs = (b) => next.consumeLogs!(b);
  if (next.consumeMetrics) out.consumeMetrics = (b) => next.consumeMetrics!(b);
  return out;
}
