/**
 * Issue 19 "Must show": three agents (frontend, cart, payments) sampling errors + 10 % with the decision feed,
 * 2,000 requests crossing all three (frontend -> cart -> payments, CLIENT and SERVER spans, from the official
 * SDK). The store's `traces_service_graph_request_total` estimates each edge within 15 % (the unweighted count
 * printed beside it), and the failed counts are exactly the errors sent. A real Prometheus scrapes the store
 * and the agents, and the PromQL that Grafana's Tempo data source sends for the service map and the APM table
 * returns the expected series.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import type { RunningAgent } from '../../src/agent/agent.js';
import type { Metrics } from '../../src/telemetry/index.js';
import { promSamples } from '../helpers/prom-text.js';
import { prometheusBinary, startPrometheus, type RunningPrometheus } from '../helpers/prometheus.js';
import { agentTracerProvider } from '../helpers/sdk.js';
import {
  releasedSpans,
  SHOP_SERVICES,
  startShopAgents,
  waitAllDecided,
  writeErrorsPlusPolicy,
  type ShopService,
} from '../helpers/shop-agents.js';
import { startTestStore } from '../helpers/store-harness.js';

const SERVICES = SHOP_SERVICES;
type Service = ShopService;
const REQUESTS = 2000;
/** Payment declined: payments' SERVER span and cart's CLIENT span fail; cart answers frontend anyway. */
const paymentFails = (i: number) => i % 10 === 3;
/** Cart fails after calling payments: cart's SERVER span fails; frontend shows a degraded page (no error). */
const cartFails = (i: number) => i % 20 === 7;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'sentinel-service-graph-'));
const policyFile = writeErrorsPlusPolicy(dir, 10);

/** Samples of one metric in Prometheus text, by labels. */
const samples = promSamples;
const edgeValue = (text: string, name: string, client: string, server: string) =>
  samples(text, name).find((s) => s.labels['client'] === client && s.labels['server'] === server)?.value ?? 0;

/**
 * The PromQL Grafana's Tempo data source sends (grafana/grafana public/app/plugins/datasource/tempo:
 * `makePromServiceMapRequest` in datasource.ts for the service map; `rateMetric`, `errorRateMetric`,
 * `durationMetric` in graphTransform.ts through `buildExpr` for the APM table), with the service graph filter
 * `{source="sentinel"}` in the query editor and `$__range` replaced as Grafana does.
 */
const FILTER = '{source="sentinel"}';
const RANGE = '5m';
const serviceMapQueries = [
  'traces_service_graph_request_server_seconds_sum',
  'traces_service_graph_request_total',
  'traces_service_graph_request_failed_total',
  'traces_service_graph_request_server_seconds_bucket',
].flatMap((metric) => [
  { metric, expr: `sum by (client, server) (rate(${metric}${FILTER}[${RANGE}]))` },
  { metric: `${metric}_labels`, expr: `group by (client, connection_type, server) (${metric}${FILTER})` },
]);
// buildExpr: the filter without braces, client/server mapped to service, then the table filter.
const apmRate = `topk(5, sum(rate(traces_spanmetrics_calls_total{source="sentinel",span_kind="SPAN_KIND_SERVER"}[${RANGE}])) by (span_name))`;
const apmErrorRate = (names: string[]) =>
  `topk(5, sum(rate(traces_spanmetrics_calls_total{status_code="STATUS_CODE_ERROR",source="sentinel",span_name=~"${names.join('|')}"}[${RANGE}])) by (span_name))`;
const apmDuration = (name: string) =>
  `histogram_quantile(.9, sum(rate(traces_spanmetrics_latency_bucket{source="sentinel",span_name=~"${name}"}[${RANGE}])) by (le))`;

interface Run {
  readonly storeMetrics: string;
  readonly graph: {
    edges: {
      client: string;
      server: string;
      requests: number;
      failed: number;
      sampledPairs: number;
      requestsInterval95: number[];
    }[];
  };
}

void describe('service graph from sampled traces: three agents, one store, Prometheus', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let prometheus: RunningPrometheus | undefined;
  let prometheusSkip: string | undefined;
  const agents = new Map<Service, RunningAgent>();
  const agentMetrics = new Map<Service, Metrics>();
  const providers: TracerProvider[] = [];
  let run: Run;

  before(async () => {
    h = await startTestStore({ dir: mkdtempSync(join(dir, 'store-')) });
    const started = await startShopAgents({
      policyFile,
      storeHttpPort: h.store.ports.http,
      measure: { naming: 'tempo' },
      completion: () => ({
        enabled: true,
        stores: [`http://127.0.0.1:${h.store.ports.query}`],
        poll_interval: '300ms',
        window: '30s',
      }),
    });
    for (const [service, agent] of started.agents) agents.set(service, agent);
    for (const [service, m] of started.metrics) agentMetrics.set(service, m);
    const binary = prometheusBinary();
    if (binary) {
      prometheus = await startPrometheus(binary, {
        'sentinel-store': [h.store.ports.admin],
        'sentinel-agent': SERVICES.map((s) => agents.get(s)!.ports.admin),
      });
      await prometheus.scrapedSince(Date.now());
    } else {
      prometheusSkip =
        'no prometheus binary (apt-get install prometheus, as .ci/run does; or SENTINEL_TEST_PROMETHEUS=/path)';
    }

    const tracers = SERVICES.map((service, i) => {
      const provider = agentTracerProvider(
        resourceFromAttributes({ 'service.name': service }),
        agents.get(service)!,
        7000 + i,
        20_000,
      );
      providers.push(provider);
      return provider.getTracer('service-graph-test');
    }) as [Tracer, Tracer, Tracer];
    const [frontend, cart, payments] = tracers;
    for (let i = 0; i < REQUESTS; i++) {
      const root = frontend.startSpan('GET /checkout', { kind: SpanKind.SERVER });
      const c1 = trace.setSpan(context.active(), root);
      const callCart = frontend.startSpan('POST cart', { kind: SpanKind.CLIENT }, c1);
      const cartServer = cart.startSpan(
        'POST /cart/checkout',
        { kind: SpanKind.SERVER },
        trace.setSpan(c1, callCart),
      );
      const c2 = trace.setSpan(c1, cartServer);
      const callPay = cart.startSpan('POST payments', { kind: SpanKind.CLIENT }, c2);
      const payServer = payments.startSpan(
        'POST /charge',
        { kind: SpanKind.SERVER },
        trace.setSpan(c2, callPay),
      );
      if (paymentFails(i)) {
        payServer.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
        callPay.setStatus({ code: SpanStatusCode.ERROR, message: 'HTTP 402' });
      }
      if (cartFails(i)) cartServer.setStatus({ code: SpanStatusCode.ERROR, message: 'cart store down' });
      for (const s of [payServer, callPay, cartServer, callCart, root]) s.end();
      if (i % 100 === 99) await sleep(100);
    }
    await Promise.all(providers.map((p) => p.forceFlush()));

    // Every trace decided, the feed's releases settled, then the store's pairs (wait 10 s) settled too.
    const deadline = Date.now() + 90_000;
    await waitAllDecided(agentMetrics.values(), deadline);
    let last = '';
    for (;;) {
      const released = await releasedSpans(agentMetrics.values());
      const text = await h.metrics.registry.metrics();
      const now = `${released} ${samples(text, 'sentinel_store_service_graph_sampled_pairs_total')
        .map((s) => s.value)
        .join(',')}`;
      if (now === last) break;
      last = now;
      assert.ok(Date.now() < deadline, 'releases and pairs settle');
      await sleep(1500);
    }
    const graph = await h.query('/api/servicegraph');
    run = {
      storeMetrics: await h.metrics.registry.metrics(),
      graph: graph.body as Run['graph'],
    };
  });

  after(async () => {
    await Promise.all(providers.map((p) => p.shutdown().catch(() => undefined)));
    for (const agent of agents.values()) await agent.shutdown();
    await prometheus?.stop();
    await h?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  void test('each edge estimates 2,000 requests within 15 % from the sample; failed counts are exactly the errors sent', () => {
    const sentFailed: Record<string, number> = {
      'frontend->cart': Array.from({ length: REQUESTS }, (_, i) => i).filter(cartFails).length,
      'cart->payments': Array.from({ length: REQUESTS }, (_, i) => i).filter(paymentFails).length,
    };
    for (const [client, server] of [
      ['frontend', 'cart'],
      ['cart', 'payments'],
    ] as const) {
      const text = run.storeMetrics;
      const estimate = edgeValue(text, 'traces_service_graph_request_total', client, server);
      const failed = edgeValue(text, 'traces_service_graph_request_failed_total', client, server);
      const unweighted = edgeValue(text, 'sentinel_store_service_graph_sampled_pairs_total', client, server);
      const edge = run.graph.edges.find((e) => e.client === client && e.server === server)!;
      console.log(
        `${client} -> ${server}: estimated ${estimate.toFixed(0)} of ${REQUESTS} requests (95 % interval ${edge.requestsInterval95.map((x) => x.toFixed(0)).join('..')}) from ${unweighted} pairs in the sample (unweighted); failed ${failed} (sent ${sentFailed[`${client}->${server}`]})`,
      );
      assert.ok(Math.abs(estimate - REQUESTS) <= 0.15 * REQUESTS, `${estimate} within 15 % of ${REQUESTS}`);
      assert.ok(unweighted < 0.5 * REQUESTS, 'the sample holds far fewer pairs than requests');
      assert.equal(failed, sentFailed[`${client}->${server}`]);
      // The JSON API reads the same live state.
      assert.equal(edge.requests, estimate);
      assert.equal(edge.failed, failed);
    }
    // The root SERVER spans' caller is Tempo's "user" node; nothing waits or expires unpaired at the end.
    assert.ok(edgeValue(run.storeMetrics, 'traces_service_graph_request_total', 'user', 'frontend') > 0);
    assert.equal(samples(run.storeMetrics, 'sentinel_store_service_graph_pending_items')[0]?.value, 0);
  });

  void test("Prometheus scrapes the store and the agents; Grafana's service map and APM table PromQL return the expected series", async (t) => {
    if (!prometheus) {
      t.skip(prometheusSkip);
      return;
    }
    await prometheus.scrapedSince(Date.now());
    // The service map: every query answers the two edges (and user -> frontend), labels as Grafana reads them.
    for (const q of serviceMapQueries) {
      const result = await prometheus.query(q.expr);
      const edges = new Set(result.map((r) => `${r.metric['client']}->${r.metric['server']}`));
      for (const e of ['frontend->cart', 'cart->payments', 'user->frontend'])
        assert.ok(edges.has(e), `${q.expr} has ${e}: ${[...edges].join(', ')}`);
      if (q.metric.endsWith('_labels'))
        assert.ok(
          result.some((r) => r.metric['connection_type'] === 'virtual_node'),
          'user -> frontend is virtual',
        );
      else if (!q.metric.startsWith('traces_service_graph_request_failed'))
        for (const r of result) assert.ok(r.value > 0, `${q.expr}: ${JSON.stringify(r)}`);
    }
    const failed = await prometheus.query(serviceMapQueries[4]!.expr);
    const failedEdges = new Set(
      failed.filter((r) => r.value > 0).map((r) => `${r.metric['client']}->${r.metric['server']}`),
    );
    assert.deepEqual([...failedEdges].sort(), ['cart->payments', 'frontend->cart']);

    // The APM table: rate per SERVER span name from the agents' Tempo-named span metrics, then errors, then p90.
    const rates = await prometheus.query(apmRate);
    const names = rates.map((r) => r.metric['span_name']!).sort();
    assert.deepEqual(names, ['GET /checkout', 'POST /cart/checkout', 'POST /charge']);
    for (const r of rates) assert.ok(r.value > 0);
    const errors = await prometheus.query(apmErrorRate(names));
    assert.deepEqual(errors.map((r) => r.metric['span_name']).sort(), [
      'POST /cart/checkout',
      'POST /charge',
    ]);
    for (const name of names) {
      const p90 = await prometheus.query(apmDuration(name));
      assert.equal(p90.length, 1, apmDuration(name));
      assert.ok(p90[0]!.value > 0 && p90[0]!.value < 1, `${name} p90 ${p90[0]!.value}`);
    }
    // The counters Prometheus holds are the store's own (the same scrape of the same registry).
    const total = await prometheus.query(
      'traces_service_graph_request_total{client="frontend",server="cart"}',
    );
    assert.equal(
      total[0]?.value,
      edgeValue(run.storeMetrics, 'traces_service_graph_request_total', 'frontend', 'cart'),
    );
    console.log(
      `prometheus ${prometheus.url}: ${serviceMapQueries.length} service map queries and ${2 + names.length} APM table queries answered; APM rates ${rates.map((r) => `${r.metric['span_name']} ${r.value.toFixed(2)}/s`).join(', ')}`,
    );
  });
});
