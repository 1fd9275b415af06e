/**
 * `sampling_decisions_total` is tallied per trace and added to the counter once per sampler pass (issue 13):
 * nothing counted is lost, across many policy names (the tally forgets names beyond 256, after adding them).
 * Early decisions and completion evictions are tallied by reason the same way (ReasonTally, EvictionTally).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DecisionTally,
  EvictionTally,
  ReasonTally,
  samplerMetrics,
} from '../src/sampling/sampler-metrics.js';
import { Metrics } from '../src/telemetry/index.js';

async function series(metrics: Metrics): Promise<Map<string, number>> {
  const m = await metrics.registry.getSingleMetric('sentinel_sampling_decisions_total')!.get();
  return new Map(m.values.map((v) => [`${v.labels['policy']}/${v.labels['decision']}`, v.value]));
}

async function byReason(metrics: Metrics, name: string): Promise<Map<string, number>> {
  const m = await metrics.registry.getSingleMetric(`sentinel_${name}`)!.get();
  return new Map(m.values.map((v) => [String(v.labels['reason']), v.value]));
}

test('decisions reach the counter at each flush, not before', async () => {
  const metrics = new Metrics();
  const tally = new DecisionTally(samplerMetrics(metrics).decisions);
  tally.count('errors', 'sampled');
  tally.count('errors', 'sampled');
  tally.count('_none', 'not_sampled');
  assert.equal((await series(metrics)).size, 0);
  tally.flush();
  tally.count('drop-health', 'dropped');
  tally.flush();
  tally.flush();
  assert.deepEqual(
    await series(metrics),
    new Map([
      ['errors/sampled', 2],
      ['_none/not_sampled', 1],
      ['drop-health/dropped', 1],
    ]),
  );
});

test('past 256 policy names, the tally forgets names without losing a count', async () => {
  const metrics = new Metrics();
  const tally = new DecisionTally(samplerMetrics(metrics).decisions);
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < 600; i++) tally.count(`p${i}`, i % 3 === 0 ? 'sampled' : 'not_sampled');
  tally.flush();
  const s = await series(metrics);
  let total = 0;
  for (const v of s.values()) total += v;
  assert.equal(total, 1200);
  assert.equal(s.get('p0/sampled'), 2);
  assert.equal(s.get('p599/not_sampled'), 2);
});

test('early decisions reach their counter by reason at each flush, not before', async () => {
  const metrics = new Metrics();
  const tally = new ReasonTally<'memory' | 'num_traces'>(samplerMetrics(metrics).earlyDecisions);
  tally.count('memory');
  tally.count('num_traces');
  tally.count('memory');
  assert.equal((await byReason(metrics, 'sampling_early_decisions_total')).size, 0);
  tally.flush();
  tally.count('memory');
  tally.flush();
  tally.flush();
  assert.deepEqual(
    await byReason(metrics, 'sampling_early_decisions_total'),
    new Map([
      ['memory', 3],
      ['num_traces', 1],
    ]),
  );
});

test('evictions add spans and traces by reason; a trace of log records only adds 0 spans', async () => {
  const metrics = new Metrics();
  const tally = new EvictionTally(metrics);
  tally.count('age', 5);
  tally.count('age', 2);
  tally.count('bytes', 0);
  tally.flush();
  assert.deepEqual(
    await byReason(metrics, 'sampling_completion_evicted_spans_total'),
    new Map([
      ['age', 7],
      ['bytes', 0],
    ]),
  );
  assert.deepEqual(
    await byReason(metrics, 'sampling_completion_evicted_traces_total'),
    new Map([
      ['age', 2],
      ['bytes', 1],
    ]),
  );
});
