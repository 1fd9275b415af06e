/**
 * Issue 9: the agent's decision-feed client against real store replicas (started here on port 0): publish to
 * one replica, read every replica, follow a replica to a new address by its feed epoch, fail over, bearer
 * tokens, and bad answers counted without a crash.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { agentConfigSchema, validateConfig } from '../src/config/index.js';
import { isSentinelError } from '../src/errors.js';
import { DecisionFeedClient } from '../src/decision-feed/feed-client.js';
import { parseDnsTarget as parseTarget } from '../src/http/replicas.js';
import type { FeedClientOptions } from '../src/decision-feed/feed-client.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeCertificate } from './fixtures/injector/tls.js';
import { startTestStore } from './helpers/store-harness.js';
import { TestService } from './helpers/tcp-service.js';

type TestStore = Awaited<ReturnType<typeof startTestStore>>;
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function store(overrides: Record<string, unknown> = {}): Promise<TestStore> {
  const h = await startTestStore({ overrides });
  cleanups.push(() => h.dispose());
  return h;
}

const ids = (n: number) => Array.from({ length: n }, () => randomBytes(16).toString('hex'));
const url = (h: TestStore) => `http://127.0.0.1:${h.store.ports.query}`;

function client(options: Partial<FeedClientOptions> & { stores?: string[] }): {
  c: DecisionFeedClient;
  received: string[];
  metrics: Metrics;
} {
  const received: string[] = [];
  const metrics = new Metrics();
  const c = new DecisionFeedClient({
    stores: [],
    storesDns: '',
    pollIntervalMs: 1000,
    podName: 'frontend-6f7d8-abcde',
    onIds: (got) => received.push(...got),
    metrics,
    logger: silentLogger(),
    requestTimeoutMs: 2000,
    ...options,
  });
  cleanups.push(() => c.stop());
  return { c, received, metrics };
}

describe('decision feed client', () => {
  test('ids one agent publishes reach every agent reading any replica, each once', async () => {
    const [a, b] = [await store(), await store()];
    const stores = [url(a), url(b)];
    const payments = client({ stores, podName: 'payments-1' });
    const frontend = client({ stores });
    await frontend.c.round(); // first contact: starts at each replica's head
    const published = ids(50);
    for (const id of published) payments.c.publish(id);
    await payments.c.round();
    assert.equal(await payments.metrics.value('sampling_completion_published_ids_total'), 50);
    await frontend.c.round();
    assert.deepEqual([...frontend.received].sort(), [...published].sort());
    await frontend.c.round();
    assert.equal(frontend.received.length, 50, 'nothing twice');
    // They went to one replica only (the preferred one); the other has an empty feed.
    const heads = await Promise.all(
      [a, b].map(async (h) => ((await h.query('/api/decisions?after=')).body as { cursor: string }).cursor),
    );
    assert.deepEqual(heads.map((c) => c.split('.')[1]).sort(), ['0', '50']);
  });

  test('a rule keep is published promptly, without waiting for the next round', async () => {
    const h = await store();
    const publisher = client({ stores: [url(h)], podName: 'payments-5' });
    await publisher.c.round(); // learns the replicas
    const [id] = ids(1);
    publisher.c.publish(id!);
    // No round is run from here on: only the prompt publication can bring the id to the store.
    const deadline = Date.now() + 10_000;
    let head = '0';
    while (head === '0' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      head = ((await h.query('/api/decisions?after=')).body as { cursor: string }).cursor.split('.')[1]!;
    }
    assert.equal(head, '1');
    assert.equal(await publisher.metrics.value('sampling_completion_published_ids_total'), 1);
    assert.equal(await publisher.metrics.value('sampling_completion_publish_pending_ids'), 0);
  });

  test('a replica that is down costs a counted error; publishing fails over to another', async () => {
    const [a, b] = [await store(), await store()];
    // b is read through its Service, whose port stays while the replica behind it is replaced.
    const bService = await TestService.start(b.store.ports.query);
    cleanups.push(() => bService.close());
    const stores = [url(a), `http://127.0.0.1:${bService.port}`];
    const reader = client({ stores });
    await reader.c.round();
    await a.store.abort();
    bService.route(undefined);
    await b.store.abort();
    const publisher = client({ stores, podName: 'payments-2' });
    const published = ids(10);
    for (const id of published) publisher.c.publish(id);
    await publisher.c.round();
    assert.equal(
      await publisher.metrics.value('sampling_completion_feed_errors_total', {
        operation: 'publish',
        reason: 'network',
      }),
      2,
    );
    assert.equal(await publisher.metrics.value('sampling_completion_publish_pending_ids'), 10, 'kept');
    // One replica comes back (same directory, behind the same Service): the pending ids go there, the reader gets them.
    const back = await startTestStore({ dir: b.dir });
    cleanups.push(() => back.dispose());
    bService.route(back.store.ports.query);
    await publisher.c.round();
    assert.equal(await publisher.metrics.value('sampling_completion_published_ids_total'), 10);
    await reader.c.round();
    assert.deepEqual([...reader.received].sort(), [...published].sort());
    assert.ok(
      (await reader.metrics.value('sampling_completion_feed_errors_total', {
        operation: 'poll',
        reason: 'network',
      })) >= 1,
    );
  });

  test('a replica found under a new address is read on from the same cursor (by its feed epoch)', async () => {
    const h = await store();
    const port = h.store.ports.query;
    let address = '127.0.0.1';
    const reader = client({
      storesDns: `sentinel-store-headless.monitoring.svc:${port}`,
      resolve: (host) => {
        assert.equal(host, 'sentinel-store-headless.monitoring.svc');
        return Promise.resolve([address]);
      },
    });
    await reader.c.round();
    const publisher = client({ stores: [url(h)], podName: 'payments-3' });
    const first = ids(5);
    for (const id of first) publisher.c.publish(id);
    await publisher.c.round();
    // The pod moved: DNS now gives another address for the same replica, whose new ids are unread.
    address = 'localhost';
    const second = ids(5);
    for (const id of second) publisher.c.publish(id);
    await publisher.c.round();
    await reader.c.round();
    assert.deepEqual([...reader.received].sort(), [...first, ...second].sort());
    assert.equal(await reader.metrics.value('sampling_completion_feed_replicas'), 1);
  });

  test('a store requiring auth takes the bearer token from the file; without it the error is counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-feed-auth-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 's3cr3t-token\n');
    const h = await store({ auth: { required: true, token_files: [tokenFile] } });
    const withToken = client({ stores: [url(h)], bearerTokenFile: tokenFile, podName: 'payments-4' });
    const without = client({ stores: [url(h)] });
    withToken.c.publish(ids(1)[0]!);
    await withToken.c.round();
    assert.equal(await withToken.metrics.value('sampling_completion_published_ids_total'), 1);
    await without.c.round();
    assert.equal(
      await without.metrics.value('sampling_completion_feed_errors_total', {
        operation: 'poll',
        reason: 'status',
      }),
      1,
    );
  });

  test('over TLS, a replica found by an absolute DNS name (trailing dot) is verified against the name without it', async () => {
    const cert = makeCertificate('localhost');
    cleanups.push(() => rmSync(cert.dir, { recursive: true, force: true }));
    const h = await store({ tls: { cert_file: cert.certFile, key_file: cert.keyFile, client_ca_file: '' } });
    const asked: string[] = [];
    const resolve = (host: string) => {
      asked.push(host);
      return Promise.resolve(['127.0.0.1']);
    };
    const dns = `https://localhost.:${h.store.ports.query}`;
    const publisher = client({
      storesDns: dns,
      resolve,
      tls: { caFile: cert.certFile, insecureSkipVerify: false },
    });
    const reader = client({
      storesDns: dns,
      resolve,
      tls: { caFile: cert.certFile, insecureSkipVerify: false },
    });
    await reader.c.round();
    const [id] = ids(1);
    publisher.c.publish(id!);
    await publisher.c.round();
    await reader.c.round();
    assert.deepEqual(reader.received, [id]);
    assert.ok(
      asked.every((host) => host === 'localhost.'),
      'DNS is asked the absolute name',
    );
    // Without the CA the same replica is refused, and counted.
    const untrusting = client({ storesDns: dns, resolve });
    await untrusting.c.round();
    assert.equal(
      await untrusting.metrics.value('sampling_completion_feed_errors_total', {
        operation: 'poll',
        reason: 'network',
      }),
      1,
    );
  });

  test('answers that are not the feed are counted as bad_response, never thrown', async () => {
    const server: Server = createServer((req, res) => {
      if (req.url?.startsWith('/api/decisions')) res.end('<html>not a feed</html>');
      else res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.address() as AddressInfo;
    const c = client({ stores: [`http://127.0.0.1:${port}`] });
    await c.c.round();
    await c.c.round();
    assert.equal(
      await c.metrics.value('sampling_completion_feed_errors_total', {
        operation: 'poll',
        reason: 'bad_response',
      }),
      2,
    );
    assert.equal(c.received.length, 0);
  });

  test('ids that no store takes wait in a bounded list; the oldest are dropped, counted', async () => {
    const c = client({ stores: ['http://127.0.0.1:9'], maxPending: 5 });
    for (const id of ids(8)) c.c.publish(id);
    await c.c.round();
    assert.equal(await c.metrics.value('sampling_completion_publish_dropped_ids_total'), 3);
    assert.equal(await c.metrics.value('sampling_completion_publish_pending_ids'), 5);
  });
});

describe('completion config', () => {
  test('enabled without any store is a clear config error', () => {
    assert.throws(
      () =>
        validateConfig(agentConfigSchema(), { sampling: { completion: { enabled: true } } }, 'agent.yaml'),
      (err: unknown) =>
        isSentinelError(err) &&
        err.code === 'SENTINEL_ERR_CONFIG_INVALID' &&
        /sampling\.completion/.test(err.message) &&
        /stores_dns/.test(err.message),
    );
  });

  test('stores must be http(s) URLs, stores_dns a host with an optional scheme and port', () => {
    const parseDnsTarget = (raw: string) => parseTarget(raw, 'sampling.completion.stores_dns');
    assert.throws(() =>
      validateConfig(
        agentConfigSchema(),
        { sampling: { completion: { enabled: true, stores: ['sentinel-store:3200'] } } },
        'agent.yaml',
      ),
    );
    assert.deepEqual(parseDnsTarget('sentinel-store-headless'), {
      protocol: 'http:',
      host: 'sentinel-store-headless',
      port: 3200,
    });
    assert.deepEqual(parseDnsTarget('https://store.monitoring.svc:8443'), {
      protocol: 'https:',
      host: 'store.monitoring.svc',
      port: 8443,
    });
    assert.equal(
      parseDnsTarget('store.monitoring.svc.cluster.local.:3200').host,
      'store.monitoring.svc.cluster.local.',
    );
    assert.throws(
      () => parseDnsTarget('ftp://x'),
      /sampling\.completion\.stores_dns: expected http or https/,
    );
  });
});
