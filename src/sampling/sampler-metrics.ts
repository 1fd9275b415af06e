import type { Counter } from 'prom-client';
import type { Metrics } from '../telemetry/index.js';
import type { EvictionReason, HoldBuffer } from './completion/hold-buffer.js';
import { type Clock } from '../clock.js';

/** Decision-latency buckets in seconds: decision_wait is 10 s by default. */
const LATENCY_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 12, 15, 20, 30, 60, 120];

/** What the sampler's gauges show, read when /metrics is scraped. */
export interface SamplerGaugeValues {
  traces(): number;
  spans(): number;
  bytes(): number;
  heldBytes(): number;
  heldSpans(): number;
}

const NO_GAUGE_VALUES: SamplerGaugeValues = {
  traces: () => 0,
  spans: () => 0,
  bytes: () => 0,
  heldBytes: () => 0,
  heldSpans: () => 0,
};

/**
 * The sampler's metrics (names in CONTRACT.md and docs), registered once per sampler. The gauges read `values`
 * when scraped: set at the end of every pass, prom-client made an entry and a label object per gauge per pass.
 */
export function samplerMetrics(metrics: Metrics, values: SamplerGaugeValues = NO_GAUGE_VALUES) {
  // Registered in the order the metrics page has always listed them; the gauges are read when scraped.
  const decisions = metrics.counter(
    'sampling_decisions_total',
    'Traces decided, by the top-level policy that decided (_none: no policy kept it; _all: no policy file) and decision (sampled, not_sampled, dropped).',
    ['policy', 'decision'],
  );
  const lateSpans = metrics.counter(
    'sampling_late_spans_total',
    'Spans that arrived after their trace was decided and followed the cached decision.',
    ['decision'],
  );
  const earlyDecisions = metrics.counter(
    'sampling_early_decisions_total',
    'Traces decided before decision_wait because the buffer was full (num_traces or max_buffered_bytes).',
    ['reason'],
  );
  metrics.readGauge('sampling_buffered_traces', 'Traces waiting for their sampling decision.', values.traces);
  metrics.readGauge(
    'sampling_buffered_spans',
    'Spans waiting for their trace’s sampling decision.',
    values.spans,
  );
  metrics.readGauge(
    'sampling_buffered_bytes',
    'Bytes held by the sampler (waiting traces: their share of the request bytes plus index; kept batches not yet taken by the next stage).',
    values.bytes,
  );
  // Observed once per trace: a plain histogram, rendered when scraped (telemetry/collected-metric.ts).
  const latency = metrics.plainHistogram(
    'sampling_decision_latency_seconds',
    'Time from a trace’s first span to its sampling decision.',
    LATENCY_BUCKETS,
  );
  const forwardFailures = metrics.counter(
    'sampling_forward_failures_total',
    'Kept batches the next stage refused; they are offered again (dropped only during shutdown).',
  );
  const released = metrics.counter(
    'sampling_completion_released_spans_total',
    'Spans kept because the decision feed said another agent kept their trace by a rule (issue 9): held after a drop (held), still waiting for their decision (buffered), or arriving after it (late).',
    ['from'],
  );
  const feedIds = metrics.counter(
    'sampling_completion_feed_ids_total',
    'Trace ids read from the decision feed, by what this agent had of the trace: held, buffered (not decided yet), kept (kept here too), unseen, evicted (dropped here, held spans gone), dropped (a policy dropped it here).',
    ['state'],
  );
  metrics.readGauge(
    'sampling_completion_held_bytes',
    'Bytes of dropped traces held for the decision feed (span bytes plus index).',
    values.heldBytes,
  );
  metrics.readGauge(
    'sampling_completion_held_spans',
    'Spans of dropped traces held for the decision feed.',
    values.heldSpans,
  );
  return { decisions, lateSpans, earlyDecisions, latency, forwardFailures, released, feedIds };
}

export type SamplerMetrics = ReturnType<typeof samplerMetrics>;

type DecisionLabel = 'sampled' | 'not_sampled' | 'dropped';
const DECISION_LABELS: readonly DecisionLabel[] = ['sampled', 'not_sampled', 'dropped'];

/**
 * `sampling_decisions_total`, counted per trace in plain numbers and added to the prom-client counter once per
 * sampler pass (`flush`): a labelled `inc` hashes its label object on every call, which per trace was a tenth
 * of the decision path's allocations at 10k spans/s (issue 13).
 */
export class DecisionTally {
  private readonly byPolicy = new Map<string, [number, number, number]>();
  private dirty = false;

  constructor(private readonly counter: SamplerMetrics['decisions']) {}

  count(policy: string, decision: DecisionLabel): void {
    let t = this.byPolicy.get(policy);
    if (t === undefined) {
      t = [0, 0, 0];
      // Policy names come from the policy file (a reload may rename them): the map is cleared when it grows.
      if (this.byPolicy.size >= 256) this.flush(true);
      this.byPolicy.set(policy, t);
    }
    t[decision === 'sampled' ? 0 : decision === 'not_sampled' ? 1 : 2]++;
    this.dirty = true;
  }

  /** Adds what was counted since the last flush to the counter. */
  flush(forget = false): void {
    if (this.dirty) {
      this.dirty = false;
      for (const [policy, t] of this.byPolicy) {
        for (let d = 0; d < 3; d++) {
          if (t[d]! > 0) this.counter.inc({ policy, decision: DECISION_LABELS[d]! }, t[d]);
          t[d] = 0;
        }
      }
    }
    if (forget) this.byPolicy.clear();
  }
}

/** The completion buffer's eviction counters (only registered when completion is on). */
export function completionEvictionMetrics(metrics: Metrics) {
  return {
    spans: metrics.counter(
      'sampling_completion_evicted_spans_total',
      'Held spans of dropped traces that left the completion buffer unreleased: its window passed (age) or room was needed (bytes).',
      ['reason'],
    ),
    traces: metrics.counter(
      'sampling_completion_evicted_traces_total',
      'Held dropped traces that left the completion buffer unreleased, by reason (age, bytes).',
      ['reason'],
    ),
  };
}

/**
 * Counts by `reason`, added to their counter at the end of the sampler's pass (`flush`) rather than one labelled
 * `inc` each: prom-client hashes the label object of every `inc`, and at full speed early decisions and
 * evictions come one per trace (session 13). A reason counted since the last flush is added even when its count
 * is 0 (an evicted trace of log records only holds no spans), as its `inc` would have.
 */
export class ReasonTally<R extends string> {
  private readonly counts = new Map<R, number>();

  constructor(private readonly counter: Pick<Counter<'reason'>, 'inc'>) {}

  count(reason: R, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  flush(): void {
    for (const [reason, n] of this.counts) this.counter.inc({ reason }, n);
    this.counts.clear();
  }
}

/** Evictions from the completion buffer, spans and traces by reason, counted per pass (ReasonTally). */
export class EvictionTally {
  private readonly spans: ReasonTally<EvictionReason>;
  private readonly traces: ReasonTally<EvictionReason>;

  constructor(metrics: Metrics) {
    const counters = completionEvictionMetrics(metrics);
    this.spans = new ReasonTally(counters.spans);
    this.traces = new ReasonTally(counters.traces);
  }

  count(reason: EvictionReason, spans: number): void {
    this.spans.count(reason, spans);
    this.traces.count(reason);
  }

  flush(): void {
    this.spans.flush();
    this.traces.flush();
  }
}

/** `sampling_completion_held_oldest_seconds`, read from the hold buffer when scraped. */
export function heldOldestGauge(metrics: Metrics, hold: HoldBuffer, clock: Clock, windowMs: number): void {
  metrics.readGauge(
    'sampling_completion_held_oldest_seconds',
    'Age of the oldest held trace: how long a dropped trace is held in practice. Below the feed delay (poll_interval + 0.1 s), raise max_bytes.',
    () => {
      const expiry = hold.nextExpiryMs();
      return expiry === undefined ? 0 : Math.max(0, clock.now() - (expiry - windowMs)) / 1000;
    },
  );
}
