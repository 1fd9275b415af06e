import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../src/agent/agent.js';
import { agentConfigSchema } from '../src/config/index.js';
import { InMemoryExporter } from '../src/export/memory-exporter.js';
import {
  OVERFLOW_LABEL_VALUE,
  SPANMETRICS_BUCKETS_SECONDS,
  SpanMetricsStage,
} from '../src/measure/span-metrics.js';
import {
  av,
  encodeTraceRequest,
  scanTraceRequest,
  wireBatch,
  type ResourceSpans,
  type Span,
  type TraceBatch,
  type TraceConsumer,
  type TraceData,
} from '../src/otlp/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { rng } from './helpers/store-spans.js';
import { makeSpan } from './helpers/edge-spans.js';

const KIND = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
];
const STATUS = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

function hex(random: () => number, digits: number): string {
  let s = '';
  while (s.length < digits) s += Math.floor(random() * 16).toString(16);
  return s;
}

/** Random spans over a few services, variants, names, kinds and statuses, plus the true count per label set. */
function workload(seed: number, resources: number, spansEach: number) {
  const random = rng(seed);
  const truth = new Map<string, number>();
  const data: TraceData = { resourceSpans: [] };
  for (let r = 0; r < resources; r++) {
    const service = ['checkout', 'cart', 'payment'][Math.floor(random() * 3)]!;
    const variant = ['canary', 'baseline', ''][Math.floor(random() * 3)]!;
    const attributes = [{ key: 'service.name', value: av.string(service) }];
    if (variant) attributes.push({ key: 'deployment.variant', value: av.string(variant) });
    const spans: Span[] = [];
    for (let i = 0; i < spansEach; i++) {
      const kind = Math.floor(random() * 6);
      const code = Math.floor(random() * 3);
      const name = ['GET /cart', 'POST /pay', 'consume orders'][Math.floor(random() * 3)]!;
      const start = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n;
      spans.push(
        makeSpan({
          traceId: hex(random, 32),
          spanId: hex(random, 16),
          flags: 0,
          name,
          kind,
          startTimeUnixNano: start,
          endTimeUnixNano: start + BigInt(Math.floor(random() * 3_000_000_000)),
          status: { code, message: '' },
        }),
      );
      if (kind === 2 || kind === 5) {
        const key = [service, name, KIND[kind], STATUS[code], variant].join('|');
        truth.set(key, (truth.get(key) ?? 0) + 1);
      }
    }
    const rs: ResourceSpans = {
      resource: { attributes, droppedAttributesCount: 0 },
      scopeSpans: [
        {
          scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 },
          spans,
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    };
    data.resourceSpans.push(rs);
  }
  return { data, truth };
}

/** Every series of a metric as "labels joined by |" -> value, from the registry. */
async function series(metrics: Metrics, name: string, sample = name): Promise<Map<string, number>> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const out = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    const m = v as { metricName?: string; labels: Record<string, string | number>; value: number };
    if (m.metricName !== undefined && m.metricName !== sample) continue;
    const l = m.labels;
    out.set(
      [l['service'], l['span_name'], l['span_kind'], l['status_code'], l['variant']].join('|'),
      m.value,
    );
  }
  return out;
}

function stage(config: { span_kinds?: string[]; max_series?: number; naming?: string } = {}) {
  const metrics = new Metrics();
  const next = new CollectingConsumer();
  const measure = new SpanMetricsStage({
    next,
    config: agentConfigSchema().parse({ measure: config }).measure,
    metrics,
    logger: silentLogger(),
  });
  return { metrics, next, measure };
}

/** A stage with the default config in front of a next stage whose `consume` is `consume`. */
function stageBefore(consume: TraceConsumer['consume']) {
  const metrics = new Metrics();
  const measure = new SpanMetricsStage({
    next: {
      consume,
      bufferedBytes: () => 0,
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    },
    config: agentConfigSchema().parse({}).measure,
    metrics,
    logger: silentLogger(),
  });
  return { metrics, measure };
}

describe('span metrics (measure stage)', () => {
  it('counts exactly the SERVER and CONSUMER spans received, per label set, and passes every batch on untouched', async () => {
    const { metrics, next, measure } = stage();
    const { data, truth } = workload(7, 60, 50);
    const batch: TraceBatch = { data, spanCount: 3000, bytes: 12345 };
    await measure.consume(batch);
    assert.equal(next.batches[0], batch, 'the same batch object reaches the next stage');
    assert.equal(next.spanCount(), 3000);
    const calls = await series(metrics, 'sentinel_spanmetrics_calls_total');
    assert.deepEqual(new Map([...calls].sort()), new Map([...truth].sort()));
    const counts = await series(
      metrics,
      'sentinel_spanmetrics_duration_seconds',
      'sentinel_spanmetrics_duration_seconds_count',
    );
    assert.deepEqual(new Map([...counts].sort()), new Map([...truth].sort()));
    assert.ok([...truth.values()].reduce((a, b) => a + b, 0) > 500, 'the workload has many measured spans');
  });

  it('uses the Collector spanmetrics default buckets, 2 ms to 15 s', async () => {
    assert.deepEqual(
      SPANMETRICS_BUCKETS_SECONDS.map((s) => Math.round(s * 1000)),
      [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000],
    );
    const { metrics, measure } = stage();
    await measure.consume({ data: workload(1, 2, 10).data, spanCount: 20, bytes: 1 });
    const text = await metrics.registry.metrics();
    assert.match(text, /# TYPE sentinel_spanmetrics_duration_seconds histogram/);
    assert.match(text, /sentinel_spanmetrics_duration_seconds_bucket\{[^}]*le="0\.002"\}/);
    assert.match(text, /sentinel_spanmetrics_duration_seconds_bucket\{[^}]*le="15"\}/);
  });

  it('fills cumulative buckets, +Inf, sum and count as Prometheus reads them', async () => {
    const { metrics, measure } = stage();
    const { data } = workload(2, 1, 4);
    const spans = data.resourceSpans[0]!.scopeSpans[0]!.spans;
    [1e6, 3e6, 50e6, 20e9].forEach((ns, i) => {
      const s = spans[i]!;
      s.kind = 2;
      s.status.code = 0;
      s.name = 'GET /x';
      s.endTimeUnixNano = s.startTimeUnixNano + BigInt(ns);
    });
    await measure.consume({ data, spanCount: 4, bytes: 1 });
    const text = await metrics.registry.metrics();
    const bucket = (le: string) => {
      const m = new RegExp(
        `sentinel_spanmetrics_duration_seconds_bucket\\{[^}]*le="${le.replace('+', '\\+')}"\\} (\\S+)`,
      ).exec(text);
      return Number(m?.[1]);
    };
    assert.equal(bucket('0.002'), 1);
    assert.equal(bucket('0.004'), 2);
    assert.equal(bucket('0.01'), 2);
    assert.equal(bucket('0.05'), 3);
    assert.equal(bucket('15'), 3);
    assert.equal(bucket('+Inf'), 4);
    assert.match(text, /sentinel_spanmetrics_duration_seconds_count\{[^}]*\} 4/);
    const sum = Number(/sentinel_spanmetrics_duration_seconds_sum\{[^}]*\} (\S+)/.exec(text)?.[1]);
    assert.ok(Math.abs(sum - 20.054) < 1e-9, `sum ${sum}`);
    assert.equal(await metrics.value('spanmetrics_calls_total', { span_name: 'GET /x' }), 4);
  });

  it('measures the configured span kinds only', async () => {
    const { metrics, measure } = stage({ span_kinds: ['CLIENT'] });
    const { data } = workload(3, 10, 40);
    let clients = 0;
    for (const rs of data.resourceSpans) for (const s of rs.scopeSpans[0]!.spans) if (s.kind === 3) clients++;
    await measure.consume({ data, spanCount: 400, bytes: 1 });
    const calls = await series(metrics, 'sentinel_spanmetrics_calls_total');
    assert.equal(
      [...calls.values()].reduce((a, b) => a + b, 0),
      clients,
    );
    assert.ok([...calls.keys()].every((k) => k.includes('SPAN_KIND_CLIENT')));
  });

  it('puts label sets beyond max_series into one overflow series, losing no span', async () => {
    const { metrics, measure } = stage({ max_series: 5 });
    const { data, truth } = workload(11, 40, 40);
    await measure.consume({ data, spanCount: 1600, bytes: 1 });
    const calls = await series(metrics, 'sentinel_spanmetrics_calls_total');
    const overflowKey = Array(5).fill(OVERFLOW_LABEL_VALUE).join('|');
    assert.equal(calls.size, 6, 'five label sets plus the overflow series');
    assert.ok((calls.get(overflowKey) ?? 0) > 0);
    const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    assert.equal(total(calls), total(truth));
  });

  it('counts the same series on the byte path as from decoded spans, batch after batch and past max_series', async () => {
    for (const max_series of [2000, 5]) {
      const decoded = stage({ max_series });
      const wire = stage({ max_series });
      for (const seed of [21, 22, 21]) {
        const { data } = workload(seed, 30, 40);
        const spans = scanTraceRequest(encodeTraceRequest(data)).spans;
        await wire.measure.consume(wireBatch(spans));
        await decoded.measure.consume({ data, spanCount: 1200, bytes: 1 });
      }
      for (const name of ['sentinel_spanmetrics_calls_total', 'sentinel_spanmetrics_duration_seconds']) {
        const want = await series(decoded.metrics, name);
        const got = await series(wire.metrics, name);
        assert.deepEqual(
          new Map([...got].sort()),
          new Map([...want].sort()),
          `${name}, max_series ${max_series}`,
        );
      }
    }
  });

  it('does not count a batch the next stage refuses, so a client retry is counted once', async () => {
    let refuse = true;
    const next = new CollectingConsumer();
    const { metrics, measure } = stageBefore((b) =>
      refuse ? Promise.reject(new Error('memory limit')) : next.consume(b),
    );
    const { data, truth } = workload(13, 5, 40);
    await assert.rejects(measure.consume({ data, spanCount: 200, bytes: 1 }), /memory limit/);
    assert.equal(await metrics.value('spanmetrics_calls_total'), 0);
    refuse = false;
    await measure.consume({ data, spanCount: 200, bytes: 1 });
    const total = [...truth.values()].reduce((a, b) => a + b, 0);
    assert.equal(await metrics.value('spanmetrics_calls_total'), total);
  });

  it('counts requests in flight together and requests of other sizes after them exactly (lists reused)', async () => {
    const waiting: Array<() => void> = [];
    const { metrics, measure } = stageBefore(() => new Promise<void>((resolve) => waiting.push(resolve)));
    let total = 0;
    for (const sizes of [[40, 3, 25], [2, 60], [1]]) {
      const inFlight = sizes.map((spansEach, k) => {
        const { data, truth } = workload(30 + spansEach + k, 2, spansEach);
        total += [...truth.values()].reduce((a, b) => a + b, 0);
        const spans = scanTraceRequest(encodeTraceRequest(data)).spans;
        return measure.consume(wireBatch(spans));
      });
      while (waiting.length > 0) waiting.pop()!();
      await Promise.all(inFlight);
      assert.equal(await metrics.value('spanmetrics_calls_total'), total);
    }
  });

  it('delegates bufferedBytes, forceFlush and shutdown to the next stage', async () => {
    const { next, measure } = stage();
    next.stall();
    const pending = measure.consume({ data: { resourceSpans: [] }, spanCount: 0, bytes: 99 });
    assert.equal(measure.bufferedBytes(), 99);
    next.resume();
    await pending;
    await measure.forceFlush();
    await measure.shutdown();
    assert.equal(measure.bufferedBytes(), 0);
  });
});

describe('span metrics under Tempo names (issue 19)', () => {
  it('naming: tempo exposes traces_spanmetrics_calls_total and traces_spanmetrics_latency with the tempo_labels, the same counts', async () => {
    const { metrics, measure } = stage({ naming: 'tempo' });
    const { data, truth } = workload(8, 30, 20);
    await measure.consume({ data, spanCount: 600, bytes: 1 });
    assert.equal(metrics.registry.getSingleMetric('sentinel_spanmetrics_calls_total'), undefined);
    const calls = await series(metrics, 'traces_spanmetrics_calls_total');
    assert.deepEqual(new Map([...calls].sort()), new Map([...truth].sort()));
    const counts = await series(metrics, 'traces_spanmetrics_latency', 'traces_spanmetrics_latency_count');
    assert.deepEqual(new Map([...counts].sort()), new Map([...truth].sort()));
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /traces_spanmetrics_calls_total\{service="[^"]+",span_name="[^"]+",span_kind="SPAN_KIND_(SERVER|CONSUMER)",status_code="STATUS_CODE_\w+",variant="[^"]*",source="sentinel"\} \d+/,
    );
    assert.match(text, /traces_spanmetrics_latency_bucket\{.*le="0.002".*\} \d+/);
  });

  it('naming: both exposes each count under both names', async () => {
    const { metrics, measure } = stage({ naming: 'both' });
    const { data, truth } = workload(9, 10, 10);
    await measure.consume({ data, spanCount: 100, bytes: 1 });
    const sentinel = await series(metrics, 'sentinel_spanmetrics_calls_total');
    assert.deepEqual(new Map([...sentinel].sort()), new Map([...truth].sort()));
    assert.deepEqual(await series(metrics, 'traces_spanmetrics_calls_total'), sentinel);
  });
});

describe('span metrics in the agent', () => {
  let agent: RunningAgent | undefined;
  after(async () => {
    await agent?.shutdown();
  });

  it('counts every span received on /metrics while the sampler keeps only some of them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-measure-'));
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      'policies:\n  - name: tenth\n    type: probabilistic\n    probabilistic: { sampling_percentage: 10 }\n',
    );
    const config = agentConfigSchema().parse({
      receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
      admin: { endpoint: '127.0.0.1:0' },
      sampling: { policy_file: policy, decision_wait: '1ms' },
    });
    const exporter = new InMemoryExporter();
    agent = await startAgent(config, {
      logger: silentLogger(),
      metrics: new Metrics(),
      exporters: [exporter],
      env: {},
    });
    const { data, truth } = workload(5, 20, 100);
    const res = await fetch(`http://127.0.0.1:${agent.ports.http}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from(encodeTraceRequest(data)),
    });
    assert.equal(res.status, 200);
    const text = await (await fetch(`http://127.0.0.1:${agent.ports.admin}/metrics`)).text();
    const seen = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^sentinel_spanmetrics_calls_total\{(.*)\} (\d+)$/.exec(line);
      if (!m) continue;
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      const key = [
        labels['service'],
        labels['span_name'],
        labels['span_kind'],
        labels['status_code'],
        labels['variant'],
      ].join('|');
      seen.set(key, Number(m[2]));
    }
    assert.deepEqual(new Map([...seen].sort()), new Map([...truth].sort()));
    await agent.shutdown();
    const exported = exporter.spans().length;
    assert.ok(exported > 0 && exported < 2000 * 0.3, `the sampler kept a fraction (${exported} of 2000)`);
  });
});
