/**
 * The tail-sampling stage of the agent's pipeline (a TraceConsumer, like the Collector's
 * `tail_sampling` processor): spans are regrouped by trace id into a bounded buffer, each trace is
 * decided `decision_wait` after its first span arrived, and kept traces go on to the next stage with
 * `sampling.weight` on every span.
 *
 * On the byte path (issue 13) spans stay in the request bytes they came in: the buffer holds an index per span
 * (trace-buffer.ts), policies read the few fields they need from the bytes at decision time, kept spans are
 * assembled into an encoded request with their marks appended (weights.ts), dropped ones are copied into the
 * completion buffer (completion/hold-buffer.ts) when it is on.
 */
import { SentinelError } from '../errors.js';
import type { SignalBatch, SignalPartial, TraceBatch, TraceConsumer, WireSpans } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { WireTraceView, type WireTrace } from './buffered-trace.js';
import { HoldBuffer, holdSpans } from './completion/hold-buffer.js';
import type { EvictedTrace, EvictionReason } from './completion/hold-buffer.js';
import { completable, DecisionCache } from './decision-cache.js';
import { IdTimes } from './id-lru.js';
import { DecisionTimer } from './decision-timer.js';
import type { KeptBatch } from './kept-outbox.js';
import { KeptOutbox } from './kept-outbox.js';
import {
  DecisionTally,
  EvictionTally,
  ReasonTally,
  heldOldestGauge,
  samplerMetrics,
  type SamplerMetrics,
} from './sampler-metrics.js';
import { HeldRequests, HeldSpans } from './held-requests.js';
import { addHeldPart, EMPTY_TRACE, keepAll, releaseColumns, wireOf } from './sampler-wire.js';
import { COMPLETED_DECISION } from './sampling-policy.js';
import type { PolicySource, TraceDecision } from './sampling-policy.js';
import { NONE } from './rows.js';
import { TraceBuffer } from './trace-buffer.js';
import { TraceLogs } from './trace-logs.js';
import { addKeptSpan } from './weights.js';
import { systemClock, type Clock } from '../clock.js';

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
 * ids/s over a 30 s window, at about 60 B each in typed-array rows (2.9 MiB when full; 145 B as an lru-cache of id
 * strings, measured on Node 20, issue 13).
 */
const MAX_FEED_IDS = 50_000;

type EarlyReason = 'num_traces' | 'memory';

/**
 * Traces decided per timer callback at most: 2,000 traces of 10 spans took 7 to 95 ms on the 2-core
 * development machine under load (garbage collection included), so slices of 1,000 keep a stall short.
 */
const MAX_DECISIONS_PER_TICK = 1000;

/**
 * Decisions come in ticks: a tick decides the traces due by then and those due within 1 % of decision_wait (at
 * most 100 ms) after it. At 10k spans/s in 100-span requests the traces of each request armed their own tick: a
 * hundred passes a second, each with its kept batch, export hand-off and timer (a third of the decision path's
 * CPU in a profile, issue 13). The Collector's tail_sampling decides once a second, up to a second after decision_wait.
 */
const MAX_TICK_SLACK_MS = 100;

export class TailSampler implements TraceConsumer {
  private readonly next: TraceConsumer;
  private readonly source: PolicySource & { close?(): void };
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly decisionWaitMs: number;
  /** A timer tick also decides the traces due within this many ms (1 % of decision_wait, at most 100 ms). */
  private readonly tickSlackMs: number;
  private readonly maxTraces: number;
  private readonly maxBytes: number;
  private readonly onDecision: ((traceId: string, decision: TraceDecision) => void) | undefined;
  /** The spans of a trace being held, written by `spanEntriesInto` (reused from trace to trace). */
  private readonly holdScratch: { requests: WireSpans[]; indexes: number[]; count: number } = {
    requests: [],
    indexes: [],
    count: 0,
  };
  /** The policies' view of the trace being decided (reset per trace). */
  private view: WireTraceView | undefined;
  /** The handle of the trace being decided (moved to each row in turn: decisions never nest). */
  private decided: WireTrace | undefined;
  private readonly cache: DecisionCache;
  /** Dropped traces held for the decision feed (issue 9); undefined when completion is off. */
  private readonly hold: HoldBuffer | undefined;
  /** Ids the feed named that were not decided here yet, with when: a local drop of them becomes a keep. */
  private readonly keptElsewhere: IdTimes | undefined;
  private readonly completionWindowMs: number;
  private readonly buffer = new TraceBuffer();
  private readonly held = new HeldRequests();
  private readonly decisionTimer: DecisionTimer;
  private readonly holdTimer: DecisionTimer;
  private readonly outbox: KeptOutbox;
  /** Log records, which follow their trace (issue 16). */
  private readonly logs: TraceLogs;
  private closing = false;
  private shutdownPromise: Promise<void> | undefined;
  private readonly m: SamplerMetrics;
  /** Decisions per policy, added to `sampling_decisions_total` at the end of each pass. */
  private readonly decisions: DecisionTally;
  private readonly early: ReasonTally<EarlyReason>;
  /** Evictions from the completion buffer, added to their counters at the end of each pass. */
  private readonly evicted: EvictionTally | undefined;

  constructor(options: TailSamplerOptions) {
    this.next = options.next;
    this.source = options.policySource;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.decisionWaitMs = options.decisionWaitMs;
    this.tickSlackMs = Math.min(MAX_TICK_SLACK_MS, Math.floor(options.decisionWaitMs / 100));
    this.maxTraces = Math.max(1, options.maxTraces);
    this.maxBytes = Math.max(1, options.maxBufferedBytes);
    this.onDecision = options.onDecision;
    this.cache = new DecisionCache(options.sampledCacheSize ?? 10_000, options.nonSampledCacheSize ?? 50_000);
    const metrics = options.metrics;
    this.m = samplerMetrics(metrics, {
      traces: () => this.buffer.size,
      spans: () => this.buffer.spanCount,
      bytes: () => this.buffer.bytes + this.outbox.bytes,
      heldBytes: () => this.hold?.stats.bytes ?? 0,
      heldSpans: () => this.hold?.stats.spans ?? 0,
    });
    this.decisions = new DecisionTally(this.m.decisions);
    this.early = new ReasonTally(this.m.earlyDecisions);
    this.decisionTimer = new DecisionTimer(this.clock, () => this.onTimer());
    this.holdTimer = new DecisionTimer(this.clock, () => {
      this.hold?.expire(this.clock.now());
      this.updateGauges();
      this.scheduleHoldExpiry();
    });
    this.outbox = new KeptOutbox(
      this.next,
      this.clock,
      options.retryDelayMs ?? 1000,
      this.logger,
      () => this.m.forwardFailures.inc(),
      () => this.updateGauges(),
    );
    this.completionWindowMs = options.completion?.windowMs ?? 0;
    if (options.completion) {
      const evicted = new EvictionTally(metrics);
      this.evicted = evicted;
      this.hold = new HoldBuffer({
        windowMs: options.completion.windowMs,
        maxBytes: options.completion.maxBytes,
        onEvict: (t: EvictedTrace, reason: EvictionReason) => evicted.count(reason, t.spanCount),
      });
      this.keptElsewhere = new IdTimes(MAX_FEED_IDS);
      heldOldestGauge(metrics, this.hold, this.clock, options.completion.windowMs);
    }
    this.logs = new TraceLogs({
      next: this.next,
      buffer: this.buffer,
      cache: this.cache,
      hold: this.hold,
      outbox: this.outbox,
      metrics,
      policy: () => this.source.current(),
      now: () => this.clock.now(),
      openTrace: (traceId, now, kept) => this.openTrace(traceId, now, kept),
      finishPass: (now, kept) => this.finishPass(now, kept),
    });
  }

  /** Metrics (issue 16) pass through the sampler untouched (h16m). */
  consumeMetrics(batch: SignalBatch): Promise<SignalPartial> {
    if (!this.next.consumeMetrics)
      return Promise.reject(new SentinelError('SENTINEL_ERR_EXPORT_FAILED', 'no exporter takes metrics'));
    return this.next.consumeMetrics(batch);
  }

  async consume(batch: TraceBatch): Promise<void> {
    this.checkOpen();
    const spans = wireOf(batch);
    const policy = this.source.current();
    if (policy.keepsAll) {
      // No policy file: every trace is kept with weight 1, so there is nothing to wait for.
      await keepAll(this.next, spans, policy.decide(EMPTY_TRACE, this.clock.now()), batch.bytes);
      return;
    }

    const now = this.clock.now();
    const share = spans.count > 0 ? batch.bytes / spans.count : 0;
    const traceIds = spans.traceIds ?? [];
    const kept = this.outbox.batch();
    const late = this.outbox.batch();
    // What the buffer keeps of the request: a copy in a reused chunk (held-requests.ts), pinned for this pass.
    const held = this.held.adopt(spans);
    try {
      for (let i = 0; i < spans.count; i++) {
        const traceId = traceIds[i] as string;
        let row = this.buffer.find(traceId);
        if (row === NONE) {
          const cached = this.cache.lookup(traceId);
          if (cached === 'dropped' || cached === 'held') {
            this.m.lateSpans.inc({ decision: 'not_sampled' });
            // A late span of a trace the feed may still complete waits with the rest of it.
            if (cached === 'held' && this.hold) this.hold.add(traceId, holdSpans([spans], [i]), now);
            continue;
          }
          if (cached !== undefined) {
            this.m.lateSpans.inc({ decision: 'sampled' });
            if (cached.reason === 'completed') this.m.released.inc({ from: 'late' });
            const off = spans.offsets[i] as number;
            const end = off + (spans.lengths[i] as number);
            addKeptSpan(late.out, spans.scope(i), spans.buf, off, end, spans.marks[i] as number, cached);
            late.bytes += share;
            continue;
          }
          row = this.openTrace(traceId, now, kept);
        }
        this.buffer.addSpan(row, held, i, share);
      }
      releaseColumns(spans);
      this.outbox.pushKept(late);
      this.finishPass(now, kept);
    } finally {
      if (held instanceof HeldSpans) held.unpin();
    }
  }

  /**
   * Log records (issue 16): those with a trace id wait with their trace and follow its decision; the others
   * are decided by the policy file's `logs:` section (trace-logs.ts).
   */
  async consumeLogs(batch: SignalBatch): Promise<void> {
    this.checkOpen();
    await this.logs.consume(batch);
  }

  private checkOpen(): void {
    if (this.closing) {
      throw new SentinelError(
        'SENTINEL_ERR_SHUTTING_DOWN',
        'the sampler is shutting down and takes no new data',
      );
    }
  }

  /** Starts a trace (returns its buffer row); room for it first: the oldest is decided early, never dropped unjudged. */
  private openTrace(traceId: string, now: number, kept: KeptBatch): number {
    while (this.buffer.size >= this.maxTraces) this.decideOldest(now, 'num_traces', kept);
    return this.buffer.open(traceId, now);
  }

  /** The end of a pass that added to the buffer: the memory bound, kept data handed on, timers. */
  private finishPass(now: number, kept: KeptBatch): void {
    while (this.buffer.bytes > this.maxBytes && this.buffer.size > 0) this.decideOldest(now, 'memory', kept);
    this.outbox.pushKept(kept);
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
    const released = this.outbox.batch();
    for (const traceId of traceIds) {
      const held = this.hold.take(traceId);
      if (held !== undefined) {
        this.cache.record(traceId, COMPLETED_DECISION);
        for (const part of held.parts) addHeldPart(released, part);
        released.bytes += held.bytes;
        this.m.feedIds.inc({ state: 'held' });
        continue;
      }
      if (this.buffer.has(traceId)) {
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
    const spanCount = released.out.spanCount;
    if (spanCount > 0) this.m.released.inc({ from: 'held' }, spanCount);
    this.logs.released(released.logs.spanCount);
    this.outbox.pushKept(released);
    this.hold.endTakes();
    this.hold.expire(now);
    this.updateGauges();
    return spanCount;
  }

  bufferedBytes(): number {
    // The completion buffer is left out on purpose: it holds dropped data, evictable at any time, with its own
    // bound; counting it would have the receivers refuse live spans to keep dropped ones.
    return this.buffer.bytes + this.outbox.bytes + this.next.bufferedBytes();
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
      this.outbox.closing = true;
      this.decideAll();
      this.holdTimer.clear();
      this.hold?.clear();
      this.keptElsewhere?.clear();
      await this.drain();
      this.source.close?.();
      await this.next.shutdown();
    })();
    return this.shutdownPromise;
  }

  /** Resolves when every kept batch so far has been taken by the next stage (for tests and flush). */
  drain(): Promise<void> {
    return this.outbox.drain();
  }

  /** The chunks that buffered requests are copied into (held-requests.ts), for tests and benches. */
  get heldRequests(): HeldRequests['stats'] {
    return this.held.stats;
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
      traces: this.buffer.size,
      spans: this.buffer.spanCount,
      bytes: this.buffer.bytes,
      cached: this.cache.size,
      held: this.hold?.stats ?? { traces: 0, spans: 0, bytes: 0 },
    };
  }

  private decideAll(): void {
    this.decisionTimer.clear();
    const now = this.clock.now();
    const kept = this.outbox.batch();
    for (const row of this.buffer.rows()) this.decide(this.traceAt(row), now, kept);
    this.outbox.pushKept(kept);
    this.updateGauges();
  }

  private onTimer(): void {
    const now = this.clock.now();
    const kept = this.outbox.batch();
    let decided = 0;
    // Oldest first: the head of the buffer's first-seen list.
    for (let row = this.buffer.oldest(); row !== NONE; row = this.buffer.oldest()) {
      if (this.buffer.firstSeenMs(row) + this.decisionWaitMs > now + this.tickSlackMs) break;
      // A burst of due traces is decided in slices, so that the receivers sharing the event loop are not
      // starved; the rest are due already and the next timer fires at once.
      if (decided++ >= MAX_DECISIONS_PER_TICK) break;
      this.decide(this.traceAt(row), now, kept);
    }
    this.outbox.pushKept(kept);
    this.updateGauges();
    this.schedule();
  }

  private schedule(): void {
    if (this.closing) return;
    const oldest = this.buffer.oldest();
    if (oldest !== NONE) this.decisionTimer.schedule(this.buffer.firstSeenMs(oldest) + this.decisionWaitMs);
  }

  private decideOldest(now: number, reason: EarlyReason, kept: KeptBatch): void {
    const oldest = this.buffer.oldest();
    if (oldest === NONE) return;
    this.early.count(reason);
    this.decide(this.traceAt(oldest), now, kept);
  }

  /** The handle of buffer row `row` for `decide`. */
  private traceAt(row: number): WireTrace {
    this.decided = this.decided?.at(row) ?? this.buffer.trace(row);
    return this.decided;
  }

  /** Decides a buffered trace: out of the buffer at once, its row let go when the decision is carried out. */
  private decide(trace: WireTrace, now: number, kept: KeptBatch): void {
    this.buffer.remove(trace.row);
    try {
      this.carryOut(trace, now, kept);
    } finally {
      this.buffer.free(trace.row);
    }
  }

  private carryOut(trace: WireTrace, now: number, kept: KeptBatch): void {
    if (trace.spanCount === 0) {
      // Log records only (issue 16): orphaned, unless the feed said another agent kept the trace.
      this.logs.orphan(trace, this.learned(trace.traceId, now) ? COMPLETED_DECISION : undefined, kept, now);
      return;
    }
    const policy = this.source.current();
    let decision: TraceDecision;
    try {
      this.view =
        this.view?.reset(trace, policy.attributeKeys) ?? new WireTraceView(trace, policy.attributeKeys);
      decision = policy.decide(this.view, now);
    } catch (err) {
      // A policy bug must not lose data: keep the trace, as a rule keep.
      this.logger.error({ err, traceId: trace.traceId }, 'sampling policy failed; keeping the trace');
      decision = { keep: true, reason: 'rule', policy: '_error', weight: 1 };
    }
    // The local policy decides first, so that what it keeps, and with what weight, is the same with or
    // without the feed; only a trace it would drop becomes a completed keep.
    if (this.learned(trace.traceId, now) && completable(decision)) {
      decision = COMPLETED_DECISION;
      this.m.released.inc({ from: 'buffered' }, trace.spanCount);
    }
    this.decisions.count(
      decision.policy === '' ? '_none' : decision.policy,
      decision.keep ? 'sampled' : decision.reason === 'dropped' ? 'dropped' : 'not_sampled',
    );
    this.m.latency.observe(Math.max(0, now - trace.firstSeenMs) / 1000);
    this.cache.record(trace.traceId, decision);
    if (this.onDecision) {
      try {
        this.onDecision(trace.traceId, decision);
      } catch (err) {
        this.logger.warn({ err }, 'onDecision callback failed');
      }
    }
    if (decision.keep) {
      const b = this.buffer;
      for (let e = b.firstSpan(trace.row); e !== NONE; e = b.nextEntry(e)) {
        const req = b.entryRequest(e) as WireSpans;
        const i = b.entryIndex(e);
        const off = req.offsets[i] as number;
        const end = off + (req.lengths[i] as number);
        addKeptSpan(
          kept.out,
          req.scope(i),
          req.buf,
          off,
          end,
          req.marks[i] as number,
          decision,
          req.dataView,
        );
      }
      kept.bytes += trace.bytes;
    }
    const held = !decision.keep && this.hold !== undefined && completable(decision);
    if (held && this.hold) {
      const part = this.holdScratch;
      part.count = trace.spanEntriesInto(part.requests, part.indexes);
      this.hold.add(trace.traceId, part, now);
      // The requests are let go (the arrays are kept): a request of a trace held once is not pinned here.
      part.requests.fill(undefined as unknown as WireSpans, 0, part.count);
    }
    this.logs.follow(trace, decision, kept, held, now);
    if (held) this.scheduleHoldExpiry();
  }

  /** Whether the feed named this trace within the completion window (forgotten once asked). */
  private learned(traceId: string, now: number): boolean {
    const at = this.keptElsewhere?.take(traceId);
    if (at === undefined) return false;
    return now - at <= this.completionWindowMs;
  }

  /** Frees held traces once their window has passed, even when no new spans arrive. */
  private scheduleHoldExpiry(): void {
    // Held traces expire in the order they were first held, so a pending timer is never late for a trace held
    // since; it fires, expires what is due and sets the next. Asking the buffer per held trace returned a boxed
    // time each (4.6 % of what the agent allocated at full speed, session 13).
    if (!this.hold || this.closing || this.holdTimer.pending) return;
    const due = this.hold.nextExpiryMs();
    if (due !== undefined) this.holdTimer.schedule(due);
  }

  /** The end of a pass: the decisions counted are added to their counter (the gauges are read when scraped). */
  private updateGauges(): void {
    this.decisions.flush();
    this.early.flush();
    this.evicted?.flush();
    this.logs.updateGauges();
  }
}
