import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { Enricher, type PodIdentity } from '../src/enrich/enricher.js';
import { Metrics } from '../src/telemetry/index.js';
import { FakeKubeApi, ownedObject, podObject } from './fixtures/enrich/fake-kube-api.js';
import { attrsOf, batchOf, capturingLogger, enrichConfig, resourceSpans } from './fixtures/enrich/helpers.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';

const NS = 'shop';
const POD = `/api/v1/namespaces/${NS}/pods/checkout-abc12-x2k9q`;
const RS = `/apis/apps/v1/namespaces/${NS}/replicasets/checkout-abc12`;
const SIBLING = `/apis/apps/v1/namespaces/${NS}/deployments/checkout-primary`;
const ENV = { POD_NAME: 'checkout-abc12-x2k9q', POD_NAMESPACE: NS };

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function fakeApi(): Promise<{ api: FakeKubeApi; kc: KubeConfig }> {
  const api = new FakeKubeApi();
  const kc = await api.start();
  cleanups.push(() => api.close());
  return { api, kc };
}

function enricherWithApi(
  kc: KubeConfig,
  apiConfig: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = ENV,
) {
  const sink = new CollectingConsumer();
  const metrics = new Metrics();
  const { logger, lines } = capturingLogger();
  const enricher = new Enricher({
    next: sink,
    config: enrichConfig({
      podinfo_dir: '/nonexistent/podinfo',
      kubernetes_api: { enabled: true, timeout: '2s', retry_interval: '1h', ...apiConfig },
    }),
    env,
    metrics,
    logger,
    kubeConfig: kc,
  });
  cleanups.push(() => enricher.shutdown());
  return { enricher, sink, metrics, lines };
}

function deploymentPod(api: FakeKubeApi): void {
  api
    .set(
      POD,
      podObject({
        name: 'checkout-abc12-x2k9q',
        namespace: NS,
        uid: 'uid-from-api',
        labels: { app: 'checkout', 'pod-template-hash': 'abc12', track: 'canary' },
        owner: { kind: 'ReplicaSet', name: 'checkout-abc12' },
      }),
    )
    // The Deployment's name comes from the owner reference, not from the ReplicaSet's name.
    .set(
      RS,
      ownedObject('apps/v1', 'ReplicaSet', 'checkout-abc12', NS, { kind: 'Deployment', name: 'checkout-v2' }),
    );
}

function nextChange(enricher: Enricher, withinMs: number): Promise<PodIdentity> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no identity change within ${withinMs} ms`)), withinMs);
    const off = enricher.onChange((id) => {
      clearTimeout(timer);
      off();
      resolve(id);
    });
  });
}

const lastAttrs = (sink: CollectingConsumer) =>
  attrsOf(sink.batches.at(-1)!.data.resourceSpans[0]!.resource.attributes);

void describe('enrichment from the Kubernetes API', () => {
  void test('reads the owner chain once per pod, not per span', async () => {
    const { api, kc } = await fakeApi();
    deploymentPod(api);
    const { enricher, sink, metrics } = enricherWithApi(kc);
    await enricher.apiSettled();
    for (let i = 0; i < 200; i++) await enricher.consume(batchOf(resourceSpans({}, 5)));
    assert.equal(sink.spanCount(), 1000);
    assert.equal(api.count(POD), 1);
    assert.equal(api.count(RS), 1);
    assert.equal(
      api.count(`/apis/apps/v1/namespaces/${NS}/deployments/checkout-v2-primary`),
      1,
      'one look for a Flagger primary sibling',
    );
    assert.equal(api.requests.length, 3);
    assert.equal(
      await metrics.value('enrich_kubernetes_api_requests_total', { resource: 'pods', outcome: 'ok' }),
      1,
    );
    const attrs = lastAttrs(sink);
    assert.equal(attrs['k8s.deployment.name'], 'checkout-v2');
    assert.equal(attrs['k8s.replicaset.name'], 'checkout-abc12');
    assert.equal(attrs['k8s.node.name'], 'node-from-api');
    assert.equal(attrs['k8s.pod.uid'], 'uid-from-api');
    assert.equal(
      attrs['deployment.variant'],
      'canary',
      'labels from the API when no podinfo volume is mounted',
    );
  });

  void test('follows Job to CronJob', async () => {
    const { api, kc } = await fakeApi();
    api
      .set(
        `/api/v1/namespaces/${NS}/pods/report-1-q2w3e`,
        podObject({ name: 'report-1-q2w3e', namespace: NS, owner: { kind: 'Job', name: 'report-1' } }),
      )
      .set(
        `/apis/batch/v1/namespaces/${NS}/jobs/report-1`,
        ownedObject('batch/v1', 'Job', 'report-1', NS, { kind: 'CronJob', name: 'report' }),
      );
    const { enricher, sink } = enricherWithApi(kc, {}, { POD_NAME: 'report-1-q2w3e', POD_NAMESPACE: NS });
    await enricher.apiSettled();
    await enricher.consume(batchOf(resourceSpans()));
    const attrs = lastAttrs(sink);
    assert.equal(attrs['k8s.job.name'], 'report-1');
    assert.equal(attrs['k8s.cronjob.name'], 'report');
  });

  void test('never blocks ingest: spans before the answer get what is known, later spans get the rest', async () => {
    const { api, kc } = await fakeApi();
    deploymentPod(api);
    api.hang(POD);
    const { enricher, sink } = enricherWithApi(kc, { timeout: '10s' });
    await enricher.consume(batchOf(resourceSpans()));
    assert.equal(sink.spanCount(), 1, 'forwarded while the API has not answered');
    assert.equal(lastAttrs(sink)['k8s.pod.name'], 'checkout-abc12-x2k9q');
    assert.equal(lastAttrs(sink)['k8s.deployment.name'], undefined);
  });

  void test('a timeout falls back to the Downward API, is logged and counted', async () => {
    const { api, kc } = await fakeApi();
    deploymentPod(api);
    api.hang(POD);
    const { enricher, sink, metrics, lines } = enricherWithApi(kc, { timeout: '150ms' });
    await enricher.apiSettled();
    assert.equal(await metrics.value('enrich_kubernetes_api_requests_total', { outcome: 'timeout' }), 1);
    assert.ok(lines.some((l) => l.code === 'SENTINEL_ERR_KUBERNETES_API'));
    await enricher.consume(batchOf(resourceSpans()));
    assert.equal(lastAttrs(sink)['k8s.namespace.name'], NS);
  });

  void test('a failed read is retried after retry_interval and then enriches', async () => {
    const { api, kc } = await fakeApi();
    deploymentPod(api);
    api.fail(POD, 500);
    const { enricher, sink, metrics } = enricherWithApi(kc, { retry_interval: '100ms' });
    await enricher.apiSettled();
    assert.equal(await metrics.value('enrich_kubernetes_api_requests_total', { outcome: 'error' }), 1);
    api.clear(POD);
    await nextChange(enricher, 5000);
    await enricher.consume(batchOf(resourceSpans()));
    assert.equal(lastAttrs(sink)['k8s.deployment.name'], 'checkout-v2');
    assert.equal(api.count(POD), 2);
  });

  void test('without leave to read ReplicaSets the Deployment comes from the ReplicaSet name', async () => {
    const { api, kc } = await fakeApi();
    deploymentPod(api);
    api.fail(RS, 403);
    const { enricher, sink, metrics } = enricherWithApi(kc);
    await enricher.apiSettled();
    await enricher.consume(batchOf(resourceSpans()));
    assert.equal(lastAttrs(sink)['k8s.deployment.name'], 'checkout');
    assert.equal(await metrics.value('enrich_kubernetes_api_requests_total', { outcome: 'forbidden' }), 1);
  });

  void test('a Flagger target is canary when the API shows its -primary sibling', async () => {
    const { api, kc } = await fakeApi();
    api
      .set(
        POD,
        podObject({
          name: 'checkout-abc12-x2k9q',
          namespace: NS,
          labels: { app: 'checkout', 'pod-template-hash': 'abc12' },
          owner: { kind: 'ReplicaSet', name: 'checkout-abc12' },
        }),
      )
      .set(
        RS,
        ownedObject('apps/v1', 'ReplicaSet', 'checkout-abc12', NS, { kind: 'Deployment', name: 'checkout' }),
      )
      .set(SIBLING, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'checkout-primary', namespace: NS },
        spec: {
          selector: { matchLabels: { app: 'checkout-primary' } },
          template: {
            metadata: { labels: { app: 'checkout-primary' }, annotations: { 'flagger-id': 'f1' } },
            spec: { containers: [{ name: 'app', image: 'app:1' }] },
          },
        },
      });
    const { enricher, sink } = enricherWithApi(kc);
    await enricher.apiSettled();
    await enricher.consume(batchOf(resourceSpans()));
    assert.equal(lastAttrs(sink)['deployment.variant'], 'canary');
    assert.equal(enricher.identity().variant?.rule, 'flagger');
  });

  void test('is not asked when POD_NAME or POD_NAMESPACE is missing', async () => {
    const { api, kc } = await fakeApi();
    const { enricher, lines } = enricherWithApi(kc, {}, { POD_NAME: 'x' });
    await enricher.apiSettled();
    assert.equal(api.requests.length, 0);
    assert.ok(lines.some((l) => /POD_NAMESPACE or POD_NAME is not set/.test(String(l.msg))));
  });
});
