/**
 * Issue 16's scenario through the sampler: 2,000 traces with 5 logs each (10 % with errors), 500 logs without
 * trace ids, policy errors + 10 % with a logs section. Spans and logs arrive in interleaved requests, logs
 * sometimes before their spans, as an app's two exporters send them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findAttribute, scanLogsRequest } from '../src/otlp/index.js';
import { WireLogView } from '../src/sampling/log-match.js';
import type { Span } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeSpan, spanBatch } from './helpers/edge-spans.js';
import { checkScenario, makeScenario, SCENARIO_POLICY, type ScenarioTrace } from './helpers/logs-scenario.js';
import { encodeLogs, logsBatch, LogsCollectingConsumer } from './helpers/sdk-logs.js';
import { ManualClock } from '../src/clock.js';

function spansOf(t: ScenarioTrace): Span[] {
  return t.spanIds.map((spanId, k) =>
    makeSpan({
      traceId: t.traceId,
      spanId,
      parentSpanId: k === 0 ? '' : (t.spanIds[0] as string),
      name: k === 0 ? 'GET /checkout' : 'charge',
      kind: k === 0 ? 2 : 3,
      endTimeUnixNano: 1_700_000_000_020_000_000n,
      status: { code: t.error && k === 1 ? 2 : 0, message: '' },
    }),
  );
}

test('scenario: every kept trace has all of its logs, none of a dropped one, the weighted count within 10 %', async () => {
  const s = makeScenario();
  const parsed = parsePolicyText(SCENARIO_POLICY);
  assert.ok(parsed.ok);
  const clock = new ManualClock();
  const out = new LogsCollectingConsumer();
  const metrics = new Metrics();
  const sampler = new TailSampler({
    next: out,
    policySource: staticPolicySource(compilePolicy(parsed.config)),
    metrics,
    logger: silentLogger(),
    decisionWaitMs: 1000,
    maxTraces: 50_000,
    maxBufferedBytes: 1 << 30,
    clock,
  });
  // 20 traces per request; a request of logs goes before its spans every third round.
  for (let r = 0; r < s.traces.length / 20; r++) {
    const round = s.traces.slice(r * 20, r * 20 + 20);
    const spans = spanBatch(round.flatMap(spansOf));
    const logs = logsBatch([...round.flatMap((t) => t.logs), ...s.untraced.slice(r * 5, r * 5 + 5)]);
    if (r % 3 === 0) {
      await sampler.consumeLogs(logs);
      await sampler.consume(spans);
    } else {
      await sampler.consume(spans);
      await sampler.consumeLogs(logs);
    }
    clock.advance(10);
  }
  clock.advance(1000);
  await sampler.drain();

  const kept = new Map<string, number>();
  for (const sp of out.spans()) {
    const w = findAttribute(sp.attributes, 'sampling.weight');
    kept.set(sp.traceId, w?.kind === 'double' ? w.value : NaN);
  }
  const figures = checkScenario(s, kept, out.logs());
  assert.equal(
    await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'trace' }),
    figures.exportedTraced,
  );
  assert.equal(
    await metrics.value('sampling_logs_total', { decision: 'dropped', reason: 'trace' }),
    s.traces.length * 5 - figures.exportedTraced,
  );
  // The figures docs/sampling.md quotes (what "logs follow their trace" does to log volume).
  console.log(
    `# scenario: ${figures.keptTraces} of ${s.traces.length} traces kept; logs exported ${figures.exportedLogs} of ${s.totalLogs} ` +
      `(${figures.exportedTraced} with a trace id, ${figures.exportedUntraced} without); weighted count ${figures.estimate.toFixed(0)} ` +
      `(${(figures.relativeError * 100).toFixed(1)} % off)`,
  );
});

test('the weighted log count is unbiased over seeds: its spread at this size is the sample’s, not a bias', () => {
  // The same scenario's estimate over 200 seeds, from the policy's decisions alone (what the sampler applies,
  // as the test above checks): one seed's figure is one draw of a 10 % sample of 1,800 traces.
  const parsed = parsePolicyText(SCENARIO_POLICY);
  assert.ok(parsed.ok);
  const policy = compilePolicy(parsed.config);
  const errors: number[] = [];
  for (let seed = 1; seed <= 200; seed++) {
    const s = makeScenario(seed, 2000, 5, 500);
    let estimate = 0;
    for (const t of s.traces) {
      const d = policy.decide(
        { traceId: t.traceId, firstSeenMs: 0, spans: spansOf(t), origins: [], bytes: 0 },
        0,
      );
      if (d.keep) estimate += t.logs.length * d.weight;
    }
    const untraced = scanLogsRequest(encodeLogs(s.untraced));
    for (let i = 0; i < untraced.count; i++) {
      const d = policy.logs!.decide(new WireLogView(untraced, i), untraced, i, '');
      if (d.keep) estimate += d.weight;
    }
    errors.push((estimate - s.totalLogs) / s.totalLogs);
  }
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const sd = Math.sqrt(errors.reduce((a, b) => a + (b - mean) ** 2, 0) / (errors.length - 1));
  const within = errors.filter((e) => Math.abs(e) < 0.1).length;
  console.log(
    `# 200 seeds: mean error ${(mean * 100).toFixed(2)} %, standard deviation ${(sd * 100).toFixed(1)} %, within 10 %: ${within} of 200`,
  );
  assert.ok(Math.abs(mean) < 0.015, `mean error ${mean}`);
  assert.ok(sd < 0.08, `spread ${sd}`);
});
