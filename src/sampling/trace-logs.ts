/**
 * Logs follow their trace (issue 16): the sampler's handling of log records, beside its spans.
 *
 * - A record with a trace id waits with its trace in the trace buffer (in the same budget: its share of its
 *   request's bytes plus its index) and is kept or dropped with it, carrying the trace's `sampling.weight`.
 *   A record that comes first opens the trace, so the spans that follow join it.
 * - A dropped trace's records are held in the completion buffer with its spans, and released with them when
 *   the decision feed says another agent kept the trace.
 * - A record that comes after its trace was decided follows the decision cache.
 * - A trace that got records but no span within `decision_wait` is orphaned: its records are decided by the
 *   policy file's `logs:` section (kept as they came when there is none), as records without a trace id are,
 *   at once.
 */
import {
  addKeptLog,
  scanLogsRequest,
  type SignalBatch,
  type TraceConsumer,
  type WireLogs,
} from '../otlp/index.js';
import type { Metrics } from '../telemetry/index.js';
import type { WireTrace } from './buffered-trace.js';
import { holdLogs, type HoldBuffer } from './completion/hold-buffer.js';
import type { DecisionCache } from './decision-cache.js';
import { KeptBatch, type KeptOutbox } from './kept-outbox.js';
import { WireLogView } from './log-match.js';
import type { SamplingPolicy, TraceDecision } from './sampling-policy.js';
import { NONE } from './rows.js';
import type { TraceBuffer } from './trace-buffer.js';

/** Why a log record was kept or dropped: the `reason` label of `sentinel_sampling_logs_total`. */
export type LogReason = 'trace' | 'late' | 'released' | 'orphaned' | 'no_trace_id' | 'keep_all';

/** What of the sampler the logs need. */
export interface TraceLogsHost {
  readonly next: TraceConsumer;
  readonly buffer: TraceBuffer;
  readonly cache: DecisionCache;
  readonly hold: HoldBuffer | undefined;
  readonly outbox: KeptOutbox;
  readonly metrics: Metrics;
  policy(): SamplingPolicy;
  now(): number;
  /** Starts a trace for an id neither buffered nor decided (deciding the oldest early at `num_traces`); its row. */
  openTrace(traceId: string, nowMs: number, kept: KeptBatch): number;
  /** Ends a pass: decides the oldest early past `max_buffered_bytes`, hands kept data on, reschedules. */
  finishPass(nowMs: number, kept: KeptBatch): void;
}

const REASONS: readonly LogReason[] = ['trace', 'late', 'released', 'orphaned', 'no_trace_id', 'keep_all'];

export class TraceLogs {
  private readonly counted;
  /**
   * Counts not yet added to the counter, by reason (kept, dropped): a labelled `inc` costs microseconds
   * (prom-client hashes the labels), more than a record's own handling, so a pass adds them once.
   */
  private readonly tally = new Map<LogReason, [number, number]>(REASONS.map((r) => [r, [0, 0]]));
  private tallied = false;

  constructor(private readonly host: TraceLogsHost) {
    const metrics = host.metrics;
    this.counted = metrics.counter(
      'sampling_logs_total',
      'Log records decided by the sampler (issue 16), by decision (kept, dropped) and reason: trace (with their trace at its decision), late (after it, by the decision cache), released (by the decision feed, with the spans), orphaned (a trace id never seen as spans within decision_wait: the logs policy), no_trace_id (the logs policy), keep_all (no policy file).',
      ['decision', 'reason'],
    );
    metrics.readGauge(
      'sampling_buffered_logs',
      'Log records waiting with their trace for its sampling decision.',
      () => host.buffer.logCount,
    );
  }

  /** Takes a logs batch: records wait with their trace, follow its decision, or are decided now. */
  async consume(batch: SignalBatch): Promise<void> {
    const host = this.host;
    const policy = host.policy();
    if (policy.keepsAll) {
      // No policy file: every trace is kept at once with weight 1, and so is every log, as it came.
      if (host.next.consumeLogs) await host.next.consumeLogs(batch);
      this.counted.inc({ decision: 'kept', reason: 'keep_all' }, batch.itemCount);
      return;
    }
    const logs = scanLogsRequest(batch.encoded);
    const now = host.now();
    const share = logs.count > 0 ? batch.bytes / logs.count : 0;
    const traceIds = logs.traceIds ?? [];
    const kept = new KeptBatch();
    for (let i = 0; i < logs.count; i++) {
      const traceId = traceIds[i] as string;
      if (traceId === '') {
        this.decideAlone(policy, logs, i, '', kept, 'no_trace_id', share);
        continue;
      }
      let row = host.buffer.find(traceId);
      if (row === NONE) {
        const cached = host.cache.lookup(traceId);
        if (cached === 'dropped' || cached === 'held') {
          if (cached === 'held' && host.hold) host.hold.add(traceId, holdLogs([logs], [i]), now);
          this.count(false, 'late', 1);
          continue;
        }
        if (cached !== undefined) {
          addKeptLog(kept.logs, logs, i, cached.weight, cached.reason === 'completed');
          kept.logBytes += share;
          this.count(true, 'late', 1);
          continue;
        }
        row = host.openTrace(traceId, now, kept);
      }
      host.buffer.addLog(row, logs, i, share);
    }
    logs.traceIds = undefined;
    logs.spanIds = undefined;
    logs.severityTexts = undefined;
    host.finishPass(now, kept);
  }

  /** The trace was decided (it had spans): its records go with it, or are held with its spans. */
  follow(trace: WireTrace, decision: TraceDecision, kept: KeptBatch, held: boolean, nowMs: number): void {
    if (trace.logCount === 0) return;
    const { requests: logRequests, indexes: logIndexes } = trace.logEntries();
    if (decision.keep) {
      const completed = decision.reason === 'completed';
      for (let k = 0; k < logIndexes.length; k++)
        addKeptLog(
          kept.logs,
          logRequests[k] as WireLogs,
          logIndexes[k] as number,
          decision.weight,
          completed,
        );
      kept.logBytes += trace.logBytes;
      this.count(true, 'trace', logIndexes.length);
      return;
    }
    if (held && this.host.hold) this.host.hold.add(trace.traceId, holdLogs(logRequests, logIndexes), nowMs);
    this.count(false, 'trace', logIndexes.length);
  }

  /**
   * A trace of records only, due: no span came within decision_wait. Kept whole when the feed said another
   * agent kept it; else each record is decided by the logs policy, and a dropped one held for the feed.
   */
  orphan(trace: WireTrace, completed: TraceDecision | undefined, kept: KeptBatch, nowMs: number): void {
    if (trace.logCount === 0) return;
    if (completed !== undefined) {
      this.follow(trace, completed, kept, false, nowMs);
      return;
    }
    const { requests: logRequests, indexes: logIndexes } = trace.logEntries();
    const policy = this.host.policy();
    const share = trace.logBytes / logIndexes.length;
    const dropped: number[] = [];
    for (let k = 0; k < logIndexes.length; k++) {
      const logs = logRequests[k] as WireLogs;
      const i = logIndexes[k] as number;
      if (!this.decideAlone(policy, logs, i, trace.traceId, kept, 'orphaned', share)) dropped.push(k);
    }
    if (dropped.length > 0 && this.host.hold)
      this.host.hold.add(
        trace.traceId,
        holdLogs(
          dropped.map((k) => logRequests[k] as WireLogs),
          dropped.map((k) => logIndexes[k] as number),
        ),
        nowMs,
      );
  }

  /** Counts records the decision feed released with their trace's held spans. */
  released(count: number): void {
    this.count(true, 'released', count);
  }

  /** Adds the pass's counts to the counter (the sampler calls it at the end of each pass). */
  updateGauges(): void {
    // Called at the end of every sampler pass: the tally is walked only when records were counted since.
    if (!this.tallied) return;
    this.tallied = false;
    for (const [reason, t] of this.tally) {
      if (t[0] > 0) this.counted.inc({ decision: 'kept', reason }, t[0]);
      if (t[1] > 0) this.counted.inc({ decision: 'dropped', reason }, t[1]);
      t[0] = t[1] = 0;
    }
  }

  private count(kept: boolean, reason: LogReason, n: number): void {
    (this.tally.get(reason) as [number, number])[kept ? 0 : 1] += n;
    this.tallied = true;
  }

  /** A record that follows no trace, by the `logs:` section; true when kept. */
  private decideAlone(
    policy: SamplingPolicy,
    logs: WireLogs,
    i: number,
    traceId: string,
    kept: KeptBatch,
    reason: LogReason,
    share: number,
  ): boolean {
    const logsPolicy = policy.logs;
    let weight: number | undefined;
    if (logsPolicy !== undefined) {
      const d = logsPolicy.decide(new WireLogView(logs, i), logs, i, traceId);
      if (!d.keep) {
        this.count(false, reason, 1);
        return false;
      }
      weight = d.weight;
    }
    addKeptLog(kept.logs, logs, i, weight);
    kept.logBytes += share;
    this.count(true, reason, 1);
    return true;
  }
}
