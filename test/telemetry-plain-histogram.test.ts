/**
 * `Metrics.plainHistogram` (issue 13): an unlabelled histogram kept in plain numbers reads, when scraped, as
 * prom-client's own histogram does for the same observations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../src/telemetry/index.js';

const BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 12, 15, 20, 30, 60, 120];

test('renders the same exposition as a prom-client histogram', async () => {
  const plain = new Metrics();
  const reference = new Metrics();
  const h = plain.plainHistogram('decision_latency_seconds', 'Latency.', BUCKETS);
  const r = reference.histogram('decision_latency_seconds', 'Latency.', [], BUCKETS);
  for (const v of [0, 0.1, 0.3, 9.9, 10, 10.01, 119, 120, 121, 500]) {
    h.observe(v);
    r.observe(v);
  }
  assert.equal(await plain.registry.metrics(), await reference.registry.metrics());
  assert.equal(
    await plain.value('decision_latency_seconds'),
    await reference.value('decision_latency_seconds'),
  );
});

test('one histogram per name and registry, shared by whoever asks for it', () => {
  const metrics = new Metrics();
  const a = metrics.plainHistogram('x_seconds', 'X.', [1]);
  assert.equal(metrics.plainHistogram('x_seconds', 'X.', [1]), a);
  assert.notEqual(new Metrics().plainHistogram('x_seconds', 'X.', [1]), a);
});
