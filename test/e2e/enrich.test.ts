import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Enricher } from '../../src/enrich/enricher.js';
import type { OtlpReceivers } from '../../src/receiver/index.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { KubeletVolume } from '../fixtures/enrich/kubelet-volume.js';
import { attrsOf, enrichConfig } from '../fixtures/enrich/helpers.js';
import { CollectingConsumer } from '../helpers/collecting-consumer.js';
import { startReceivers } from '../helpers/receivers.js';
import { recordAndSend, sdkExporter, type SdkTransport } from '../helpers/sdk.js';

// The official SDK exporter -> OTLP receivers -> Enricher -> the rest of the pipeline (collected here).
void describe('end to end: SDK exporter -> receivers -> enricher', () => {
  let volume: KubeletVolume;
  let sink: CollectingConsumer;
  let enricher: Enricher;
  let receivers: OtlpReceivers;
  let ports: { grpcPort: number; httpPort: number };

  before(async () => {
    volume = new KubeletVolume({
      labels: {
        app: 'checkout',
        // The app itself reports 1.2.3 (test/helpers/sdk.ts): the label must not replace it.
        'app.kubernetes.io/version': '9.9.9',
        'pod-template-hash': '7d4b9c8f6d',
        track: 'canary',
      },
      annotations: { 'kubernetes.io/config.seen': '2026-11-24T00:00:00.000000000Z' },
    });
    sink = new CollectingConsumer();
    const metrics = new Metrics();
    const logger = silentLogger();
    enricher = new Enricher({
      next: sink,
      config: enrichConfig({ podinfo_dir: volume.dir, cluster_name: 'e2e', environment: 'test' }),
      env: {
        POD_NAME: 'checkout-7d4b9c8f6d-x2k9q',
        POD_NAMESPACE: 'shop',
        POD_UID: 'e2e-uid',
        NODE_NAME: 'node-e2e',
        K8S_CONTAINER_NAME: 'checkout',
      },
      metrics,
      logger,
    });
    const started = await startReceivers(enricher, { metrics, logger });
    receivers = started.receivers;
    ports = { grpcPort: started.grpcPort, httpPort: started.httpPort };
  });

  after(async () => {
    await receivers.stop();
    await enricher.shutdown();
    volume.remove();
  });

  for (const transport of ['grpc', 'proto', 'json'] as SdkTransport[]) {
    void test(`spans sent over ${transport} carry the pod identity and the app's own service.version`, async () => {
      const before = sink.spanCount();
      const firstBatch = sink.batches.length;
      const sent = await recordAndSend(20, sdkExporter(transport, ports));
      assert.equal(sink.spanCount() - before, sent.length);
      const batches = sink.batches.slice(firstBatch);
      let resources = 0;
      for (const b of batches) {
        for (const rs of b.data.resourceSpans) {
          resources++;
          const attrs = attrsOf(rs.resource.attributes);
          assert.equal(attrs['service.name'], 'checkout');
          assert.equal(attrs['service.version'], '1.2.3');
          assert.equal(attrs['k8s.cluster.name'], 'e2e');
          assert.equal(attrs['k8s.namespace.name'], 'shop');
          assert.equal(attrs['k8s.pod.name'], 'checkout-7d4b9c8f6d-x2k9q');
          assert.equal(attrs['k8s.pod.uid'], 'e2e-uid');
          assert.equal(attrs['k8s.node.name'], 'node-e2e');
          assert.equal(attrs['k8s.container.name'], 'checkout');
          assert.equal(attrs['k8s.deployment.name'], 'checkout');
          assert.equal(attrs['k8s.replicaset.name'], 'checkout-7d4b9c8f6d');
          assert.equal(attrs['deployment.environment.name'], 'test');
          assert.equal(attrs['deployment.variant'], 'canary');
          assert.equal(rs.resource.attributes.filter((a) => a.key === 'service.version').length, 1);
        }
      }
      assert.ok(resources > 0);
    });
  }
});
