/**
 * Issue 19: the store's service graph. Pairing, virtual nodes, the bound on waiting halves, the weights of a
 * pair (Horvitz-Thompson), Tempo's metric names on /metrics, and GET /api/servicegraph.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { serviceGraphSchema } from '../src/config/service-graph.js';
import { validateConfig } from '../src/config/index.js';
import { av, SpanKind, type KeyValue, type Span, type TraceData } from '../src/otlp/index.js';
import { pairWeight, ServiceGraph, type Half } from '../src/store/service-graph.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { edgeSpan, postTraces, serviceSpans } from './helpers/edge-spans.js';
import { promSamples } from './helpers/prom-text.js';
import { startTestStore } from './helpers/store-harness.js';

const T0 = Date.UTC(2026, 11, 4, 5, 0, 0);
let idCounter = 0;
const nextId = (digits: number) => (++idCounter).toString(16).padStart(digits, '0');

function span(
  kind: number,
  traceId: string,
  spanId: string,
  parentSpanId: string,
  attributes: KeyValue[] = [],
  options: { error?: boolean; ms?: number; startMs?: number } = {},
): Span {
  return edgeSpan(kind, traceId, spanId, parentSpanId, {
    ...options,
    attributes,
    startMs: options.startMs ?? T0,
  });
}

function batch(service: string, spans: Span[], variant = ''): TraceData {
  return { resourceSpans: [serviceSpans(service, spans, variant)] };
}

const weight = (w: number): KeyValue => ({ key: 'sampling.weight', value: av.double(w) });
const completed: KeyValue = { key: 'sampling.completed', value: av.bool(true) };

function graphWith(overrides: Record<string, unknown> = {}, clock = new ManualClock(T0)) {
  const metrics = new Metrics();
  const config = validateConfig(serviceGraphSchema(), overrides, 'service_graph');
  const graph = new ServiceGraph({ config, metrics, logger: silentLogger(), clock });
  return { graph, metrics, clock };
}

/** The value of one exposed sample, by metric name and labels, from the registry's text. */
async function sample(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  return promSamples(await metrics.registry.metrics(), name).find((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

const half = (inclusion: 0 | 1 | 2, w: number): Half => ({
  service: 's',
  variant: '',
  inclusion,
  weight: w,
  failed: false,
  seconds: 0,
  startMs: 0,
  peer: '',
});
const CERTAIN = 0;
const PROBABILISTIC = 1;
const COMPLETED = 2;

void describe('service graph: pairing', () => {
  void test('pairs a CLIENT span with its SERVER child whichever comes first, failed when either side failed', async () => {
    const { graph, metrics } = graphWith();
    const t1 = nextId(32);
    const t2 = nextId(32);
    graph.add(batch('frontend', [span(SpanKind.CLIENT, t1, 'c1', 'r1')]));
    graph.add(batch('cart', [span(SpanKind.SERVER, t1, 's1', 'c1', [], { error: true })]));
    graph.add(batch('cart', [span(SpanKind.SERVER, t2, 's2', 'c2', [], { ms: 250 })]));
    graph.add(batch('frontend', [span(SpanKind.CLIENT, t2, 'c2', 'r2', [], { ms: 260 })]));
    assert.equal(graph.pendingItems, 0);
    const labels = { client: 'frontend', server: 'cart', source: 'sentinel' };
    assert.equal(await sample(metrics, 'traces_service_graph_request_total', labels), 2);
    assert.equal(await sample(metrics, 'traces_service_graph_request_failed_total', labels), 1);
    // Tempo's default buckets: 0.1, 0.2, 0.4 ... 12.8 s; 30 ms and 250 ms.
    assert.equal(
      await sample(metrics, 'traces_service_graph_request_server_seconds_bucket', { ...labels, le: '0.1' }),
      1,
    );
    assert.equal(
      await sample(metrics, 'traces_service_graph_request_server_seconds_bucket', { ...labels, le: '0.4' }),
      2,
    );
    assert.equal(await sample(metrics, 'traces_service_graph_request_client_seconds_count', labels), 2);
    assert.equal(await sample(metrics, 'sentinel_store_service_graph_spans_total', { outcome: 'paired' }), 2);
    graph.close();
  });

  void test('PRODUCER/CONSUMER pairs are messaging_system edges; a root SERVER span is called by "user"', async () => {
    const { graph, metrics } = graphWith();
    const t = nextId(32);
    graph.add(batch('orders', [span(SpanKind.PRODUCER, t, 'p1', 'x')]));
    graph.add(batch('billing', [span(SpanKind.CONSUMER, t, 'k1', 'p1')]));
    graph.add(batch('frontend', [span(SpanKind.SERVER, nextId(32), 'root', '')]));
    const ct = { connection_type: 'messaging_system' };
    assert.equal(
      await sample(metrics, 'traces_service_graph_request_total', {
        client: 'orders',
        server: 'billing',
        ...ct,
      }),
      1,
    );
    assert.equal(
      await sample(metrics, 'traces_service_graph_request_total', {
        client: 'user',
        server: 'frontend',
        connection_type: 'virtual_node',
      }),
      1,
    );
    graph.close();
  });

  void test('virtual nodes: db.system completes at once; peer.service or server.address after the wait, as the connector does', async () => {
    const { graph, metrics, clock } = graphWith({ wait: '2s' });
    graph.add(
      batch('cart', [
        span(SpanKind.CLIENT, nextId(32), 'd1', 'x', [{ key: 'db.system', value: av.string('redis') }]),
      ]),
    );
    graph.add(
      batch('cart', [
        span(SpanKind.CLIENT, nextId(32), 'v1', 'x', [{ key: 'peer.service', value: av.string('stripe') }]),
      ]),
    );
    graph.add(
      batch('cart', [
        span(SpanKind.CLIENT, nextId(32), 'v2', 'x', [
          { key: 'server.address', value: av.string('api.example.com') },
        ]),
      ]),
    );
    graph.add(batch('cart', [span(SpanKind.CLIENT, nextId(32), 'u1', 'x')]));
    assert.equal(
      await sample(metrics, 'traces_service_graph_request_total', {
        client: 'cart',
        server: 'redis',
        connection_type: 'database',
      }),
      1,
    );
    assert.equal(graph.pendingItems, 3);
    clock.advance(2000);
    graph.expire();
    assert.equal(graph.pendingItems, 0);
    for (const server of ['stripe', 'api.example.com'])
      assert.equal(
        await sample(metrics, 'traces_service_graph_request_total', {
          client: 'cart',
          server,
          connection_type: 'virtual_node',
        }),
        1,
      );
    // The one without a peer attribute stays unpaired: counted, no edge.
    assert.equal(await sample(metrics, 'sentinel_store_service_graph_expired_total', { side: 'client' }), 3);
    graph.close();
  });

  void test('the waiting halves stay within max_items when servers never answer: the rest dropped and counted, all expire', async () => {
    const { graph, metrics, clock } = graphWith({ max_items: 1000, wait: '10s' });
    let most = 0;
    // 50,000 CLIENT spans in 500 batches over 25 s of injected time, no server ever answering.
    for (let b = 0; b < 500; b++) {
      const spans: Span[] = [];
      for (let i = 0; i < 100; i++) spans.push(span(SpanKind.CLIENT, nextId(32), nextId(16), 'p'));
      graph.add(batch('frontend', spans));
      most = Math.max(most, graph.pendingItems);
      clock.advance(50);
    }
    assert.equal(most, 1000);
    const dropped = (await sample(metrics, 'sentinel_store_service_graph_spans_total', {
      outcome: 'dropped',
    }))!;
    clock.advance(10_000);
    graph.expire();
    assert.equal(graph.pendingItems, 0);
    const expired = (await sample(metrics, 'sentinel_store_service_graph_expired_total', {
      side: 'client',
    }))!;
    console.log(
      `servers never answer: at most ${most} of 50000 halves waited (max_items 1000); ${expired} expired unpaired, ${dropped} dropped`,
    );
    assert.equal(expired + dropped, 50_000);
    assert.ok(dropped > 0 && expired >= 1000);
    assert.equal(await sample(metrics, 'sentinel_store_service_graph_pending_items', {}), 0);
    graph.close();
  });
});

void describe('service graph: the weight of a pair (Horvitz-Thompson)', () => {
  void test('both halves probabilistic: the larger weight (both kept iff the shared hash passes the stricter threshold)', () => {
    assert.equal(pairWeight(half(PROBABILISTIC, 10), half(PROBABILISTIC, 10), true), 10);
    assert.equal(pairWeight(half(PROBABILISTIC, 2), half(PROBABILISTIC, 10), true), 10);
  });
  void test('a half kept by a rule, with whole traces: 1, whatever kept the other half', () => {
    assert.equal(pairWeight(half(CERTAIN, 1), half(PROBABILISTIC, 10), true), 1);
    assert.equal(pairWeight(half(COMPLETED, 1), half(CERTAIN, 1), true), 1);
    assert.equal(pairWeight(half(CERTAIN, 1), half(CERTAIN, 1), true), 1);
  });
  void test('completed halves and no rule-kept half: outside the sample (the same pair counts through the hash)', () => {
    assert.equal(pairWeight(half(COMPLETED, 1), half(COMPLETED, 1), true), 0);
    assert.equal(pairWeight(half(COMPLETED, 1), half(PROBABILISTIC, 10), true), 0);
  });
  void test('without whole traces, halves are independent: the larger weight', () => {
    assert.equal(pairWeight(half(CERTAIN, 1), half(PROBABILISTIC, 10), false), 10);
  });
  void test('is unbiased over the hash: a pair two links below a rule keep, 10 % sampled, averages 1', () => {
    // The hash passes (10 %): both halves probabilistic, weight 10; otherwise both completed, weight 0.
    const expected =
      0.1 * pairWeight(half(PROBABILISTIC, 10), half(PROBABILISTIC, 10), true) +
      0.9 * pairWeight(half(COMPLETED, 1), half(COMPLETED, 1), true);
    assert.equal(expected, 1);
    // Next to the rule keep: 1 either way.
    const next =
      0.1 * pairWeight(half(PROBABILISTIC, 10), half(CERTAIN, 1), true) +
      0.9 * pairWeight(half(COMPLETED, 1), half(CERTAIN, 1), true);
    assert.equal(next, 1);
  });
  void test('weights reach the counters, with the variance sum and the unweighted pairs beside them', async () => {
    const { graph, metrics } = graphWith();
    for (let i = 0; i < 3; i++) {
      const t = nextId(32);
      graph.add(batch('a', [span(SpanKind.CLIENT, t, 'c', 'r', [weight(10)])]));
      graph.add(batch('b', [span(SpanKind.SERVER, t, 's', 'c', [weight(10)])]));
    }
    const t = nextId(32);
    graph.add(batch('a', [span(SpanKind.CLIENT, t, 'c', 'r', [weight(1), completed])]));
    graph.add(batch('b', [span(SpanKind.SERVER, t, 's', 'c', [weight(1)], { error: true })]));
    const labels = { client: 'a', server: 'b' };
    assert.equal(await sample(metrics, 'traces_service_graph_request_total', labels), 31);
    assert.equal(await sample(metrics, 'traces_service_graph_request_failed_total', labels), 1);
    assert.equal(await sample(metrics, 'sentinel_store_service_graph_sampled_pairs_total', labels), 4);
    assert.equal(await sample(metrics, 'sentinel_store_service_graph_request_variance_total', labels), 270);
    assert.equal(await sample(metrics, 'traces_service_graph_request_server_seconds_count', labels), 31);
    graph.close();
  });
});

void describe('service graph: names and labels', () => {
  void test('labels and prefix are configurable; reserved label names are refused with the key named', async () => {
    const { graph, metrics } = graphWith({ labels: { generator: 'sentinel-eu' }, prefix: 'sentinel_' });
    const t = nextId(32);
    graph.add(batch('a', [span(SpanKind.CLIENT, t, 'c', 'r')]));
    graph.add(batch('b', [span(SpanKind.SERVER, t, 's', 'c')]));
    assert.equal(
      await sample(metrics, 'sentinel_traces_service_graph_request_total', {
        client: 'a',
        generator: 'sentinel-eu',
      }),
      1,
    );
    assert.equal(await sample(metrics, 'traces_service_graph_request_total', {}), undefined);
    graph.close();
    assert.throws(
      () => validateConfig(serviceGraphSchema(), { labels: { client: 'x' } }, 'service_graph'),
      /labels.client: expected a Prometheus label name other than client/,
    );
    assert.throws(() => validateConfig(serviceGraphSchema(), { wait: 'soon' }, 'service_graph'), /wait/);
  });

  void test('max_edges bounds the series: further edges count under otel_metric_overflow', async () => {
    const { graph, metrics } = graphWith({ max_edges: 2 });
    for (const server of ['b', 'c', 'd', 'e']) {
      const t = nextId(32);
      graph.add(batch('a', [span(SpanKind.CLIENT, t, 'c', 'r')]));
      graph.add(batch(server, [span(SpanKind.SERVER, t, 's', 'c')]));
    }
    assert.equal(
      await sample(metrics, 'traces_service_graph_request_total', { client: 'otel_metric_overflow' }),
      2,
    );
    graph.close();
  });
});

void describe('GET /api/servicegraph', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  /** Sends through the store's OTLP/HTTP receiver, the path the graph taps. */
  const consume = (_store: unknown, data: TraceData) => postTraces(h.store.ports.http, data);
  const now = T0 + 5 * 60_000;
  before(async () => {
    h = await startTestStore({ clock: new ManualClock(now) });
    for (let i = 0; i < 40; i++) {
      const t = nextId(32);
      const variant = i % 2 ? 'canary' : 'baseline';
      await consume(
        h.store,
        batch('frontend', [
          span(SpanKind.CLIENT, t, 'c0c0c0c0c0c0c0c0', 'a0a0a0a0a0a0a0a0', [weight(10)], {
            startMs: T0 + i * 1000,
          }),
        ]),
      );
      await consume(
        h.store,
        batch(
          'cart',
          [
            span(SpanKind.SERVER, t, 'b0b0b0b0b0b0b0b0', 'c0c0c0c0c0c0c0c0', [weight(10)], {
              error: i % 4 === 0,
              startMs: T0 + i * 1000,
            }),
          ],
          variant,
        ),
      );
    }
  });
  after(() => h.dispose());

  void test('answers nodes and edges with rates, error rates and the interval, from the live state', async () => {
    const res = await h.query(`/api/servicegraph?start=${T0 / 1000}&end=${now / 1000}`);
    assert.equal(res.status, 200);
    const body = res.body as {
      source: string;
      edges: {
        client: string;
        server: string;
        requests: number;
        failed: number;
        sampledPairs: number;
        errorRate: number;
        requestsInterval95: number[];
        requestRate: number;
      }[];
      nodes: { id: string; requests: number }[];
    };
    assert.equal(body.source, 'live');
    const edge = body.edges.find((e) => e.client === 'frontend' && e.server === 'cart')!;
    assert.equal(edge.requests, 400);
    assert.equal(edge.sampledPairs, 40);
    assert.equal(edge.failed, 100);
    assert.equal(edge.errorRate, 0.25);
    assert.ok(Math.abs(edge.requestRate - 400 / 300) < 1e-9);
    // 400 ± 1.96 √(40 · 90) = 400 ± 117.6
    assert.ok(Math.abs(edge.requestsInterval95[0]! - (400 - 1.96 * 60)) < 1e-6);
    assert.deepEqual(
      body.nodes.map((n) => n.id),
      ['cart', 'frontend'],
    );
  });

  void test('splits edges by variant and keeps one service’s neighbours; refuses a bad parameter', async () => {
    const res = await h.query(`/api/servicegraph?service=cart&variants=true`);
    const edges = (res.body as { edges: { serverVariant: string; requests: number }[] }).edges;
    assert.deepEqual(edges.map((e) => [e.serverVariant, e.requests]).sort(), [
      ['baseline', 200],
      ['canary', 200],
    ]);
    const bad = await h.query('/api/servicegraph?variants=maybe');
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: string }).error, /variants: expected true or false/);
  });
});
