/**
 * Issue 4 "Must show": a 10,000-trace scenario on an injected clock, and two independent samplers given
 * different halves of the same traces.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { findAttribute } from '../src/otlp/index.js';
import type { KeyValue, Resource, Span, TraceBatch } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import type { SamplingPolicy, TraceDecision } from '../src/sampling/sampling-policy.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { ManualClock } from '../src/clock.js';
import { makeSpan } from './helpers/edge-spans.js';

const MS = 1_000_000n;
const EPOCH_NS = 1_700_000_000_000n * MS;

/** Deterministic random hex (mulberry32): trace ids are random in real SDKs, and so here. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
function hexId(next: () => number, words: number): string {
  let s = '';
  for (let i = 0; i < words; i++) s += next().toString(16).padStart(8, '0');
  return s;
}

function mkSpan(
  traceId: string,
  spanId: string,
  parent: string,
  startMs: number,
  durMs: number,
  extra: { error?: boolean; attributes?: KeyValue[] } = {},
): Span {
  const start = EPOCH_NS + BigInt(startMs) * MS;
  return makeSpan({
    traceId,
    spanId,
    parentSpanId: parent,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(durMs) * MS,
    attributes: extra.attributes ?? [],
    status: { code: extra.error ? 2 : 0, message: '' },
  });
}

function resourceOf(service: string): Resource {
  return {
    attributes: [{ key: 'service.name', value: { kind: 'string', value: service } }],
    droppedAttributesCount: 0,
  };
}

/** One OTLP request as a receiver would hand it on: a fresh Resource per request, one scope. */
function request(spans: Span[], service: string): TraceBatch {
  return {
    data: {
      resourceSpans: [
        {
          resource: resourceOf(service),
          schemaUrl: '',
          scopeSpans: [
            {
              scope: { name: 'scenario', version: '1', attributes: [], droppedAttributesCount: 0 },
              spans,
              schemaUrl: '',
            },
          ],
        },
      ],
    },
    spanCount: spans.length,
    bytes: spans.length * 250,
  };
}

function policyFromFile(name: string): SamplingPolicy {
  const text = readFileSync(new URL(`./fixtures/policies/${name}`, import.meta.url), 'utf8');
  const parsed = parsePolicyText(text);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return compilePolicy(parsed.config);
}

function weightOf(s: Span): number | undefined {
  const v = findAttribute(s.attributes, 'sampling.weight');
  return v?.kind === 'double' ? v.value : undefined;
}

type Kind = 'error' | 'slow' | 'health' | 'fast';

interface PlannedTrace {
  readonly id: string;
  readonly kind: Kind;
  readonly spanIds: string[];
  readonly late: boolean;
}

interface Arrival {
  readonly atMs: number;
  readonly span: Span;
}

/**
 * 10,000 traces over 20 s: 10 % deep errors (a 6-span chain failing at its leaf), 10 % slow (1.5 s root),
 * 20 % health checks, 60 % fast ones. Children arrive first, the root later (as SDKs export on end), and
 * every tenth trace gets one more span 8 s after its first one, after its decision at 5 s.
 */
function planScenario(): { traces: PlannedTrace[]; arrivals: Arrival[] } {
  const next = rng(4242);
  const traces: PlannedTrace[] = [];
  const arrivals: Arrival[] = [];
  for (let i = 0; i < 10_000; i++) {
    const t0 = i * 2;
    const m = i % 10;
    const kind: Kind = m === 0 ? 'error' : m === 1 ? 'slow' : m === 2 || m === 3 ? 'health' : 'fast';
    const id = hexId(next, 4);
    const root = hexId(next, 2);
    const spanIds = [root];
    const late = i % 20 === 0 || i % 20 === 1 || m === 7;
    const add = (atMs: number, s: Span) => {
      arrivals.push({ atMs, span: s });
    };
    if (kind === 'health') {
      add(t0 + 5, mkSpan(id, root, '', t0, 5, { attributes: [str('url.path', '/healthz')] }));
    } else if (kind === 'error') {
      let parent = root;
      for (let d = 1; d <= 5; d++) {
        const s = hexId(next, 2);
        spanIds.push(s);
        add(t0 + 100, mkSpan(id, s, parent, t0 + d * 5, 80 - d * 10, { error: d === 5 }));
        parent = s;
      }
      add(t0 + 300, mkSpan(id, root, '', t0, 250, { attributes: [str('url.path', '/checkout')] }));
    } else {
      const dur = kind === 'slow' ? 1500 : 50;
      for (let c = 0; c < 3; c++) {
        const s = hexId(next, 2);
        spanIds.push(s);
        add(t0 + 40, mkSpan(id, s, root, t0 + 5 + c, 20));
      }
      add(t0 + dur + 100, mkSpan(id, root, '', t0, dur, { attributes: [str('url.path', '/api/items')] }));
    }
    if (late) {
      const s = hexId(next, 2);
      spanIds.push(s);
      add(t0 + 8_000, mkSpan(id, s, root, t0 + 10, 5));
    }
    traces.push({ id, kind, spanIds, late });
  }
  arrivals.sort((a, b) => a.atMs - b.atMs);
  return { traces, arrivals };
}

function str(key: string, value: string): KeyValue {
  return { key, value: { kind: 'string', value } };
}

void describe('10,000-trace scenario on an injected clock', () => {
  void test('keeps every error and slow trace whole, about 10 % of the rest, no health check, and late spans follow', async () => {
    const clock = new ManualClock(0);
    const metrics = new Metrics();
    const out = new CollectingConsumer();
    const decisions = new Map<string, TraceDecision>();
    const sampler = new TailSampler({
      next: out,
      policySource: staticPolicySource(policyFromFile('scenario.yaml')),
      metrics,
      logger: silentLogger(),
      decisionWaitMs: 5_000,
      maxTraces: 50_000,
      maxBufferedBytes: 64 * 1024 * 1024,
      clock,
      onDecision: (id, d) => decisions.set(id, d),
    });
    const { traces, arrivals } = planScenario();

    // Requests of 10 ms each: everything arriving within one 10 ms tick travels together.
    let i = 0;
    while (i < arrivals.length) {
      const tick = Math.floor((arrivals[i] as Arrival).atMs / 10) * 10;
      const spans: Span[] = [];
      while (i < arrivals.length && (arrivals[i] as Arrival).atMs < tick + 10)
        spans.push((arrivals[i++] as Arrival).span);
      if (tick > clock.now()) clock.advance(tick - clock.now());
      await sampler.consume(request(spans, 'shop'));
    }
    clock.advance(10_000);
    await sampler.drain();
    assert.equal(sampler.stats().traces, 0);

    const received = new Map<string, Span[]>();
    for (const s of out.spans()) {
      const list = received.get(s.traceId) ?? [];
      list.push(s);
      received.set(s.traceId, list);
    }
    const byKind = (k: Kind) => traces.filter((t) => t.kind === k);
    const whole = (t: PlannedTrace) => {
      const got = (received.get(t.id) ?? []).map((s) => s.spanId).sort();
      return JSON.stringify(got) === JSON.stringify([...t.spanIds].sort());
    };

    for (const t of byKind('error')) {
      assert.ok(whole(t), `error trace ${t.id} kept whole (late span included: ${t.late})`);
      assert.ok(
        (received.get(t.id) ?? []).every((s) => weightOf(s) === 1),
        'errors carry weight 1',
      );
      assert.equal(decisions.get(t.id)?.reason, 'rule');
    }
    for (const t of byKind('slow')) {
      assert.ok(whole(t), `slow trace ${t.id} kept whole`);
      assert.ok(
        (received.get(t.id) ?? []).every((s) => weightOf(s) === 1),
        'slow traces carry weight 1',
      );
    }
    for (const t of byKind('health')) assert.equal(received.get(t.id), undefined, 'health checks are gone');

    const fast = byKind('fast');
    const keptFast = fast.filter((t) => received.has(t.id));
    for (const t of keptFast) {
      assert.ok(whole(t), 'a kept fast trace is kept whole, late span included');
      assert.ok((received.get(t.id) ?? []).every((s) => Math.abs((weightOf(s) as number) - 10) < 1e-9));
    }
    const n = fast.length;
    const p = 0.1;
    const sigma = Math.sqrt(n * p * (1 - p));
    assert.equal(n, 6000);
    assert.ok(
      Math.abs(keptFast.length - n * p) <= 3 * sigma,
      `kept ${keptFast.length} of ${n} fast traces; expected ${n * p} ± ${(3 * sigma).toFixed(1)}`,
    );
    // Weighted, the kept fast traces estimate how many there were.
    const estimate = keptFast.length * 10;
    assert.ok(Math.abs(estimate - n) <= 3 * sigma * 10);

    // Late spans: every planned late span was counted, and followed its trace's decision.
    const lateTraces = traces.filter((t) => t.late);
    const lateKept = lateTraces.filter((t) => decisions.get(t.id)?.keep).length;
    assert.ok(
      lateKept > 0 && lateKept < lateTraces.length,
      'some late spans join kept traces, some dropped ones',
    );
    assert.equal(await metrics.value('sampling_late_spans_total', { decision: 'sampled' }), lateKept);
    assert.equal(
      await metrics.value('sampling_late_spans_total', { decision: 'not_sampled' }),
      lateTraces.length - lateKept,
    );

    assert.equal(await metrics.value('sampling_early_decisions_total'), 0, 'no early decisions at this load');
    assert.equal(
      await metrics.value('sampling_decisions_total', { policy: 'no-health-checks', decision: 'dropped' }),
      2000,
    );
    assert.equal(await metrics.value('sampling_decisions_total'), 10_000, 'one decision per trace');
    const hist = await metrics.registry.getSingleMetric('sentinel_sampling_decision_latency_seconds')?.get();
    const count = hist?.values.find((v) =>
      String((v as { metricName?: string }).metricName).endsWith('_count'),
    );
    assert.equal(count?.value, 10_000);
  });
});

void describe('consistency across agents', () => {
  void test('two independent samplers given different halves of the same traces make identical probabilistic decisions', async () => {
    const policy = () => policyFromFile('errors-and-twenty-percent.yaml');
    const make = () => {
      const clock = new ManualClock(0);
      const decisions = new Map<string, TraceDecision>();
      const out = new CollectingConsumer();
      const sampler = new TailSampler({
        next: out,
        policySource: staticPolicySource(policy()),
        metrics: new Metrics(),
        logger: silentLogger(),
        decisionWaitMs: 1_000,
        maxTraces: 50_000,
        maxBufferedBytes: 64 * 1024 * 1024,
        clock,
        onDecision: (id, d) => decisions.set(id, d),
      });
      return { clock, decisions, out, sampler };
    };
    const a = make();
    const b = make();
    const next = rng(7);
    const ids: string[] = [];
    const withError = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = hexId(next, 4);
      ids.push(id);
      const spans = Array.from({ length: 4 }, (_, k) =>
        mkSpan(id, hexId(next, 2), '', i, 10, { error: i % 7 === 0 && k === 0 }),
      );
      if (i % 7 === 0) withError.add(id);
      // Pod A sees the first two spans (including any error), pod B the other two.
      await a.sampler.consume(request(spans.slice(0, 2), 'frontend'));
      await b.sampler.consume(request(spans.slice(2), 'backend'));
    }
    a.clock.advance(1_000);
    b.clock.advance(1_000);
    await Promise.all([a.sampler.drain(), b.sampler.drain()]);
    assert.equal(a.decisions.size, 2000);
    assert.equal(b.decisions.size, 2000);

    let probabilisticKeeps = 0;
    for (const id of ids) {
      const da = a.decisions.get(id) as TraceDecision;
      const db = b.decisions.get(id) as TraceDecision;
      if (withError.has(id)) {
        // Pod A saw the error and kept it by rule; pod B judged only its half, by the hash.
        assert.equal(da.reason, 'rule');
        continue;
      }
      assert.equal(da.keep, db.keep, `same decision for ${id}`);
      assert.equal(da.weight, db.weight);
      assert.equal(da.rv, db.rv, 'same randomness written by both pods');
      if (da.keep) probabilisticKeeps++;
    }
    // And pod B's call on the error traces is the hash's call, which pod A would have made without the error.
    const bKeepsErrors = [...withError].filter((id) => b.decisions.get(id)?.keep).length;
    const nonError = ids.length - withError.size;
    const sigma = Math.sqrt(nonError * 0.2 * 0.8);
    assert.ok(
      Math.abs(probabilisticKeeps - nonError * 0.2) <= 3 * sigma,
      `${probabilisticKeeps} of ${nonError}`,
    );
    assert.ok(bKeepsErrors > 0 && bKeepsErrors < withError.size);
  });

  void test('the probabilistic decision matches the Collector’s FNV-1a rule (hash <= p * (2^64 - 1)) on 20,000 random ids', () => {
    const policy = policyFromFile('errors-and-twenty-percent.yaml');
    const next = rng(99);
    const salt = Buffer.from('default-hash-seed');
    const limit = (2n ** 64n - 1n) / 5n; // 20 %
    let disagreements = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = hexId(next, 4);
      let h = 0xcbf29ce484222325n;
      for (const byte of [...salt, ...Buffer.from(id, 'hex')]) {
        h ^= BigInt(byte);
        h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
      }
      const collector = h <= limit;
      const ours = policy.decide({ traceId: id, firstSeenMs: 0, spans: [], origins: [], bytes: 0 }, 0).keep;
      if (collector !== ours) disagreements++;
    }
    assert.equal(disagreements, 0);
  });
});
