import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { registerCollectedMetric } from './collected-metric.js';

/**
 * How often the event loop's delay is sampled (ms). prom-client samples every 10 ms: a timer that wakes an idle
 * process 100 times a second, about 4 of the idle agent's 6 ms of CPU per second (issue 13); every 100 ms costs
 * a tenth of that. A blocked loop still shows: it delays the next sample by as long as it blocks.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * A sampling period for prom-client's own monitor that never comes round (2^30 ms, 12 days): prom-client offers no
 * way to leave its monitor out, so it gets one that costs nothing, and its series are served from ours instead.
 */
export const PROM_CLIENT_IDLE_PRECISION_MS = 2 ** 30;

const SECONDS_PER_NS = 1e-9;

/** prom-client's event-loop series, names and help as it has them (lib/metrics/eventLoopLag.js). */
const SERIES: ReadonlyArray<readonly [string, string, (h: IntervalHistogram) => number]> = [
  ['nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', (h) => h.min],
  ['nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', (h) => h.max],
  ['nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', (h) => h.mean],
  [
    'nodejs_eventloop_lag_p50_seconds',
    'The 50th percentile of the recorded event loop delays.',
    (h) => h.percentile(50),
  ],
  [
    'nodejs_eventloop_lag_p90_seconds',
    'The 90th percentile of the recorded event loop delays.',
    (h) => h.percentile(90),
  ],
  [
    'nodejs_eventloop_lag_p99_seconds',
    'The 99th percentile of the recorded event loop delays.',
    (h) => h.percentile(99),
  ],
];
const LAG = 'nodejs_eventloop_lag_seconds';
const STDDEV = 'nodejs_eventloop_lag_stddev_seconds';

/**
 * Serves prom-client's `nodejs_eventloop_lag_*` series from a monitor sampled every `sampleMs` instead of its
 * 10 ms one. Node's monitor records the time between two samples, the period included (an idle loop reads 10 ms
 * with prom-client's); these series subtract the period, so they read the delay itself: 0 when idle, the time a
 * task held the loop past a sample otherwise. Like prom-client, each scrape reads the samples since the last one.
 * `nodejs_eventloop_lag_seconds` is, as prom-client has it, the time a `setImmediate` queued at the previous
 * scrape waited.
 */
export function registerEventLoopLag(registry: Registry, sampleMs = EVENT_LOOP_SAMPLE_MS): void {
  for (const name of [LAG, STDDEV, ...SERIES.map(([n]) => n)]) registry.removeSingleMetric(name);
  const histogram = monitorEventLoopDelay({ resolution: sampleMs });
  histogram.enable();
  const periodNs = sampleMs * 1e6;
  // Read at the first series of a scrape (registration order), reset after it: one window per scrape.
  let window: Record<string, number> = {};
  let immediateLagSeconds = 0;
  registerCollectedMetric(registry, LAG, 'Lag of event loop in seconds.', 'gauge', () => {
    window = readWindow(histogram, periodNs);
    histogram.reset();
    const value = immediateLagSeconds;
    const queued = process.hrtime.bigint();
    setImmediate(() => (immediateLagSeconds = Number(process.hrtime.bigint() - queued) * SECONDS_PER_NS));
    return [{ labels: {}, value }];
  });
  for (const [name, help] of SERIES)
    registerCollectedMetric(registry, name, help, 'gauge', () => [{ labels: {}, value: window[name] ?? 0 }]);
  registerCollectedMetric(
    registry,
    STDDEV,
    'The standard deviation of the recorded event loop delays.',
    'gauge',
    () => [{ labels: {}, value: window[STDDEV] ?? 0 }],
  );
}

function readWindow(h: IntervalHistogram, periodNs: number): Record<string, number> {
  const out: Record<string, number> = {};
  // No sample yet (a scrape within one period of the last): Node reports min as 2^63; read 0.
  const empty = h.count === 0;
  for (const [name, , read] of SERIES)
    out[name] = empty ? 0 : Math.max(0, read(h) - periodNs) * SECONDS_PER_NS;
  out[STDDEV] = empty || Number.isNaN(h.stddev) ? 0 : h.stddev * SECONDS_PER_NS;
  return out;
}
