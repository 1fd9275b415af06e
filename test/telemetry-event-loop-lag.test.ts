/**
 * The `nodejs_eventloop_lag_*` series (issue 13): served from a monitor sampled every 100 ms instead of
 * prom-client's 10 ms one (which woke an idle agent 100 times a second), with the sampling period taken out, so
 * that they read the loop's delay: near 0 while idle, the length of a block when something held the loop.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { EVENT_LOOP_SAMPLE_MS, registerEventLoopLag } from '../src/telemetry/event-loop-lag.js';
import { Metrics } from '../src/telemetry/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LAG_SERIES = ['', '_min', '_max', '_mean', '_stddev', '_p50', '_p90', '_p99'].map(
  (s) => `nodejs_eventloop_lag${s}_seconds`,
);

/** The value of each unlabelled series in a Prometheus text exposition. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9_]+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // holds the event loop
  }
}

test('process metrics expose every nodejs_eventloop_lag series once, as gauges', async () => {
  const text = await new Metrics({ processMetrics: true }).registry.metrics();
  for (const name of LAG_SERIES) {
    assert.equal(text.split('\n').filter((l) => l === `# TYPE ${name} gauge`).length, 1, name);
    assert.match(text, new RegExp(`^${name} `, 'm'), name);
  }
  assert.equal(EVENT_LOOP_SAMPLE_MS, 100);
});

test('an idle loop reads a delay well under the sampling period, not the period itself', async () => {
  const registry = new Registry();
  registerEventLoopLag(registry);
  await registry.metrics(); // starts a window
  await sleep(EVENT_LOOP_SAMPLE_MS * 4 + 50);
  const m = parse(await registry.metrics());
  // Node's monitor records the time between samples (about 100 ms here); the series subtract the period.
  assert.ok(m.get('nodejs_eventloop_lag_min_seconds')! < EVENT_LOOP_SAMPLE_MS / 2000, JSON.stringify([...m]));
  assert.ok(m.get('nodejs_eventloop_lag_p50_seconds')! < EVENT_LOOP_SAMPLE_MS / 2000, JSON.stringify([...m]));
  assert.ok(m.get('nodejs_eventloop_lag_min_seconds')! >= 0);
});

test('a blocked loop shows in max and p99, and each scrape reads the samples since the last one', async () => {
  const registry = new Registry();
  registerEventLoopLag(registry);
  await registry.metrics();
  await sleep(EVENT_LOOP_SAMPLE_MS + 20);
  block(400);
  await sleep(EVENT_LOOP_SAMPLE_MS * 2 + 50);
  const blocked = parse(await registry.metrics());
  // The sample due during the block came at least ~300 ms late.
  assert.ok(blocked.get('nodejs_eventloop_lag_max_seconds')! >= 0.25, JSON.stringify([...blocked]));
  assert.ok(blocked.get('nodejs_eventloop_lag_p99_seconds')! >= 0.25, JSON.stringify([...blocked]));
  assert.ok(blocked.get('nodejs_eventloop_lag_stddev_seconds')! > 0);

  await sleep(EVENT_LOOP_SAMPLE_MS * 3 + 50);
  const after = parse(await registry.metrics());
  assert.ok(after.get('nodejs_eventloop_lag_max_seconds')! < 0.25, JSON.stringify([...after]));
});

test('a scrape with no sample since the last one reads 0, not an empty histogram', async () => {
  const registry = new Registry();
  registerEventLoopLag(registry, 60_000);
  const m = parse(await registry.metrics());
  for (const name of LAG_SERIES.slice(1)) assert.equal(m.get(name), 0, name);
});
