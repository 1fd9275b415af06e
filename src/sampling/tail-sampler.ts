/**
 * The tail-sampling stage of the agent's pipeline (a TraceConsumer, like the Collector's
 * `tail_sampling` processor): spans are regrouped by trace id into a bounded buffer, each trace is
 * decided `decision_wait` after its first span arrived, and kept traces go on to the next stage with
 * `sampling.weight` on every span.
 */
import { SentinelError } from '../errors.js';
import type {
  InstrumentationScope,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  TraceBatch,
  TraceConsumer,
  TraceData,
} from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { BufferedTrace, SpanOrigin } from './buffered-trace.js';
import { systemClock } from './clock.js';
import type { Clock, ClockTimer } from './clock.js';
import { LRUCache } from 'lru-cache';
import { HoldBuffer } from './completion/hold-buffer.js';
import type { EvictionReason, HeldTrace } from './completion/hold-buffer.js';
import { completable, DecisionCache } from './decision-cache.js';
import { COMPLETED_DECISION } from './sampling-policy.js';
import type { PolicySource, TraceDecision } from './sampling-policy.js';
import { markKeptSpan } from './weights.js';

export interface TailSamplerOptions {
  readonly next: TraceConsumer;
  /** Where the policy comes from; its `close()`, if any, is called on shutdown. */
  readonly policySource: PolicySource & { close?(): void };
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** `sampling.decision_wait`: time from a trace's first span to its decision. */
  readonly decisionWaitMs: number;
  /** `sampling.num_traces`: traces held at most; beyond, the oldest is decided early. */
  readonly maxTraces: number;
  /** `sampling.max_buffered_bytes`: batch bytes (as TraceBatch.bytes counts them) held at most; beyond, the oldest are decided early. */
  readonly maxBufferedBytes: number;
  /** `sampling.decision_cache.sampled_cache_size` / `non_sampled_cache_size`. */
  readonly sampledCacheSize?: number;
  readonly nonSampledCacheSize?: number;
  readonly clock?: Clock;
  /** Delay before a batch the next stage refused is offered again. */
  readonly retryDelayMs?: number;
  /** Called once per decided trace (not for late spans), e.g. to publish ids kept by rules (issue 9). */
  readonly onDecision?: (traceId: string, decision: TraceDecision) => void;
  /**
   * `sampling.completion` (issue 9): hold dropped traces for `windowMs` (at most `maxBytes`), so that
   * `release()` can still export them when another agent kept the trace. Absent: dropped spans go at once.
   */
  readonly completion?: { readonly windowMs: number; readonly maxBytes: number };
}

/**
 * Ids the feed named that this agent has not decided, remembered for one window at most (checked on use). Every
 * agent reads every rule-kept id of the cluster, most of them for traces it never sees: 50,000 covers 1,600
 * ids/s over a 30 s window, at about 110 B each (5.5 MiB when full).
 */
const MAX_FEED_IDS = 50_000;

type EarlyReason = 'num_traces' | 'memory';

/**
 * Traces decided per timer callback at most: 2,000 traces of 10 spans took 7 to 95 ms on the 2-core
 * development machine under load (garbage collection included), so slices of 1,000 keep a stall short.
 */
const MAX_DECISIONS_PER_TICK = 1000;

/** Decision-latency buckets in seconds: decision_wait is 10 s by default. */
const LATENCY_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 12, 15, 20, 30, 60, 120];

export class TailSampler implements TraceConsumer {
  private readonly next: TraceConsumer;
  private readonly source: PolicySource & { close?(): void };
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly decisionWaitMs: number;
  private readonly maxTraces: number;
  private readonly maxBytes: number;
  private readonly retryDelayMs: number;
  private readonly onDecision: ((traceId: string, decision: TraceDecision) => void) | undefined;
  private readonly cache: DecisionCache;
  /** Dropped traces held for the decision feed (issue 9); undefined when completion is off. */
  private readonly hold: HoldBuffer | undefined;
  /** Ids the feed named that were not decided here yet, with when: a local drop of them becomes a keep. */
  private readonly keptElsewhere: LRUCache<string, number> | undefined;
  private readonly completionWindowMs: number;
  private holdTimer: ClockTimer | undefined;
  private holdTimerAt = Number.POSITIVE_INFINITY;

  /** Insertion order is first-seen order, so the oldest trace is always the first entry. */
  private readonly traces = new Map<string, BufferedTrace>();
  private bufferedSpanCount = 0;
  private bufferedByteCount = 0;

  private timer: ClockTimer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  private readonly outbox: TraceBatch[] = [];
  private outboxBytes = 0;
  private pumping: Promise<void> | undefined;
  private closing = false;
  private shutdownPromise: Promise<void> | undefined;

  private readonly m;

  constructor(options: TailSamplerOptions) {
    this.next = options.next;
    this.source = options.policySource;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.decisionWaitMs = options.decisionWaitMs;
    this.maxTraces = Math.max(1, options.maxTraces);
    this.maxBytes = Math.max(1, options.maxBufferedBytes);
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.onDecision = options.onDecision;
    this.cache = new DecisionCache(options.sampledCacheSize ?? 10_000, options.nonSampledCacheSize ?? 50_000);
    const metrics = options.metrics;
    this.completionWindowMs = options.completion?.windowMs ?? 0;
    if (options.completion) {
      const evictedSpans = metrics.counter(
        'sampling_completion_evicted_spans_total',
        'Held spans of dropped traces that left the completion buffer unreleased: its window passed (age) or room was needed (bytes).',
        ['reason'],
      );
      const evictedTraces = metrics.counter(
        'sampling_completion_evicted_traces_total',
        'Held dropped traces that left the completion buffer unreleased, by reason (age, bytes).',
        ['reason'],
      );
      this.hold = new HoldBuffer({
        windowMs: options.completion.windowMs,
        maxBytes: options.completion.maxBytes,
        onEvict: (t: HeldTrace, reason: EvictionReason) => {
          evictedSpans.inc({ reason }, t.spans.length);
          evictedTraces.inc({ reason });
        },
      });
      this.keptElsewhere = new LRUCache({ max: MAX_FEED_IDS });
      const hold = this.hold;
      const clock = this.clock;
      const windowMs = options.completion.windowMs;
      metrics.gauge(
        'sampling_completion_held_oldest_seconds',
        'Age of the oldest held trace: how long a dropped trace is held in practice. Below the feed delay (poll_interval + 0.1 s), raise max_bytes.',
        [],
        function collect() {
          const expiry = hold.nextExpiryMs();
          this.set(expiry === undefined ? 0 : Math.max(0, clock.now() - (expiry - windowMs)) / 1000);
        },
      );
    }
    this.m = {
      decisions: metrics.counter(
        'sampling_decisions_total',
        'Traces decided, by the top-level policy that decided (_none: no policy kept it; _all: no policy file) and decision (sampled, not_sampled, dropped).',
        ['policy', 'decision'],
      ),
      lateSpans: metrics.counter(
        'sampling_late_spans_total',
        'Spans that arrived after their trace was decided and followed the cached decision.',
        ['decision'],
      ),
      earlyDecisions: metrics.counter(
        'sampling_early_decisions_total',
        'Traces decided before decision_wait because the buffer was full (num_traces or max_buffered_bytes).',
        ['reason'],
      ),
      bufferedTraces: metrics.gauge(
        'sampling_buffered_traces',
        'Traces waiting for their sampling decision.',
      ),
      bufferedSpans: metrics.gauge(
        'sampling_buffered_spans',
        'Spans waiting for their trace’s sampling decision.',
      ),
      bufferedBytes: metrics.gauge(
        'sampling_buffered_bytes',
        'Decoded bytes held by the sampler (waiting traces and kept batches not yet taken by the next stage).',
      ),
      latency: metrics.histogram(
        'sampling_decision_latency_seconds',
        'Time from a trace’s first span to its sampling decision.',
        [],
        LATENCY_BUCKETS,
      ),
      forwardFailures: metrics.counter(
        'sampling_forward_failures_total',
        'Kept batches the next stage refused; they are offered again (dropped only during shutdown).',
      ),
      released: metrics.counter(
        'sampling_completion_released_spans_total',
        'Spans kept because the decision feed said another agent kept their trace by a rule (issue 9): held after a drop (held), still waiting for their decision (buffered), or arriving after it (late).',
        ['from'],
      ),
      feedIds: metrics.counter(
        'sampling_completion_feed_ids_total',
        'Trace ids read from the decision feed, by what this agent had of the trace: held, buffered (not decided yet), kept (kept here too), unseen, evicted (dropped here, held spans gone), dropped (a policy dropped it here).',
        ['state'],
      ),
      heldBytes: metrics.gauge(
        'sampling_completion_held_bytes',
        'Estimated heap bytes of dropped traces held for the decision feed.',
      ),
      heldSpans: metrics.gauge(
        'sampling_completion_held_spans',
        'Spans of dropped traces held for the decision feed.',
      ),
    };
  }

  async consume(batch: TraceBatch): Promise<void> {
    if (this.closing) {
      throw new SentinelError(
        'SENTINEL_ERR_SHUTTING_DOWN',
        'the sampler is shutting down and takes no new spans',
      );
    }
    const policy = this.source.current();
    if (policy.keepsAll) {
      // No policy file: every trace is kept with weight 1, so there is nothing to wait for.
      const all: TraceDecision = policy.decide(EMPTY_TRACE, this.clock.now());
      for (const rs of batch.data.resourceSpans)
        for (const ss of rs.scopeSpans) for (const span of ss.spans) markKeptSpan(span, all);
      await this.next.consume(batch);
      return;
    }

    const now = this.clock.now();
    const perSpanBytes = batch.spanCount > 0 ? batch.bytes / batch.spanCount : 0;
    const late: Span[] = [];
    const lateOrigins: SpanOrigin[] = [];
    let lateBytes = 0;
    const kept: Array<{ trace: BufferedTrace; decision: TraceDecision }> = [];

    for (const rs of batch.data.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        const origin: SpanOrigin = {
          resource: rs.resource,
          resourceSchemaUrl: rs.schemaUrl,
          scope: ss.scope,
          scopeSchemaUrl: ss.schemaUrl,
        };
        for (const span of ss.spans) {
          let trace = this.traces.get(span.traceId);
          if (trace === undefined) {
            const cached = this.cache.lookup(span.traceId);
            if (cached === 'dropped' || cached === 'held') {
              this.m.lateSpans.inc({ decision: 'not_sampled' });
              // A late span of a trace the feed may still complete waits with the rest of it.
              if (cached === 'held' && this.hold)
                this.hold.add(span.traceId, [span], [origin], perSpanBytes, now);
              continue;
            }
            if (cached !== undefined) {
              this.m.lateSpans.inc({ decision: 'sampled' });
              if (cached.reason === 'completed') this.m.released.inc({ from: 'late' });
              markKeptSpan(span, cached);
              late.push(span);
              lateOrigins.push(origin);
              lateBytes += perSpanBytes;
              continue;
            }
            // Room for a new trace: the oldest is decided early, never dropped unjudged.
            while (this.traces.size >= this.maxTraces) this.decideOldest(now, 'num_traces', kept);
            trace = { traceId: span.traceId, firstSeenMs: now, spans: [], origins: [], bytes: 0 };
            this.traces.set(span.traceId, trace);
          }
          trace.spans.push(span);
          trace.origins.push(origin);
          trace.bytes += perSpanBytes;
          this.bufferedSpanCount++;
          this.bufferedByteCount += perSpanBytes;
        }
      }
    }
    while (this.bufferedByteCount > this.maxBytes && this.traces.size > 0)
      this.decideOldest(now, 'memory', kept);

    if (late.length > 0) this.enqueue([{ spans: late, origins: lateOrigins }], late.length, lateBytes);
    this.forwardKept(kept);
    this.updateGauges();
    this.schedule();
    this.scheduleHoldExpiry();
  }

  /**
   * The decision feed (issue 9) says other agents kept these traces by a rule. Held spans of them are exported
   * now; a trace still waiting here is kept when it is decided if no local policy keeps it (a local keep keeps
   * its own reason and weight); spans of a trace not seen yet are kept when they come (for one completion
   * window). Returns the spans released now. Ids this agent kept itself, or that a `drop` policy or an inverted
   * match excluded here, change nothing.
   */
  release(traceIds: Iterable<string>): number {
    if (!this.hold || !this.keptElsewhere || this.closing) return 0;
    const now = this.clock.now();
    const parts: HeldTrace[] = [];
    let spanCount = 0;
    let bytes = 0;
    for (const traceId of traceIds) {
      const held = this.hold.take(traceId);
      if (held !== undefined) {
        this.cache.record(traceId, COMPLETED_DECISION);
        for (const span of held.spans) markKeptSpan(span, COMPLETED_DECISION);
        parts.push(held);
        spanCount += held.spans.length;
        bytes += held.bytes;
        this.m.feedIds.inc({ state: 'held' });
        continue;
      }
      if (this.traces.has(traceId)) {
        this.keptElsewhere.set(traceId, now);
        this.m.feedIds.inc({ state: 'buffered' });
        continue;
      }
      const cached = this.cache.lookup(traceId);
      if (cached === undefined) {
        this.keptElsewhere.set(traceId, now);
        this.m.feedIds.inc({ state: 'unseen' });
      } else if (cached === 'held') {
        // Decided and dropped here, its held spans already evicted: late spans will still be kept.
        this.cache.record(traceId, COMPLETED_DECISION);
        this.m.feedIds.inc({ state: 'evicted' });
      } else {
        this.m.feedIds.inc({ state: cached === 'dropped' ? 'dropped' : 'kept' });
      }
    }
    if (spanCount > 0) {
      this.m.released.inc({ from: 'held' }, spanCount);
      this.enqueue(parts, spanCount, bytes);
    }
    this.hold.expire(now);
    this.updateGauges();
    return spanCount;
  }

  bufferedBytes(): number {
    // The completion buffer is left out on purpose: it holds dropped data, evictable at any time, with its own
    // bound; counting it would have the receivers refuse live spans to keep dropped ones.
    return this.bufferedByteCount + this.outboxBytes + this.next.bufferedBytes();
  }

  /** Decides every waiting trace now, hands the kept ones on and waits for the next stage to take them. */
  async forceFlush(): Promise<void> {
    this.decideAll();
    await this.drain();
    await this.next.forceFlush();
  }

  /** Stops taking spans, decides everything waiting, delivers, then shuts the next stage down. Runs once. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= (async () => {
      this.closing = true;
      this.decideAll();
      if (this.holdTimer) this.clock.clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
      this.hold?.clear();
      this.keptElsewhere?.clear();
      await this.drain();
      this.source.close?.();
      await this.next.shutdown();
    })();
    return this.shutdownPromise;
  }

  /** Resolves when every kept batch so far has been taken by the next stage (for tests and flush). */
  async drain(): Promise<void> {
    while (this.pumping || this.outbox.length > 0) {
      if (!this.pumping) this.pump();
      await this.pumping;
    }
  }

  /** What the buffer holds now. */
  stats(): {
    traces: number;
    spans: number;
    bytes: number;
    cached: { kept: number; dropped: number };
    held: { traces: number; spans: number; bytes: number };
  } {
    return {
      traces: this.traces.size,
      spans: this.bufferedSpanCount,
      bytes: this.bufferedByteCount,
      cached: this.cache.size,
      held: this.hold?.stats ?? { traces: 0, spans: 0, bytes: 0 },
    };
  }

  private decideAll(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const kept: Array<{ trace: BufferedTrace; decision: TraceDecision }> = [];
    for (const trace of [...this.traces.values()]) this.decide(trace, now, kept);
    this.forwardKept(kept);
    this.updateGauges();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const kept: Array<{ trace: BufferedTrace; decision: TraceDecision }> = [];
    let decided = 0;
    for (const trace of this.traces.values()) {
      if (trace.firstSeenMs + this.decisionWaitMs > now) break;
      // A burst of due traces is decided in slices, so that the receivers sharing the event loop are not
      // starved; the rest are due already and the next timer fires at once.
      if (decided++ >= MAX_DECISIONS_PER_TICK) break;
      this.decide(trace, now, kept);
    }
    this.forwardKept(kept);
    this.updateGauges();
    this.schedule();
  }

  private schedule(): void {
    if (this.closing) return;
    const oldest = this.traces.values().next();
    if (oldest.done) return;
    const due = oldest.value.firstSeenMs + this.decisionWaitMs;
    if (this.timer && this.timerAt <= due) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = this.clock.setTimeout(() => this.onTimer(), due - this.clock.now());
  }

  private decideOldest(
    now: number,
    reason: EarlyReason,
    kept: Array<{ trace: BufferedTrace; decision: TraceDecision }>,
  ) {
    const oldest = this.traces.values().next();
    if (oldest.done) return;
    this.m.earlyDecisions.inc({ reason });
    this.decide(oldest.value, now, kept);
  }

  private decide(
    trace: BufferedTrace,
    now: number,
    kept: Array<{ trace: BufferedTrace; decision: TraceDecision }>,
  ): void {
    this.traces.delete(trace.traceId);
    this.bufferedSpanCount -= trace.spans.length;
    this.bufferedByteCount -= trace.bytes;
    if (this.traces.size === 0) this.bufferedByteCount = 0; // no float drift once empty

    let decision: TraceDecision;
    try {
      decision = this.source.current().decide(trace, now);
    } catch (err) {
      // A policy bug must not lose data: keep the trace, as a rule keep.
      this.logger.error({ err, traceId: trace.traceId }, 'sampling policy failed; keeping the trace');
      decision = { keep: true, reason: 'rule', policy: '_error', weight: 1 };
    }
    // The local policy decides first, so that what it keeps, and with what weight, is the same with or
    // without the feed; only a trace it would drop becomes a completed keep.
    const learned = this.keptElsewhere?.get(trace.traceId);
    if (learned !== undefined) {
      this.keptElsewhere?.delete(trace.traceId);
      if (completable(decision) && now - learned <= this.completionWindowMs) {
        decision = COMPLETED_DECISION;
        this.m.released.inc({ from: 'buffered' }, trace.spans.length);
      }
    }
    this.m.decisions.inc({
      policy: decision.policy === '' ? '_none' : decision.policy,
      decision: decision.keep ? 'sampled' : decision.reason === 'dropped' ? 'dropped' : 'not_sampled',
    });
    this.m.latency.observe(Math.max(0, now - trace.firstSeenMs) / 1000);
    this.cache.record(trace.traceId, decision);
    if (this.onDecision) {
      try {
        this.onDecision(trace.traceId, decision);
      } catch (err) {
        this.logger.warn({ err }, 'onDecision callback failed');
      }
    }
    if (decision.keep) kept.push({ trace, decision });
    else if (this.hold && completable(decision)) {
      this.hold.add(trace.traceId, trace.spans, trace.origins, trace.bytes, now);
      this.scheduleHoldExpiry();
    }
  }

  /** Frees held traces once their window has passed, even when no new spans arrive. */
  private scheduleHoldExpiry(): void {
    if (!this.hold || this.closing) return;
    const due = this.hold.nextExpiryMs();
    if (due === undefined) return;
    if (this.holdTimer && this.holdTimerAt <= due) return;
    if (this.holdTimer) this.clock.clearTimeout(this.holdTimer);
    this.holdTimerAt = due;
    this.holdTimer = this.clock.setTimeout(() => {
      this.holdTimer = undefined;
      this.holdTimerAt = Number.POSITIVE_INFINITY;
      this.hold?.expire(this.clock.now());
      this.updateGauges();
      this.scheduleHoldExpiry();
    }, due - this.clock.now());
  }

  private forwardKept(kept: Array<{ trace: BufferedTrace; decision: TraceDecision }>): void {
    if (kept.length === 0) return;
    let spanCount = 0;
    let bytes = 0;
    for (const { trace, decision } of kept) {
      for (const span of trace.spans) markKeptSpan(span, decision);
      spanCount += trace.spans.length;
      bytes += trace.bytes;
    }
    this.enqueue(
      kept.map((k) => k.trace),
      spanCount,
      bytes,
    );
  }

  private enqueue(parts: ReadonlyArray<SpanGroup>, spanCount: number, bytes: number): void {
    if (spanCount === 0) return;
    const batch: TraceBatch = { data: regroup(parts), spanCount, bytes: Math.ceil(bytes) };
    this.outbox.push(batch);
    this.outboxBytes += batch.bytes;
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = this.runPump().finally(() => {
      this.pumping = undefined;
      this.updateGauges();
    });
  }

  private async runPump(): Promise<void> {
    for (;;) {
      const batch = this.outbox[0];
      if (batch === undefined) return;
      try {
        await this.next.consume(batch);
      } catch (err) {
        this.m.forwardFailures.inc();
        if (!this.closing) {
          this.logger.warn(
            { err, spans: batch.spanCount },
            'next stage refused kept spans; offering them again',
          );
          await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.retryDelayMs));
          continue;
        }
        this.logger.error(
          { err, spans: batch.spanCount },
          'next stage refused kept spans during shutdown; dropped',
        );
      }
      this.outbox.shift();
      this.outboxBytes -= batch.bytes;
    }
  }

  private updateGauges(): void {
    this.m.bufferedTraces.set(this.traces.size);
    this.m.bufferedSpans.set(this.bufferedSpanCount);
    this.m.bufferedBytes.set(this.bufferedByteCount + this.outboxBytes);
    if (this.hold) {
      const held = this.hold.stats;
      this.m.heldBytes.set(held.bytes);
      this.m.heldSpans.set(held.spans);
    }
  }
}

const EMPTY_TRACE: BufferedTrace = { traceId: '', firstSeenMs: 0, spans: [], origins: [], bytes: 0 };

/** Spans with their origins (a buffered trace, or late spans). */
export interface SpanGroup {
  readonly spans: readonly Span[];
  readonly origins: readonly SpanOrigin[];
}

/**
 * Rebuilds ResourceSpans/ScopeSpans from buffered spans, under the same Resource and InstrumentationScope
 * objects they arrived with (one ResourceSpans per resource object, one ScopeSpans per scope object).
 */
export function regroup(parts: ReadonlyArray<SpanGroup>): TraceData {
  const resources = new Map<Resource, { rs: ResourceSpans; scopes: Map<InstrumentationScope, ScopeSpans> }>();
  const resourceSpans: ResourceSpans[] = [];
  for (const { spans, origins } of parts) {
    for (let i = 0; i < spans.length; i++) {
      const origin = origins[i] as SpanOrigin;
      let r = resources.get(origin.resource);
      if (r === undefined) {
        const rs: ResourceSpans = {
          resource: origin.resource,
          scopeSpans: [],
          schemaUrl: origin.resourceSchemaUrl,
        };
        r = { rs, scopes: new Map() };
        resources.set(origin.resource, r);
        resourceSpans.push(rs);
      }
      let ss = r.scopes.get(origin.scope);
      if (ss === undefined) {
        ss = { scope: origin.scope, spans: [], schemaUrl: origin.scopeSchemaUrl };
        r.scopes.set(origin.scope, ss);
        r.rs.scopeSpans.push(ss);
      }
      ss.spans.push(spans[i] as Span);
    }
  }
  return { resourceSpans };
}
