/**
 * Several store replicas as the chart runs them (store.replicas: 2 over one bucket, store TLS and auth on): two
 * stores started from the chart's store ConfigMap (store.yaml, and the CA beside it, mounted whole at
 * /etc/sentinel-store), with the reader token Secret and the TLS Secret's pair where the StatefulSet mounts them.
 * A trace lookup on one replica gets the spans the other holds and has not written to a block yet: over https,
 * checked against the CA under the headless Service's name, with the reader token. Only listen addresses,
 * directories and DNS change (the headless name resolves to 127.0.0.1, its :3200 is the other replica's port).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeTraceRequestJson } from '../src/otlp/index.js';
import { flattenTraceData, toTraceData } from '../src/storage/index.js';
import { startChartStore } from './helpers/chart-store.js';
import { startFakeTokenReview } from './helpers/fake-token-review.js';
import { makeCertificates } from './helpers/helm-certs.js';
import { helmTemplate } from './helpers/helm-template.js';
import { promSamples } from './helpers/prom-text.js';
import { consume } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

const root = mkdtempSync(join(tmpdir(), 'sentinel-chart-peers-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

const HEADLESS = 'sentinel-store-headless.sentinel.svc.cluster.local.';
const SERVICE_NAME = 'sentinel-store.sentinel.svc';

/** GET over https to 127.0.0.1:`port`, checking the certificate against `ca` under the Service's name. */
function getTls(
  port: number,
  path: string,
  ca: string,
  token: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca,
        servername: SERVICE_NAME,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('with store.replicas 2, a lookup on one replica gets the spans the other holds in no block yet, over TLS with the reader token', async () => {
  const dir = join(root, 'tls');
  mkdirSync(dir, { recursive: true });
  const { ca, cert, key } = makeCertificates(dir, [SERVICE_NAME, HEADLESS.slice(0, -1)]);
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca);
  const objects = helmTemplate<Obj>([
    '--set',
    'store.replicas=2',
    '--set',
    'store.storage.url=s3://traces/sentinel',
    '--set',
    'store.tls.enabled=true',
    '--set',
    'store.tls.secretName=sentinel-store-tls',
    '--set-file',
    `store.tls.caCert=${caFile}`,
  ]);
  const storeYaml = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-store')?.data;
  assert.match(storeYaml?.['store.yaml'] ?? '', /peers:/, 'the chart names the other replicas');
  const review = await startFakeTokenReview(dir);
  cleanups.push(() => review.close());
  const tls = { cert, key };

  // Replica 1 (the one asked). Its own lookups would resolve the headless name to nothing here.
  const other = await startChartStore(objects, join(dir, 'store-1'), {
    kubeconfig: review.kubeconfig,
    tls,
    peers: { port: 1, resolve: async () => [] },
  });
  cleanups.push(() => other.dispose());
  // Replica 0 (the one Grafana asks): the headless Service resolves to the other replica.
  const resolved: string[] = [];
  const front = await startChartStore(objects, join(dir, 'store-0'), {
    kubeconfig: review.kubeconfig,
    tls,
    peers: {
      port: other.store.ports.query,
      resolve: async (host) => {
        resolved.push(host);
        return ['127.0.0.1'];
      },
    },
  });
  cleanups.push(() => front.dispose());

  const rows = flattenTraceData(
    makeTraces({ traces: 1, spansPerTrace: 6, seed: 7, startMs: Date.UTC(2026, 0, 15) }),
  );
  const traceId = rows[0]!.span.traceId;
  await consume(front.store, toTraceData(rows.slice(0, 3)));
  await consume(other.store, toTraceData(rows.slice(3)));

  const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'sentinel-store-auth');
  const reader = Buffer.from(secret?.data?.['token'] ?? '', 'base64').toString('utf8');
  const answer = await getTls(front.store.ports.query, `/api/traces/${traceId}`, ca, reader);
  assert.equal(answer.status, 200, answer.body);
  const batches = (JSON.parse(answer.body) as { batches: unknown[] }).batches;
  const got = flattenTraceData(decodeTraceRequestJson(JSON.stringify({ resourceSpans: batches })));
  assert.deepEqual(got.map((r) => r.span.spanId).sort(), rows.map((r) => r.span.spanId).sort());
  assert.deepEqual(resolved, [HEADLESS], 'the absolute headless name, resolved once for the lookup');
  const results = promSamples(
    await front.metrics.registry.metrics(),
    'sentinel_store_query_peer_requests_total',
  );
  assert.deepEqual(
    results.map((s) => [s.labels['operation'], s.labels['result'], s.value]),
    [['trace', 'ok', 1]],
  );

  // A search on the same replica finds the trace whole, the other replica searching its half over the same TLS.
  const start = Math.floor(Date.UTC(2026, 0, 15) / 1000) - 60;
  const found = await getTls(
    front.store.ports.query,
    `/api/search?q=${encodeURIComponent('{}')}&start=${start}&end=${start + 3600}`,
    ca,
    reader,
  );
  assert.equal(found.status, 200, found.body);
  const hit = (
    JSON.parse(found.body) as { traces: Array<{ traceID: string; spanSets: Array<{ matched: number }> }> }
  ).traces.find((h) => h.traceID === traceId);
  assert.equal(hit?.spanSets[0]?.matched, 6, 'the 3 spans of each replica');

  // Without the reader token the peer route is a reader route like any query: refused.
  const anonymous = await getTls(other.store.ports.query, `/api/internal/pending/traces/${traceId}`, ca, 'x');
  assert.equal(anonymous.status, 401);
});
