/**
 * Agents with a projected ServiceAccount token and nothing else (issue 14): the official OpenTelemetry SDK -> two
 * sentinel agents (one exporting OTLP/gRPC, one OTLP/HTTP, both with the decision feed and the central policy, all
 * three with the same token file) -> a store checking the token with TokenReview (a stand-in API server over HTTPS,
 * reached through a kubeconfig) -> read back with the reader credential, refused with the agent's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from '../helpers/agent-config.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { bearer } from '../helpers/bearer-clients.js';
import { ConfigMapVolume } from '../helpers/config-map-volume.js';
import { projectedToken, startFakeTokenReview, type FakeTokenReview } from '../helpers/fake-token-review.js';
import { recordAndSend, sdkExporter } from '../helpers/sdk.js';
import { startTestStore } from '../helpers/store-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-agent-identity-'));
const volume = new ConfigMapVolume('policies:\n  - {name: central-keep-all, type: always_sample}\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

void describe('agents that hold only a projected ServiceAccount token', () => {
  let kube: FakeTokenReview;
  let h: Awaited<ReturnType<typeof startTestStore>>;
  const agents: { agent: RunningAgent; metrics: Metrics; protocol: string }[] = [];
  const tokenFile = join(dir, 'token');
  const readerFile = join(dir, 'reader-token');
  let token: string;
  const traceIds = new Map<string, string[]>();

  before(async () => {
    kube = await startFakeTokenReview(dir);
    token = projectedToken('shop:checkout', 'sentinel', Math.floor(Date.now() / 1000) + 3600);
    kube.tokens.set(token, { username: 'system:serviceaccount:shop:checkout', audiences: ['sentinel'] });
    // The kubelet writes the projected token into the pod's volume.
    writeFileSync(tokenFile, token);
    writeFileSync(readerFile, 'grafana-reader\n');
    h = await startTestStore({
      overrides: {
        policy: { file: volume.file },
        auth: {
          required: true,
          reader_token_files: [readerFile],
          token_review: { enabled: true, kubeconfig: kube.kubeconfig },
        },
      },
    });
    const query = `http://127.0.0.1:${h.store.ports.query}`;
    for (const protocol of ['grpc', 'http'] as const) {
      const config = testAgentConfig({
        sampling: {
          decision_wait: '200ms',
          central_policy: { url: query, poll_interval: '1s', bearer_token_file: tokenFile },
          policy_snapshot: 'policies:\n  - {name: snapshot, type: always_sample}\n',
          completion: {
            enabled: true,
            stores: [query],
            poll_interval: '200ms',
            bearer_token_file: tokenFile,
          },
        },
        exporters: [
          {
            type: 'otlp',
            name: 'store',
            endpoint:
              protocol === 'grpc'
                ? `http://127.0.0.1:${h.store.ports.grpc}`
                : `http://127.0.0.1:${h.store.ports.http}`,
            protocol,
            bearer_token_file: tokenFile,
            batch: { timeout: '100ms' },
          },
        ],
      });
      const metrics = new Metrics();
      const agent = await startAgent(config, { logger: silentLogger(), metrics, env: {} });
      agents.push({ agent, metrics, protocol });
    }
    // Each agent has its central policy before the app sends anything.
    for (const a of agents) {
      const deadline = Date.now() + 10_000;
      while ((await a.metrics.value('policy_reloads_total')) < 1) {
        assert.ok(Date.now() < deadline, `agent (${a.protocol}) fetched the central policy`);
        await sleep(20);
      }
    }
    for (const a of agents) {
      const sent = await recordAndSend(
        20,
        sdkExporter('proto', { grpcPort: a.agent.ports.grpc, httpPort: a.agent.ports.http }),
        { serviceName: `checkout-${a.protocol}` },
      );
      traceIds.set(a.protocol, [...new Set(sent.map((s) => s.spanContext().traceId))]);
    }
    for (const a of agents) {
      const deadline = Date.now() + 30_000;
      while ((await a.metrics.value('exporter_sent_spans_total', { exporter: 'store' })) < 20) {
        assert.ok(Date.now() < deadline, `agent (${a.protocol}) exported its spans to the store`);
        await sleep(20);
      }
    }
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.agent.shutdown()));
    await h?.dispose();
    await kube?.close();
    volume.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the store takes their spans over OTLP/gRPC and OTLP/HTTP, their feed polls and their policy fetches', async () => {
    for (const a of agents) {
      assert.equal(await a.metrics.value('exporter_failed_spans_total'), 0, a.protocol);
      assert.equal(await a.metrics.value('policy_fetch_errors_total'), 0, a.protocol);
      assert.equal(await a.metrics.value('sampling_completion_feed_errors_total'), 0, a.protocol);
    }
    assert.ok((await h.metrics.value('receiver_accepted_spans_total', { transport: 'grpc' })) >= 20);
    assert.ok((await h.metrics.value('receiver_accepted_spans_total', { transport: 'http' })) >= 20);
    assert.ok((await h.metrics.value('store_policy_requests_total', { status: '200' })) >= 2);
    assert.equal(await h.metrics.value('store_auth_refused_requests_total'), 0);
  });

  test('one TokenReview served every request of both agents (exports, feed polls, policy polls)', () => {
    assert.equal(kube.calls.get(token), 1);
  });

  test('the reader credential reads their traces; their own token cannot', async () => {
    for (const [protocol, ids] of traceIds) {
      const id = ids[0]!;
      const asReader = await h.query(`/api/traces/${id}`, bearer('grafana-reader'));
      assert.equal(asReader.status, 200, protocol);
      const asAgent = await h.query(`/api/traces/${id}`, bearer(token));
      assert.equal(asAgent.status, 403, protocol);
      assert.equal((await h.query(`/api/search?service=checkout-${protocol}`, bearer(token))).status, 403);
    }
  });
});
