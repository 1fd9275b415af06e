/**
 * Issue 9, the agent's half: dropped traces are held for the completion window and released, marked
 * `sampling.completed`, when the decision feed names them; what the local policy keeps is unchanged.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findAttribute } from '../src/otlp/index.js';
import type { Span, TraceBatch } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { HoldBuffer } from '../src/sampling/completion/hold-buffer.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import type { BufferedTrace } from '../src/sampling/buffered-trace.js';
import type { SamplingPolicy, TraceDecision } from '../src/sampling/sampling-policy.js';
import { heldPartBytes, holdSpans } from '../src/sampling/completion/hold-buffer.js';
import { makeSpan, serviceSpans } from './helpers/edge-spans.js';
import { scannedSpans } from './helpers/held-spans.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { ManualClock } from '../src/clock.js';

const POLICY = `
policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: no-health
    type: drop
    drop:
      drop_sub_policy:
        - name: health-route
          type: string_attribute
          string_attribute: { key: http.route, values: [/healthz] }
  - name: five-percent
    type: probabilistic
    probabilistic: { sampling_percentage: 5 }
`;

function policy(): SamplingPolicy {
  const parsed = parsePolicyText(POLICY);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return compilePolicy(parsed.config);
}

let counter = 0;
function span(traceId: string, opts: { error?: boolean; route?: string } = {}): Span {
  counter++;
  return makeSpan({
    traceId,
    spanId: counter.toString(16).padStart(16, '0'),
    attributes: opts.route ? [{ key: 'http.route', value: { kind: 'string', value: opts.route } }] : [],
    status: { code: opts.error ? 2 : 0, message: '' },
  });
}

function batch(spans: Span[], bytesPerSpan = 1000): TraceBatch {
  return {
    data: { resourceSpans: [serviceSpans('frontend', spans)] },
    spanCount: spans.length,
    bytes: spans.length * bytesPerSpan,
  };
}

/** Trace ids the 5 % hash keeps and drops (the decision depends on the id alone). */
function idsBy(p: SamplingPolicy, keep: boolean, n: number): string[] {
  const out: string[] = [];
  for (let i = 1; out.length < n; i++) {
    const id = (i * 2654435761).toString(16).padStart(16, '0') + i.toString(16).padStart(16, 'a');
    const t: BufferedTrace = { traceId: id, firstSeenMs: 0, spans: [span(id)], origins: [], bytes: 0 };
    if (p.decide(t, 0).keep === keep) out.push(id);
  }
  return out;
}

function setup(opts: { windowMs?: number; maxBytes?: number } = {}) {
  const clock = new ManualClock();
  const out = new CollectingConsumer();
  const metrics = new Metrics();
  const decisions: Array<[string, TraceDecision]> = [];
  const sampler = new TailSampler({
    next: out,
    policySource: staticPolicySource(policy()),
    metrics,
    logger: silentLogger(),
    decisionWaitMs: 1000,
    maxTraces: 10_000,
    maxBufferedBytes: 1 << 30,
    clock,
    onDecision: (id, d) => decisions.push([id, d]),
    completion: { windowMs: opts.windowMs ?? 30_000, maxBytes: opts.maxBytes ?? 1 << 30 },
  });
  return { clock, out, metrics, sampler, decisions };
}

const weightOf = (s: Span) => {
  const v = findAttribute(s.attributes, 'sampling.weight');
  return v?.kind === 'double' ? v.value : undefined;
};
const completedOf = (s: Span) => findAttribute(s.attributes, 'sampling.completed')?.kind === 'bool';

const P = policy();
const DROPPED = idsBy(P, false, 40);
const PROB_KEPT = idsBy(P, true, 4);

describe('completion: hold, then release on the feed', () => {
  test('a dropped trace is held, and the feed releases it whole with weight 1 and sampling.completed', async () => {
    const { clock, out, metrics, sampler } = setup();
    const id = DROPPED[0]!;
    await sampler.consume(batch([span(id), span(id)]));
    clock.advance(1000);
    await sampler.drain();
    assert.equal(out.spanCount(), 0, 'the local policy dropped it');
    assert.equal(sampler.stats().held.spans, 2);

    assert.equal(sampler.release([id]), 2);
    await sampler.drain();
    const spans = out.spans();
    assert.equal(spans.length, 2);
    for (const s of spans) {
      assert.equal(weightOf(s), 1);
      assert.equal(completedOf(s), true);
    }
    assert.equal(sampler.stats().held.spans, 0);
    assert.equal(await metrics.value('sampling_completion_released_spans_total', { from: 'held' }), 2);

    // Named again (a second replica, a reset feed): nothing is exported twice.
    assert.equal(sampler.release([id]), 0);
    await sampler.drain();
    assert.equal(out.spanCount(), 2);
    assert.equal(await metrics.value('sampling_completion_feed_ids_total', { state: 'kept' }), 1);
  });

  test('traces of 5, 1 and 3 spans held one after another are each released with exactly their own spans', async () => {
    const { clock, out, sampler } = setup();
    const [a, b, c] = [DROPPED[10]!, DROPPED[11]!, DROPPED[12]!];
    const spansOf = {
      [a]: [span(a), span(a), span(a), span(a), span(a)],
      [b]: [span(b)],
      [c]: [span(c), span(c), span(c)],
    };
    for (const id of [a, b, c]) await sampler.consume(batch(spansOf[id]!));
    clock.advance(1000);
    await sampler.drain();
    assert.equal(sampler.stats().held.spans, 9);
    for (const id of [c, b, a]) {
      const before = out.spanCount();
      assert.equal(sampler.release([id]), spansOf[id]!.length);
      await sampler.drain();
      const got = out.spans().slice(before);
      assert.deepEqual(
        got.map((s) => [s.traceId, s.spanId]),
        spansOf[id]!.map((s) => [s.traceId, s.spanId]),
      );
    }
  });

  test('the buffer and hold gauges show the sampler as it is when scraped', async () => {
    const { clock, metrics, sampler } = setup();
    const id = DROPPED[20]!;
    await sampler.consume(batch([span(id), span(id), span(id)]));
    assert.equal(await metrics.value('sampling_buffered_traces'), 1);
    assert.equal(await metrics.value('sampling_buffered_spans'), 3);
    assert.equal(await metrics.value('sampling_buffered_bytes'), sampler.stats().bytes);
    assert.equal(await metrics.value('sampling_completion_held_spans'), 0);
    clock.advance(1000);
    await sampler.drain();
    assert.equal(await metrics.value('sampling_buffered_traces'), 0);
    assert.equal(await metrics.value('sampling_buffered_spans'), 0);
    assert.equal(await metrics.value('sampling_completion_held_spans'), 3);
    assert.equal(await metrics.value('sampling_completion_held_bytes'), sampler.stats().held.bytes);
    assert.ok(sampler.stats().held.bytes > 0);
    sampler.release([id]);
    await sampler.drain();
    assert.equal(await metrics.value('sampling_completion_held_spans'), 0);
  });

  test('late spans of a released trace are kept as completed; late spans of a held trace wait with it', async () => {
    const { clock, out, sampler } = setup();
    const [a, b] = [DROPPED[1]!, DROPPED[2]!];
    await sampler.consume(batch([span(a), span(b)]));
    clock.advance(1000);
    await sampler.consume(batch([span(b)])); // late, b still held
    assert.equal(sampler.stats().held.spans, 3);
    sampler.release([a, b]);
    await sampler.consume(batch([span(a)])); // late, after the release
    await sampler.drain();
    const spans = out.spans();
    assert.equal(spans.length, 4);
    assert.ok(spans.every(completedOf));
    assert.equal(new Set(spans.map((s) => s.spanId)).size, 4, 'no span twice');
  });

  test('a trace still waiting for its decision is kept when the feed names it, unless the local policy keeps it', async () => {
    const { clock, out, sampler, decisions } = setup();
    const dropped = DROPPED[3]!;
    const probKept = PROB_KEPT[0]!;
    await sampler.consume(batch([span(dropped), span(probKept)]));
    sampler.release([dropped, probKept]);
    clock.advance(1000);
    await sampler.drain();
    const byTrace = new Map(out.spans().map((s) => [s.traceId, s]));
    assert.equal(completedOf(byTrace.get(dropped)!), true);
    assert.equal(weightOf(byTrace.get(dropped)!), 1);
    // The local probabilistic keep is untouched: its weight stays 1/p, no completed mark.
    assert.equal(completedOf(byTrace.get(probKept)!), false);
    assert.ok(Math.abs(weightOf(byTrace.get(probKept)!)! - 20) < 1e-9, 'weight 1/p of the 5 % policy');
    const reasons = new Map(decisions.map(([id, d]) => [id, d.reason]));
    assert.equal(reasons.get(dropped), 'completed');
    assert.equal(reasons.get(probKept), 'probabilistic');
  });

  test('spans of a trace the feed named before this agent saw it are kept for one window', async () => {
    const { clock, out, sampler } = setup({ windowMs: 30_000 });
    const [soon, tooLate] = [DROPPED[4]!, DROPPED[5]!];
    sampler.release([soon, tooLate]);
    await sampler.consume(batch([span(soon)]));
    clock.advance(29_500);
    await sampler.consume(batch([span(tooLate)]));
    clock.advance(2000); // tooLate is decided 30.5 s after the feed named it
    await sampler.drain();
    const kept = out.spans().map((s) => s.traceId);
    assert.deepEqual(kept, [soon]);
  });

  test('a trace a drop policy dropped is never held nor completed', async () => {
    const { clock, out, sampler } = setup();
    const id = DROPPED[6]!;
    await sampler.consume(batch([span(id, { route: '/healthz' })]));
    clock.advance(1000);
    assert.equal(sampler.stats().held.spans, 0);
    assert.equal(sampler.release([id]), 0);
    await sampler.drain();
    assert.equal(out.spanCount(), 0);
  });

  test('held traces leave after the window, and the oldest leave first past max_bytes, counted', async () => {
    // Held traces count their span bytes and index (issue 13), not the batch's estimate: measure one.
    const probe = setup();
    await probe.sampler.consume(batch([span(DROPPED[10]!)], 1000));
    probe.clock.advance(1000);
    const perTrace = probe.sampler.stats().held.bytes;
    assert.ok(perTrace > 0 && perTrace < 1000, `one held span: ${perTrace} bytes`);
    const { clock, sampler, metrics } = setup({ windowMs: 30_000, maxBytes: Math.floor(3.5 * perTrace) });
    for (const id of DROPPED.slice(10, 14)) await sampler.consume(batch([span(id)], 1000));
    clock.advance(1000);
    // 4 traces of perTrace bytes in 3.5 x perTrace: the oldest had to go.
    assert.equal(sampler.stats().held.traces, 3);
    clock.advance(5000);
    assert.equal(await metrics.value('sampling_completion_held_oldest_seconds'), 5);
    assert.equal(await metrics.value('sampling_completion_evicted_spans_total', { reason: 'bytes' }), 1);
    assert.equal(sampler.release([DROPPED[10]!]), 0, 'the evicted trace cannot be released');
    clock.advance(30_000);
    assert.equal(sampler.stats().held.traces, 0);
    assert.equal(await metrics.value('sampling_completion_evicted_spans_total', { reason: 'age' }), 3);
    assert.equal(await metrics.value('sampling_completion_held_bytes'), 0);
  });

  test('traces held at different times each leave one window after they were held (one timer, set again when it fires)', async () => {
    const { clock, sampler } = setup({ windowMs: 30_000 });
    // Held about 1-2 s after they come (decision_wait and the decision tick): at about 1, 21 and 41 s.
    await sampler.consume(batch([span(DROPPED[30]!)]));
    clock.advance(20_000);
    await sampler.consume(batch([span(DROPPED[31]!)]));
    clock.advance(20_000);
    await sampler.consume(batch([span(DROPPED[32]!)]));
    clock.advance(3000); // 43 s
    assert.equal(sampler.stats().held.traces, 2, 'the first left at about 31 s');
    clock.advance(10_000); // 53 s
    assert.equal(sampler.stats().held.traces, 1, 'the second at about 51 s');
    clock.advance(20_000); // 73 s
    assert.equal(sampler.stats().held.traces, 0, 'the third at about 71 s');
  });

  test('only rule keeps are reported as rule; completed and probabilistic keeps are not', async () => {
    const { clock, sampler, decisions } = setup();
    const err = DROPPED[20]!;
    await sampler.consume(batch([span(err, { error: true }), span(PROB_KEPT[1]!)]));
    clock.advance(1000);
    const reasons = new Map(decisions.map(([id, d]) => [id, d.reason]));
    assert.equal(reasons.get(err), 'rule');
    assert.equal(reasons.get(PROB_KEPT[1]!), 'probabilistic');
  });

  test('shutdown empties the completion buffer and ignores the feed', async () => {
    const { clock, sampler } = setup();
    await sampler.consume(batch([span(DROPPED[21]!)]));
    clock.advance(1000);
    assert.equal(sampler.stats().held.traces, 1);
    await sampler.shutdown();
    assert.equal(sampler.stats().held.traces, 0);
    assert.equal(sampler.release([DROPPED[21]!]), 0);
  });
});

describe('HoldBuffer', () => {
  test('keeps a trace’s age when late spans join it, and expires in hold order', () => {
    const evicted: string[] = [];
    const hold = new HoldBuffer({ windowMs: 10, maxBytes: 10_000, onEvict: (t) => evicted.push(t.traceId) });
    // One held span of 10 bytes (issue 13: held spans are their bytes plus a small index).
    const part = () => holdSpans([scannedSpans([10])], [0]);
    const bytes = heldPartBytes(part());
    hold.add('a', part(), 0);
    hold.add('b', part(), 5);
    hold.add('a', part(), 8);
    assert.deepEqual(hold.stats, { traces: 2, spans: 3, bytes: 3 * bytes });
    hold.expire(10);
    assert.deepEqual(evicted, ['a']);
    assert.equal(hold.nextExpiryMs(), 15);
    assert.equal(hold.take('b')?.spanCount, 1);
    assert.deepEqual(hold.stats, { traces: 0, spans: 0, bytes: 0 });
  });
});
