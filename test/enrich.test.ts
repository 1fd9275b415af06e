import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  DownwardApiFormatError,
  formatDownwardApiFile,
  parseDownwardApiFile,
} from '../src/enrich/downward-api-format.js';
import { readDownwardEnv } from '../src/enrich/downward-env.js';
import { Enricher, type PodIdentity } from '../src/enrich/enricher.js';
import { deriveWorkloadNames } from '../src/enrich/workload-names.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { KubeletVolume } from './fixtures/enrich/kubelet-volume.js';
import { attrsOf, batchOf, capturingLogger, enrichConfig, resourceSpans } from './fixtures/enrich/helpers.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';

const POD_ENV = {
  POD_NAME: 'checkout-7d4b9c8f6d-x2k9q',
  POD_NAMESPACE: 'shop',
  POD_UID: '9a7e4a3c-1111-2222-3333-444455556666',
  NODE_NAME: 'node-a',
  POD_IP: '10.0.3.7',
  K8S_CONTAINER_NAME: 'checkout',
};

const LABELS = {
  app: 'checkout',
  'app.kubernetes.io/version': '1.4.2',
  'pod-template-hash': '7d4b9c8f6d',
  track: 'canary',
  team: 'payments',
};

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function enricherOver(
  volume: KubeletVolume | undefined,
  config: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = POD_ENV,
) {
  const sink = new CollectingConsumer();
  const metrics = new Metrics();
  const { logger, lines } = capturingLogger();
  const enricher = new Enricher({
    next: sink,
    config: enrichConfig({ podinfo_dir: volume?.dir ?? '/nonexistent/podinfo', ...config }),
    env,
    metrics,
    logger,
  });
  cleanups.push(() => enricher.shutdown());
  return { enricher, sink, metrics, lines };
}

function nextChange(enricher: Enricher, withinMs: number): Promise<PodIdentity> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no identity change within ${withinMs} ms`));
    }, withinMs);
    const off = enricher.onChange((id) => {
      clearTimeout(timer);
      off();
      resolve(id);
    });
  });
}

async function forwardedAttrs(
  enricher: Enricher,
  sink: CollectingConsumer,
  app: Record<string, string> = {},
) {
  await enricher.consume(batchOf(resourceSpans(app)));
  const last = sink.batches.at(-1);
  assert.ok(last, 'the batch was forwarded');
  return attrsOf(last.data.resourceSpans[0]!.resource.attributes);
}

void describe('the kubelet podinfo format', () => {
  void test('reads key="value" lines with Go escapes for quotes, backslashes, newlines and unicode', () => {
    const text = [
      'app="checkout"',
      'kubernetes.io/config.seen="2026-11-24T00:00:00Z"',
      'note="say \\"hi\\"\\nand C:\\\\temp \\u00e9t\\xc3\\xa9"',
      'empty=""',
    ].join('\n');
    const map = parseDownwardApiFile(text);
    assert.equal(map.get('app'), 'checkout');
    assert.equal(map.get('note'), 'say "hi"\nand C:\\temp été');
    assert.equal(map.get('empty'), '');
    assert.equal(map.size, 4);
  });

  void test('round-trips whatever the formatter writes', () => {
    const values = { a: 'plain', b: 'quote " and \\ and\nnewline\ttab', c: 'ünïcødé ✓', d: '\u0001ctl' };
    assert.deepEqual(Object.fromEntries(parseDownwardApiFile(formatDownwardApiFile(values))), values);
  });

  void test('names the line and what was expected when a line is malformed', () => {
    assert.throws(
      () => parseDownwardApiFile('a="1"\nb=2'),
      (err: unknown) => {
        assert.ok(err instanceof DownwardApiFormatError);
        assert.equal(err.line, 2);
        assert.match(err.message, /double-quoted value after "b="/);
        return true;
      },
    );
    assert.throws(() => parseDownwardApiFile('no equals sign'), /line 1: expected key="value"/);
    assert.throws(() => parseDownwardApiFile('a="bad \\q escape"'), /unknown escape \\q/);
    assert.throws(() => parseDownwardApiFile('a="unterminated'), /double-quoted/);
    assert.throws(() => parseDownwardApiFile('a="x"y"'), /unescaped double quote/);
  });
});

void describe('workload names without the Kubernetes API', () => {
  const now = Date.UTC(2026, 10, 24);
  const cases: { name: string; pod: string; labels: Record<string, string>; want: Record<string, string> }[] =
    [
      {
        name: 'Deployment pod: deployment and replicaset from pod-template-hash',
        pod: 'checkout-7d4b9c8f6d-x2k9q',
        labels: { 'pod-template-hash': '7d4b9c8f6d' },
        want: { deployment: 'checkout', replicaset: 'checkout-7d4b9c8f6d' },
      },
      {
        name: 'Deployment with dashes in its name',
        pod: 'payment-api-v2-5f6b7c9d8-bcdfg',
        labels: { 'pod-template-hash': '5f6b7c9d8' },
        want: { deployment: 'payment-api-v2', replicaset: 'payment-api-v2-5f6b7c9d8' },
      },
      {
        name: 'pod name cut short by generateName (hash lost): nothing guessed',
        pod: 'a-very-long-deployment-name-that-goes-on-and-on-and-on-x7f-bcdfg',
        labels: { 'pod-template-hash': '7d4b9c8f6d' },
        want: {},
      },
      {
        name: 'Argo Rollouts pod: only the replicaset (a Rollout is not a Deployment)',
        pod: 'checkout-6c9f7b5d4-zx2wq',
        labels: { 'rollouts-pod-template-hash': '6c9f7b5d4' },
        want: { replicaset: 'checkout-6c9f7b5d4' },
      },
      {
        name: 'StatefulSet pod',
        pod: 'kafka-broker-2',
        labels: {
          'statefulset.kubernetes.io/pod-name': 'kafka-broker-2',
          'controller-revision-hash': 'kafka-5d8',
        },
        want: { statefulset: 'kafka-broker' },
      },
      {
        name: 'DaemonSet pod',
        pod: 'node-exporter-7xk2m',
        labels: { 'controller-revision-hash': '6b7c9', 'pod-template-generation': '3' },
        want: { daemonset: 'node-exporter' },
      },
      {
        name: 'Job pod',
        pod: 'migrate-db-4xk2m',
        labels: { 'batch.kubernetes.io/job-name': 'migrate-db', 'job-name': 'migrate-db' },
        want: { job: 'migrate-db' },
      },
      {
        name: 'CronJob pod: cronjob from the scheduled-minutes suffix',
        pod: 'nightly-report-29402880-qwzx4',
        labels: { 'job-name': 'nightly-report-29402880' },
        want: { job: 'nightly-report-29402880', cronjob: 'nightly-report' },
      },
      {
        name: 'Job named with a typed date: not a CronJob',
        pod: 'backup-20260407-qwzx4',
        labels: { 'job-name': 'backup-20260407' },
        want: { job: 'backup-20260407' },
      },
      { name: 'bare pod', pod: 'debug-shell', labels: {}, want: {} },
    ];
  for (const c of cases) {
    void test(c.name, () => {
      assert.deepEqual({ ...deriveWorkloadNames(c.pod, new Map(Object.entries(c.labels)), now) }, c.want);
    });
  }
});

void describe('the enricher over a podinfo directory written like the kubelet', () => {
  void test('stamps every resource with the pod identity from the environment and the podinfo files', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: { 'sentinel.dev/owner': 'payments' } });
    cleanups.push(() => volume.remove());
    const { enricher, sink } = enricherOver(volume, {
      cluster_name: 'prod-eu-1',
      environment: 'production',
      extract: { labels: ['team', 'absent'], annotations: ['sentinel.dev/owner'] },
    });
    const attrs = await forwardedAttrs(enricher, sink, { 'service.name': 'checkout' });
    assert.deepEqual(attrs, {
      'service.name': 'checkout',
      'k8s.cluster.name': 'prod-eu-1',
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': 'checkout-7d4b9c8f6d-x2k9q',
      'k8s.pod.uid': '9a7e4a3c-1111-2222-3333-444455556666',
      'k8s.pod.ip': '10.0.3.7',
      'k8s.node.name': 'node-a',
      'k8s.container.name': 'checkout',
      'k8s.deployment.name': 'checkout',
      'k8s.replicaset.name': 'checkout-7d4b9c8f6d',
      'deployment.environment.name': 'production',
      'deployment.variant': 'canary',
      'k8s.pod.label.team': 'payments',
      'k8s.pod.annotation.sentinel.dev/owner': 'payments',
      'service.version': '1.4.2',
    });
    assert.equal(sink.spanCount(), 1);
  });

  void test('every resource of a batch is enriched and the batch is handed on whole', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: {} });
    cleanups.push(() => volume.remove());
    const { enricher, sink } = enricherOver(volume);
    const batch = batchOf(
      resourceSpans({ 'service.name': 'a' }, 3),
      resourceSpans({ 'service.name': 'b' }, 2),
    );
    await enricher.consume(batch);
    assert.equal(sink.batches[0], batch);
    for (const rs of batch.data.resourceSpans) {
      assert.equal(attrsOf(rs.resource.attributes)['k8s.pod.name'], 'checkout-7d4b9c8f6d-x2k9q');
    }
    assert.equal(sink.spanCount(), 5);
  });

  void test('a label change mid-run reaches new spans within 2 s', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: {} });
    cleanups.push(() => volume.remove());
    const { enricher, sink, metrics } = enricherOver(volume);
    assert.equal((await forwardedAttrs(enricher, sink))['deployment.variant'], 'canary');

    const changed = nextChange(enricher, 2000);
    volume.update({
      labels: { ...LABELS, track: 'stable', 'app.kubernetes.io/version': '1.5.0' },
      annotations: {},
    });
    await changed;
    const attrs = await forwardedAttrs(enricher, sink);
    assert.equal(attrs['deployment.variant'], 'baseline');
    assert.equal(attrs['service.version'], '1.5.0');
    assert.equal(await metrics.value('enrich_podinfo_reloads_total', { file: 'labels' }), 1);
  });

  void test('the periodic check alone (no file-system events) also picks up a swap within 2 s', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: {} });
    cleanups.push(() => volume.remove());
    const sink = new CollectingConsumer();
    const enricher = new Enricher({
      next: sink,
      config: enrichConfig({ podinfo_dir: volume.dir, podinfo_poll_interval: '200ms' }),
      env: POD_ENV,
      metrics: new Metrics(),
      logger: silentLogger(),
      watchPodinfo: false,
    });
    cleanups.push(() => enricher.shutdown());
    const changed = nextChange(enricher, 2000);
    volume.update({ labels: { ...LABELS, track: 'baseline' }, annotations: {} });
    await changed;
    assert.equal((await forwardedAttrs(enricher, sink))['deployment.variant'], 'baseline');
  });

  void test('a malformed file is logged and counted, and the last good values stay', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: { a: '1' } });
    cleanups.push(() => volume.remove());
    const { enricher, sink, metrics, lines } = enricherOver(volume);
    volume.update({ labels: 'app="checkout"\ntrack=canary-without-quotes\n', annotations: { a: '2' } });
    // The annotations file of the same version is fine and is taken; the labels file is not.
    await nextChange(enricher, 2000);
    assert.equal(enricher.identity().annotations.get('a'), '2');
    assert.equal(
      await metrics.value('enrich_podinfo_errors_total', { file: 'labels', reason: 'malformed' }),
      1,
    );
    const warned = lines.find((l) => l.code === 'SENTINEL_ERR_PODINFO_MALFORMED');
    assert.ok(warned, 'a warning with the error code was logged');
    assert.match(String(warned.msg), /labels .* is malformed \(line 2: expected a double-quoted value/);
    const attrs = await forwardedAttrs(enricher, sink);
    assert.equal(attrs['deployment.variant'], 'canary');
    assert.equal(attrs['k8s.deployment.name'], 'checkout');
    // Looking again at the same bad version neither re-counts nor re-logs.
    enricher.refreshPodinfo();
    assert.equal(await metrics.value('enrich_podinfo_errors_total', { file: 'labels' }), 1);

    // A good version afterwards is taken again.
    const changed = nextChange(enricher, 2000);
    volume.update({ labels: { ...LABELS, track: 'stable' }, annotations: { a: '2' } });
    await changed;
    assert.equal((await forwardedAttrs(enricher, sink))['deployment.variant'], 'baseline');
  });

  void test('a file malformed from the start yields no labels, and a file that disappears keeps its last values', async () => {
    const volume = new KubeletVolume({ labels: 'garbage', annotations: { a: '1' } });
    cleanups.push(() => volume.remove());
    const { enricher, metrics } = enricherOver(volume);
    assert.equal(enricher.identity().labels.size, 0);
    assert.equal(enricher.identity().annotations.get('a'), '1');
    assert.equal(
      await metrics.value('enrich_podinfo_errors_total', { file: 'labels', reason: 'malformed' }),
      1,
    );

    volume.update({ labels: { track: 'canary' } });
    await nextChange(enricher, 2000);
    assert.equal(enricher.identity().variant?.variant, 'canary');
    assert.equal(
      enricher.identity().annotations.get('a'),
      '1',
      'annotations gone from the volume: last values kept',
    );
    assert.equal(
      await metrics.value('enrich_podinfo_errors_total', { file: 'annotations', reason: 'missing' }),
      1,
    );
  });

  void test('without any podinfo volume the environment alone is used and nothing is reported', async () => {
    const { enricher, sink, metrics } = enricherOver(undefined);
    const attrs = await forwardedAttrs(enricher, sink);
    assert.equal(attrs['k8s.pod.name'], 'checkout-7d4b9c8f6d-x2k9q');
    assert.equal(
      attrs['k8s.deployment.name'],
      undefined,
      'no pod-template-hash label: no deployment guessed',
    );
    assert.equal(attrs['deployment.variant'], undefined);
    assert.equal(await metrics.value('enrich_podinfo_errors_total'), 0);
  });

  void test('outside a pod no k8s attribute comes from a stray variable such as a CI runner CONTAINER_NAME', () => {
    assert.deepEqual(readDownwardEnv({ CONTAINER_NAME: 'runner-1', K8S_CONTAINER_NAME: 'app' }), {});
    assert.deepEqual(
      readDownwardEnv({ POD_NAME: 'web-0', CONTAINER_NAME: 'runner-1', K8S_CONTAINER_NAME: 'app' }),
      {
        podName: 'web-0',
        containerName: 'app',
      },
    );
  });
});

void describe('precedence and cost', () => {
  void test("what the app set wins, and the app's own service.version survives", async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: {} });
    cleanups.push(() => volume.remove());
    const { enricher, sink } = enricherOver(volume);
    const attrs = await forwardedAttrs(enricher, sink, {
      'service.version': '9.9.9',
      'k8s.pod.name': 'set-by-app',
      'deployment.variant': 'baseline',
    });
    assert.equal(attrs['service.version'], '9.9.9');
    assert.equal(attrs['k8s.pod.name'], 'set-by-app');
    assert.equal(attrs['deployment.variant'], 'baseline');
    assert.equal(attrs['k8s.namespace.name'], 'shop');
  });

  void test('with override the agent wins, except for service.version', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: {} });
    cleanups.push(() => volume.remove());
    const { enricher, sink } = enricherOver(volume, { override: true });
    const batch = batchOf(
      resourceSpans({
        'service.version': '9.9.9',
        'k8s.pod.name': 'set-by-app',
        'deployment.variant': 'baseline',
      }),
    );
    await enricher.consume(batch);
    assert.equal(sink.batches[0], batch);
    const kv = batch.data.resourceSpans[0]!.resource.attributes;
    const attrs = attrsOf(kv);
    assert.equal(attrs['service.version'], '9.9.9');
    assert.equal(attrs['k8s.pod.name'], 'checkout-7d4b9c8f6d-x2k9q');
    assert.equal(attrs['deployment.variant'], 'canary');
    assert.equal(kv.filter((a) => a.key === 'k8s.pod.name').length, 1, 'replaced, not duplicated');
  });

  void test('an environment label wins over the configured environment', async () => {
    const volume = new KubeletVolume({ labels: { ...LABELS, env: 'staging' }, annotations: {} });
    cleanups.push(() => volume.remove());
    const { enricher, sink } = enricherOver(volume, { environment: 'production', environment_label: 'env' });
    assert.equal((await forwardedAttrs(enricher, sink))['deployment.environment.name'], 'staging');
  });

  void test('the attribute set is computed once per change, not per request', async () => {
    const volume = new KubeletVolume({ labels: LABELS, annotations: {} });
    cleanups.push(() => volume.remove());
    const { enricher, sink } = enricherOver(volume);
    const before = enricher.attributes();
    for (let i = 0; i < 50; i++) await enricher.consume(batchOf(resourceSpans({}, 2)));
    assert.equal(enricher.attributes(), before, 'the same frozen array serves every request');
    assert.ok(Object.isFrozen(before));
    const first = sink.batches[0]!.data.resourceSpans[0]!.resource.attributes;
    const last = sink.batches[49]!.data.resourceSpans[0]!.resource.attributes;
    assert.equal(first[0], last[0], 'resources share the precomputed attribute objects');
    const changed = nextChange(enricher, 2000);
    volume.update({ labels: { ...LABELS, track: 'stable' }, annotations: {} });
    await changed;
    assert.notEqual(enricher.attributes(), before);
  });

  void test('bufferedBytes, forceFlush and shutdown reach the next stage', async () => {
    const { enricher, sink } = enricherOver(undefined);
    sink.stall();
    const pending = enricher.consume(batchOf(resourceSpans({}, 4)));
    assert.equal(enricher.bufferedBytes(), 400);
    await enricher.forceFlush();
    await enricher.shutdown();
    await pending;
    assert.equal(sink.spanCount(), 4);
    await enricher.shutdown();
  });
});
