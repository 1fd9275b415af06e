import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SentinelError } from '../src/errors.js';
import { findAttribute } from '../src/otlp/index.js';
import type {
  InstrumentationScope,
  Resource,
  Span,
  TraceBatch,
  TraceConsumer,
  TraceData,
} from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import {
  DEFAULT_HASH_SALT,
  hashTraceId,
  saltState,
  thresholdFor,
  traceRandomness,
} from '../src/sampling/probabilistic.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, keepAllPolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import { evaluationErrorObserver } from '../src/sampling/policy-file-source.js';
import { getOtValue, setOtValues } from '../src/sampling/tracestate.js';
import type { SamplingPolicy, TraceDecision } from '../src/sampling/sampling-policy.js';
import { SPAN_OVERHEAD_BYTES, TRACE_OVERHEAD_BYTES } from '../src/sampling/trace-buffer.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { ManualClock } from '../src/clock.js';
import { makeSpan } from './helpers/edge-spans.js';

// ---- builders ---------------------------------------------------------------------------------

const MS = 1_000_000n;

function span(
  traceId: string,
  spanId: string,
  opts: Partial<Span> & { startMs?: number; durMs?: number } = {},
): Span {
  const start = BigInt(opts.startMs ?? 0) * MS + 1_700_000_000_000n * MS;
  return makeSpan({
    traceId,
    spanId,
    traceState: opts.traceState ?? '',
    parentSpanId: opts.parentSpanId ?? '',
    flags: opts.flags ?? 0,
    name: opts.name ?? 'op',
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(opts.durMs ?? 10) * MS,
    attributes: opts.attributes ?? [],
    status: opts.status ?? { code: 0, message: '' },
  });
}

function resource(service: string): Resource {
  return {
    attributes: [{ key: 'service.name', value: { kind: 'string', value: service } }],
    droppedAttributesCount: 0,
  };
}

function scope(name: string): InstrumentationScope {
  return { name, version: '1.0', attributes: [], droppedAttributesCount: 0 };
}

function batchOf(
  groups: Array<{ resource: Resource; scope: InstrumentationScope; spans: Span[] }>,
  bytesPerSpan = 100,
) {
  const data: TraceData = {
    resourceSpans: groups.map((g) => ({
      resource: g.resource,
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeSpans: [{ scope: g.scope, spans: g.spans, schemaUrl: '' }],
    })),
  };
  const spanCount = groups.reduce((n, g) => n + g.spans.length, 0);
  return { data, spanCount, bytes: spanCount * bytesPerSpan } satisfies TraceBatch;
}

/**
 * Trace ids as SDKs make them: random. (Ids that differ only in their last byte hash to nearly the same
 * high bits under FNV, in the Collector as here; real ids are random in at least their last 7 bytes.)
 */
function tid(n: number): string {
  let x = (n * 0x9e3779b1) >>> 0;
  let out = '';
  for (let i = 0; i < 4; i++) {
    // mulberry32 steps seeded by n: deterministic, well spread.
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out += ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  }
  return out;
}
const sid = (n: number) => n.toString(16).padStart(16, '0');

function policyFrom(yaml: string): SamplingPolicy {
  const parsed = parsePolicyText(yaml);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return compilePolicy(parsed.config);
}

function weightOf(s: Span): number | undefined {
  const v = findAttribute(s.attributes, 'sampling.weight');
  return v?.kind === 'double' ? v.value : undefined;
}

interface Harness {
  sampler: TailSampler;
  out: CollectingConsumer;
  clock: ManualClock;
  metrics: Metrics;
  decisions: Map<string, TraceDecision>;
}

function harness(
  policy: SamplingPolicy,
  opts: { waitMs?: number; maxTraces?: number; maxBytes?: number; next?: TraceConsumer } = {},
): Harness {
  const out = new CollectingConsumer();
  const clock = new ManualClock();
  const metrics = new Metrics();
  const decisions = new Map<string, TraceDecision>();
  const sampler = new TailSampler({
    next: opts.next ?? out,
    policySource: staticPolicySource(policy),
    metrics,
    logger: silentLogger(),
    decisionWaitMs: opts.waitMs ?? 10_000,
    maxTraces: opts.maxTraces ?? 50_000,
    maxBufferedBytes: opts.maxBytes ?? 64 * 1024 * 1024,
    clock,
    retryDelayMs: 500,
    onDecision: (id, d) => decisions.set(id, d),
  });
  return { sampler, out, clock, metrics, decisions };
}

const ERRORS_AND_TEN_PERCENT = `
policies:
  - name: errors
    type: status_code
    status_code: {status_codes: [ERROR]}
  - name: ten-percent
    type: probabilistic
    probabilistic: {sampling_percentage: 10}
`;

// ---- tests ------------------------------------------------------------------------------------

void describe('trace buffer and decision timing', () => {
  void test('holds a trace until decision_wait after its first span, then hands on the whole trace', async () => {
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { waitMs: 10_000 });
    const r = resource('checkout');
    const sc = scope('http');
    await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans: [span(tid(1), sid(1))] }]));
    h.clock.advance(4_000);
    await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans: [span(tid(1), sid(2))] }]));
    h.clock.advance(5_999);
    await h.sampler.drain();
    assert.equal(h.out.spanCount(), 0, 'nothing before decision_wait has passed since the first span');
    assert.equal(h.sampler.stats().traces, 1);
    h.clock.advance(1);
    await h.sampler.drain();
    assert.equal(h.out.spanCount(), 2);
    assert.equal(h.sampler.stats().traces, 0);
    assert.equal(
      await h.metrics.value('sampling_decisions_total', { policy: 'all', decision: 'sampled' }),
      1,
    );
  });

  void test('a tick also decides the traces due within 1 % of decision_wait after it, in one pass', async () => {
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { waitMs: 10_000 });
    const r = resource('checkout');
    const sc = scope('http');
    let t = 0;
    for (const [n, at] of [
      [1, 0],
      [2, 60],
      [3, 100],
      [4, 101],
    ] as const) {
      h.clock.advance(at - t);
      t = at;
      await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans: [span(tid(n), sid(n))] }]));
    }
    h.clock.advance(9_999 - t);
    await h.sampler.drain();
    assert.equal(h.decisions.size, 0, 'nothing before the first trace is due');
    h.clock.advance(1);
    await h.sampler.drain();
    assert.deepEqual(
      [...h.decisions.keys()],
      [tid(1), tid(2), tid(3)],
      'due at 10,000, 10,060 and 10,100 ms',
    );
    assert.equal(h.out.batches.length, 1, 'one kept batch for the tick');
    h.clock.advance(100);
    await h.sampler.drain();
    assert.equal(h.decisions.size, 3, 'the fourth is due at 10,101 ms');
    h.clock.advance(1);
    await h.sampler.drain();
    assert.equal(h.decisions.size, 4);
  });

  void test('regroups kept spans under the very Resource and InstrumentationScope objects they arrived with', async () => {
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { waitMs: 1000 });
    const rA = resource('a');
    const rB = resource('b');
    const s1 = scope('one');
    const s2 = scope('two');
    await h.sampler.consume(
      batchOf([
        { resource: rA, scope: s1, spans: [span(tid(1), sid(1)), span(tid(2), sid(2))] },
        { resource: rB, scope: s2, spans: [span(tid(1), sid(3))] },
      ]),
    );
    await h.sampler.consume(batchOf([{ resource: rA, scope: s1, spans: [span(tid(1), sid(4))] }]));
    h.clock.advance(1000);
    await h.sampler.drain();
    assert.equal(h.out.batches.length, 1, 'traces decided on the same tick travel as one batch');
    const data = h.out.batches[0]?.data as TraceData;
    assert.equal(data.resourceSpans.length, 2);
    const [first, second] = data.resourceSpans;
    // Issue 13: spans travel as bytes, so "the same" resource and scope are the same bytes, not objects.
    assert.deepEqual(first?.resource, rA, 'same Resource');
    assert.deepEqual(first?.scopeSpans[0]?.scope, s1, 'same scope');
    assert.equal(first?.schemaUrl, 'https://opentelemetry.io/schemas/1.26.0');
    assert.deepEqual(
      first?.scopeSpans[0]?.spans.map((s) => s.spanId),
      [sid(1), sid(4), sid(2)],
    );
    assert.deepEqual(second?.resource, rB);
    assert.deepEqual(
      second?.scopeSpans[0]?.spans.map((s) => s.spanId),
      [sid(3)],
    );
    assert.equal(h.out.batches[0]?.spanCount, 4);
    assert.equal(h.out.batches[0]?.bytes, 400, 'bytes shared out by span count');
  });

  void test('decides the oldest traces early when num_traces is reached, counts it, and never drops one unjudged', async () => {
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { maxTraces: 3 });
    const r = resource('a');
    const sc = scope('s');
    for (let i = 1; i <= 5; i++) {
      await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans: [span(tid(i), sid(i))] }]));
      h.clock.advance(10);
    }
    await h.sampler.drain();
    assert.equal(h.sampler.stats().traces, 3);
    assert.deepEqual(
      h.out.spans().map((s) => s.traceId),
      [tid(1), tid(2)],
      'the two oldest were decided (and kept) to make room',
    );
    assert.equal(await h.metrics.value('sampling_early_decisions_total', { reason: 'num_traces' }), 2);
    await h.sampler.forceFlush();
    assert.equal(h.out.spanCount(), 5, 'flush decides the rest');
  });

  void test('decides a burst of due traces in slices of at most 1,000 per timer callback', async () => {
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { waitMs: 1000 });
    const spans = Array.from({ length: 2500 }, (_, i) => span(tid(i + 1), sid(i + 1)));
    await h.sampler.consume(batchOf([{ resource: resource('a'), scope: scope('s'), spans }]));
    h.clock.advance(1000);
    await h.sampler.drain();
    assert.deepEqual(
      h.out.batches.map((b) => b.spanCount),
      [1000, 1000, 500],
    );
    assert.equal(h.sampler.stats().traces, 0);
  });

  void test('decides the oldest traces early when the buffered bytes pass max_buffered_bytes', async () => {
    // A trace holds its spans' bytes plus its index (issue 13): 300 + TRACE_OVERHEAD_BYTES + 3 x SPAN_OVERHEAD_BYTES.
    const perTrace = 300 + TRACE_OVERHEAD_BYTES + 3 * SPAN_OVERHEAD_BYTES;
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), {
      maxBytes: 3 * perTrace + 10,
    });
    const r = resource('a');
    const sc = scope('s');
    for (let i = 1; i <= 4; i++) {
      const spans = [span(tid(i), sid(i * 10)), span(tid(i), sid(i * 10 + 1)), span(tid(i), sid(i * 10 + 2))];
      await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans }], 100));
    }
    // 4 traces do not fit in the room for 3: the oldest goes early.
    assert.ok(h.sampler.stats().bytes <= 3 * perTrace + 10);
    assert.equal(h.sampler.stats().traces, 3);
    assert.equal(await h.metrics.value('sampling_early_decisions_total', { reason: 'memory' }), 1);
    await h.sampler.drain();
    assert.equal(h.out.spanCount(), 3);
  });

  void test('bufferedBytes counts what the sampler holds plus what the next stage holds', async () => {
    const out = new CollectingConsumer();
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { waitMs: 100, next: out });
    out.stall();
    const r = resource('a');
    const sc = scope('s');
    await h.sampler.consume(
      batchOf([{ resource: r, scope: sc, spans: [span(tid(1), sid(1)), span(tid(2), sid(2))] }]),
    );
    // The spans' share of their batch, plus the index of two traces of one span (issue 13).
    const index = 2 * (TRACE_OVERHEAD_BYTES + SPAN_OVERHEAD_BYTES);
    assert.equal(h.sampler.bufferedBytes(), 200 + index);
    h.clock.advance(100);
    // Decided and handed on: the stalled next stage now holds it.
    assert.equal(h.sampler.bufferedBytes(), 200 + 200, 'own outbox plus the next stage, until it is taken');
    out.resume();
    await h.sampler.drain();
    assert.equal(h.sampler.bufferedBytes(), 0);
  });

  void test('offers a refused kept batch again after the retry delay instead of losing it', async () => {
    let refusals = 1;
    const out = new CollectingConsumer();
    const flaky: TraceConsumer = {
      consume: async (b) => {
        if (refusals-- > 0) throw new SentinelError('SENTINEL_ERR_MEMORY_LIMIT', 'full');
        await out.consume(b);
      },
      bufferedBytes: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), {
      waitMs: 100,
      next: flaky,
    });
    await h.sampler.consume(
      batchOf([{ resource: resource('a'), scope: scope('s'), spans: [span(tid(1), sid(1))] }]),
    );
    h.clock.advance(100);
    await new Promise((r) => setImmediate(r));
    assert.equal(out.spanCount(), 0);
    assert.equal(await h.metrics.value('sampling_forward_failures_total'), 1);
    h.clock.advance(500);
    await h.sampler.drain();
    assert.equal(out.spanCount(), 1);
  });

  void test('shutdown decides every pending trace, delivers it, refuses new spans and shuts the next stage down', async () => {
    let nextShutdown = 0;
    const out = new CollectingConsumer();
    const next: TraceConsumer = {
      consume: (b) => out.consume(b),
      bufferedBytes: () => out.bufferedBytes(),
      forceFlush: async () => {},
      shutdown: async () => {
        nextShutdown++;
      },
    };
    const h = harness(policyFrom('policies: [{name: all, type: always_sample}]'), { next });
    await h.sampler.consume(
      batchOf([{ resource: resource('a'), scope: scope('s'), spans: [span(tid(7), sid(1))] }]),
    );
    await Promise.all([h.sampler.shutdown(), h.sampler.shutdown()]);
    assert.equal(out.spanCount(), 1);
    assert.equal(nextShutdown, 1, 'runs once');
    assert.equal(h.clock.pendingTimers(), 0, 'no timer left behind');
    await assert.rejects(
      h.sampler.consume(
        batchOf([{ resource: resource('a'), scope: scope('s'), spans: [span(tid(8), sid(1))] }]),
      ),
      (err: unknown) => err instanceof SentinelError && err.code === 'SENTINEL_ERR_SHUTTING_DOWN',
    );
  });

  void test('with no policy file every span passes straight through with weight 1', async () => {
    const h = harness(keepAllPolicy);
    const s = span(tid(1), sid(1));
    await h.sampler.consume(batchOf([{ resource: resource('a'), scope: scope('s'), spans: [s] }]));
    assert.equal(h.out.spanCount(), 1, 'no waiting when everything is kept');
    assert.equal(weightOf(h.out.spans()[0]!), 1);
    assert.equal(h.out.spans()[0]?.spanId, s.spanId);
    assert.equal(h.sampler.stats().traces, 0);
  });
});

void describe('decision cache and late spans', () => {
  void test('late spans follow their trace’s decision, kept or dropped, and are counted', async () => {
    const h = harness(policyFrom(ERRORS_AND_TEN_PERCENT), { waitMs: 1000 });
    const r = resource('a');
    const sc = scope('s');
    // Find one id the hash keeps and one it drops.
    let keptId = '';
    let droppedId = '';
    const salt = saltState(DEFAULT_HASH_SALT);
    const t = thresholdFor(0.1);
    for (let i = 1; (keptId === '' || droppedId === '') && i < 10_000; i++) {
      const r56 = traceRandomness(salt, tid(i));
      const keep = r56.hi > t.hi || (r56.hi === t.hi && r56.lo >= t.lo);
      if (keep && keptId === '') keptId = tid(i);
      if (!keep && droppedId === '') droppedId = tid(i);
    }
    const errorId = tid(0xabcdef);
    await h.sampler.consume(
      batchOf([
        {
          resource: r,
          scope: sc,
          spans: [
            span(keptId, sid(1)),
            span(droppedId, sid(2)),
            span(errorId, sid(3), { status: { code: 2, message: 'boom' } }),
          ],
        },
      ]),
    );
    h.clock.advance(1000);
    await h.sampler.drain();
    assert.equal(h.out.spanCount(), 2);
    const late = [span(keptId, sid(11)), span(droppedId, sid(12)), span(errorId, sid(13))];
    h.clock.advance(30_000);
    await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans: late }]));
    await h.sampler.drain();
    assert.equal(h.sampler.stats().traces, 0, 'late spans do not start new traces');
    const ids = h.out.spans().map((s) => s.spanId);
    assert.ok(ids.includes(sid(11)) && ids.includes(sid(13)) && !ids.includes(sid(12)));
    assert.equal(
      weightOf(h.out.spans().find((s) => s.spanId === sid(11))!),
      weightOf(h.out.spans()[0] as Span),
      'late span carries the same weight',
    );
    assert.equal(weightOf(h.out.spans().find((s) => s.spanId === sid(13))!), 1);
    assert.equal(await h.metrics.value('sampling_late_spans_total', { decision: 'sampled' }), 2);
    assert.equal(await h.metrics.value('sampling_late_spans_total', { decision: 'not_sampled' }), 1);
  });
});

void describe('policy evaluation errors', () => {
  void test('a policy that throws is skipped for that trace and counted; the others still decide', () => {
    const parsed = parsePolicyText(`
policies:
  - {name: by-attribute, type: string_attribute, string_attribute: {key: k, values: [v]}}
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
`);
    assert.ok(parsed.ok);
    if (!parsed.ok) return;
    const metrics = new Metrics();
    const policy = compilePolicy(parsed.config, evaluationErrorObserver(metrics, silentLogger()));
    // A span whose attributes are not a list (a bug elsewhere) makes the attribute policy throw.
    const broken = span(tid(1), sid(1), { status: { code: 2, message: '' } });
    (broken as { attributes: unknown }).attributes = undefined;
    const origin = { resource: resource('a'), resourceSchemaUrl: '', scope: scope('s'), scopeSchemaUrl: '' };
    const d = policy.decide(
      { traceId: tid(1), firstSeenMs: 0, spans: [broken], origins: [origin], bytes: 0 },
      0,
    );
    assert.deepEqual([d.keep, d.policy], [true, 'errors']);
    return metrics.value('sampling_policy_evaluation_errors_total', { policy: 'by-attribute' }).then((v) => {
      assert.equal(v, 1);
    });
  });
});

void describe('weights and tracestate', () => {
  void test('rule keeps get weight 1; probabilistic keeps get 1/p and ot=th/rv, other tracestate entries kept', async () => {
    const h = harness(policyFrom(ERRORS_AND_TEN_PERCENT), { waitMs: 1000 });
    const r = resource('a');
    const sc = scope('s');
    const spans: Span[] = [];
    for (let i = 1; i <= 400; i++) {
      spans.push(
        span(tid(i), sid(i), {
          traceState: 'vendor=abc,ot=foo:bar',
          attributes: [{ key: 'sampling.weight', value: { kind: 'double', value: 99 } }],
          ...(i % 40 === 0 ? { status: { code: 2, message: '' } } : {}),
        }),
      );
    }
    await h.sampler.consume(batchOf([{ resource: r, scope: sc, spans }]));
    h.clock.advance(1000);
    await h.sampler.drain();
    const kept = h.out.spans();
    const errors = kept.filter((s) => s.status.code === 2);
    const sampled = kept.filter((s) => s.status.code !== 2);
    assert.equal(errors.length, 10, 'every error trace kept');
    assert.ok(sampled.length > 10 && sampled.length < 80);
    for (const s of errors) {
      assert.equal(weightOf(s), 1);
      assert.equal(h.decisions.get(s.traceId)?.reason, 'rule');
      assert.equal(h.decisions.get(s.traceId)?.policy, 'errors');
    }
    for (const s of sampled) {
      assert.ok(Math.abs((weightOf(s) as number) - 10) < 1e-9);
      assert.equal(
        s.attributes.filter((a) => a.key === 'sampling.weight').length,
        1,
        'replaced, not duplicated',
      );
      assert.equal(getOtValue(s.traceState, 'th'), 'e6666666666668');
      assert.ok(s.traceState.startsWith('ot=th:e6666666666668;rv:'), s.traceState);
      assert.ok(s.traceState.includes('foo:bar') && s.traceState.endsWith(',vendor=abc'), s.traceState);
      const rv = BigInt('0x' + (getOtValue(s.traceState, 'rv') as string));
      assert.ok(rv >= 0xe6666666666668n, 'R >= T holds for every probabilistic keep');
      assert.equal(h.decisions.get(s.traceId)?.reason, 'probabilistic');
    }
  });

  void test('an and of a rule with a probabilistic policy keeps with that policy’s weight', async () => {
    const h = harness(
      policyFrom(`
policies:
  - name: svc-quarter
    type: and
    and:
      and_sub_policy:
        - {name: svc, type: string_attribute, string_attribute: {key: service.name, values: [checkout]}}
        - {name: quarter, type: probabilistic, probabilistic: {sampling_percentage: 25}}
`),
      { waitMs: 10 },
    );
    const spans = Array.from({ length: 200 }, (_, i) => span(tid(i + 1), sid(i + 1)));
    await h.sampler.consume(batchOf([{ resource: resource('checkout'), scope: scope('s'), spans }]));
    await h.sampler.consume(
      batchOf([{ resource: resource('other'), scope: scope('s'), spans: [span(tid(9999), sid(9999))] }]),
    );
    h.clock.advance(10);
    await h.sampler.drain();
    const kept = h.out.spans();
    assert.ok(kept.length > 20 && kept.length < 80, `${kept.length} of 200 at 25 %`);
    assert.ok(kept.every((s) => weightOf(s) === 4 && s.traceState.startsWith('ot=th:c')));
    assert.ok(!kept.some((s) => s.traceId === tid(9999)));
  });
});

void describe('consistent probabilistic hash', () => {
  void test('is FNV-1a 64 over the salt and the 16 trace-id bytes, as the Collector computes it', () => {
    // FNV-1a 64 test vector: "a" -> af63dc4c8601ec8c.
    const a = saltState('a');
    assert.equal(a.hi.toString(16) + a.lo.toString(16).padStart(8, '0'), 'af63dc4c8601ec8c');
    // Hashing salt then id bytes equals hashing the concatenation.
    const id = '0102030405060708090a0b0c0d0e0f10';
    const h1 = hashTraceId(saltState('salt'), id);
    const concat = Buffer.concat([Buffer.from('salt'), Buffer.from(id, 'hex')]).toString('latin1');
    const h2 = saltState(concat);
    assert.deepEqual(h1, h2);
  });

  void test('hash_salt picks an independent set of traces; the same salt always picks the same one', () => {
    const pct = (salt: string) =>
      policyFrom(
        `policies: [{name: p, type: probabilistic, probabilistic: {sampling_percentage: 30, hash_salt: "${salt}"}}]`,
      );
    const a1 = pct('a');
    const a2 = pct('a');
    const b = pct('b');
    let same = 0;
    let both = 0;
    let kept = 0;
    for (let i = 1; i <= 4000; i++) {
      const t = { traceId: tid(i), firstSeenMs: 0, spans: [], origins: [], bytes: 0 };
      const ka = a1.decide(t, 0).keep;
      if (ka === a2.decide(t, 0).keep) same++;
      const kb = b.decide(t, 0).keep;
      if (ka) kept++;
      if (ka && kb) both++;
    }
    assert.equal(same, 4000);
    // Independent 30 % draws overlap on about 9 % of traces, nested ones would on 30 %.
    assert.ok(kept > 1000 && kept < 1400, `${kept}`);
    assert.ok(both > 250 && both < 470, `${both} kept by both salts`);
  });

  void test('thresholds follow the OpenTelemetry th encoding', () => {
    assert.equal(thresholdFor(1).th, '0');
    assert.equal(thresholdFor(0.5).th, '8');
    assert.equal(thresholdFor(0.25).th, 'c');
    assert.equal(thresholdFor(0.1).th, 'e6666666666668');
  });
});

void describe('tracestate editing', () => {
  void test('sets ot sub-keys, moves ot to the front and keeps the other members and sub-keys', () => {
    assert.equal(setOtValues('', [['th', '8']]), 'ot=th:8');
    assert.equal(setOtValues('a=1, ot=th:c;x:y ,b=2', [['th', '8']]), 'ot=th:8;x:y,a=1,b=2');
    const many = Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(',');
    const out = setOtValues(many, [['th', '0']]);
    assert.equal(out.split(',').length, 32, 'at most 32 members');
    assert.ok(out.startsWith('ot=th:0,k0=v'));
  });
});
