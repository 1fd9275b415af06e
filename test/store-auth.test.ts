import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { Client, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { encodeTraceRequest } from '../src/otlp/index.js';
import { DECISIONS_BINARY_TYPE, encodeDecisionIds } from '../src/decision-feed/feed-protocol.js';
import { roleForPath } from '../src/store/access-role.js';
import { bearer, otlpGrpcStatus, otlpHttpStatus } from './helpers/bearer-clients.js';
import { projectedToken, startFakeTokenReview, type FakeTokenReview } from './helpers/fake-token-review.js';
import { startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-store-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('roleForPath: one role decision for every listener', () => {
  test('ingest, the decision feed and the policy are agent routes', () => {
    for (const p of [
      '/v1/traces',
      '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      '/v1/logs',
      '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
      '/api/decisions',
      '/api/policy',
    ])
      assert.equal(roleForPath(p), 'agent', p);
  });
  test("health, readiness, build info and metrics are open; echo (Grafana's Save & test) checks the reader", () => {
    assert.equal(roleForPath('/api/echo'), 'reader');
    for (const p of ['/health', '/ready', '/api/status/buildinfo', '/metrics'])
      assert.equal(roleForPath(p), 'open', p);
  });
  test('every other path is a reader route, including routes added by other issues', () => {
    for (const p of [
      '/api/search',
      '/api/traces/0123',
      '/api/compare',
      '/spans',
      '/api/v2/traces/0123',
      '/api/search/tags',
      '/api/v2/search/tag/span.http.method/values',
      '/api/v3/traces/0123',
      '/jaeger/api/services',
      '/api/servicegraph',
      '/api/policy/',
      '/api/decisions/x',
      '/unknown',
    ])
      assert.equal(roleForPath(p), 'reader', p);
  });
});

void describe('store auth with TokenReview: agents ingest, readers read', () => {
  let kube: FakeTokenReview;
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let grpc: Client;
  const clock = new ManualClock(Date.now());
  const nowS = () => Math.floor(clock.now() / 1000);
  const readerFile = join(dir, 'reader-token');
  const agentFile = join(dir, 'agent-token');
  const traces = makeTraces({ traces: 1, spansPerTrace: 3, seed: 7 });
  const body = encodeTraceRequest(traces);
  const traceId = traces.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
  // Tokens as the kubelet projects them: audience `sentinel`, an hour of life.
  let good: string;
  let otherAudience: string;
  let unaware: string;
  let expired: string;

  before(async () => {
    kube = await startFakeTokenReview(dir);
    good = projectedToken('shop:default', 'sentinel', nowS() + 3600);
    otherAudience = projectedToken('shop:default', 'vault', nowS() + 3600);
    unaware = projectedToken('shop:legacy', 'sentinel', nowS() + 3600);
    expired = projectedToken('shop:default', 'sentinel', nowS() - 10);
    kube.tokens.set(good, { username: 'system:serviceaccount:shop:default', audiences: ['sentinel'] });
    kube.tokens.set(otherAudience, { username: 'system:serviceaccount:shop:default', audiences: ['vault'] });
    kube.tokens.set(unaware, {
      username: 'system:serviceaccount:shop:legacy',
      audiences: [],
      audienceUnaware: true,
    });
    kube.tokens.set(expired, { username: 'system:serviceaccount:shop:default', audiences: ['sentinel'] });
    writeFileSync(readerFile, 'reader-secret\n');
    writeFileSync(agentFile, 'static-agent\n');
    h = await startTestStore({
      clock,
      overrides: {
        auth: {
          required: true,
          token_files: [agentFile],
          reader_token_files: [readerFile],
          token_review: {
            enabled: true,
            audience: 'sentinel',
            cache_ttl: '60s',
            kubeconfig: kube.kubeconfig,
          },
        },
      },
    });
    grpc = new Client(`127.0.0.1:${h.store.ports.grpc}`, credentials.createInsecure());
  });
  after(async () => {
    grpc.close();
    await h.dispose();
    await kube.close();
  });

  const header = bearer;

  const httpIngest = (token: string | undefined) => otlpHttpStatus(h.store.ports.http, body, token);
  const grpcIngest = (token: string | undefined) => otlpGrpcStatus(grpc, body, token);

  async function feed(token: string | undefined): Promise<{ post: number; get: number }> {
    const base = `http://127.0.0.1:${h.store.ports.query}/api/decisions`;
    const post = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': DECISIONS_BINARY_TYPE, ...header(token) },
      body: encodeDecisionIds(['0123456789abcdef0123456789abcdef']),
    });
    await post.arrayBuffer();
    const get = await fetch(base, { headers: header(token) });
    await get.arrayBuffer();
    return { post: post.status, get: get.status };
  }

  /** The reading routes the issue names: search, trace lookup, compare (and /spans). */
  async function reads(token: string | undefined) {
    const q = async (path: string) => (await h.query(path, header(token))).status;
    return {
      search: await q('/api/search?service=checkout'),
      trace: await q(`/api/traces/${traceId}`),
      compare: await q('/api/compare?service=checkout&window=1h'),
      spans: await q('/spans?limit=5'),
    };
  }
  const all = (status: number) => ({ search: status, trace: status, compare: status, spans: status });

  test('a token the review confirms for the audience may ingest over gRPC and HTTP and use the decision feed', async () => {
    assert.equal(await grpcIngest(good), GrpcStatus.OK);
    assert.equal(await httpIngest(good), 200);
    assert.deepEqual(await feed(good), { post: 200, get: 200 });
    // The store authenticated itself to the API server with its own credential from the kubeconfig.
    assert.ok(kube.callers.every((c) => c === 'Bearer store-sa-token'));
  });

  test('the review is asked once per token within cache_ttl, and again after it', async () => {
    const before = kube.calls.get(good) ?? 0;
    assert.equal(before, 1, 'the first test used the token 4 times over three listeners with one review');
    await Promise.all([grpcIngest(good), httpIngest(good), feed(good)]);
    assert.equal(kube.calls.get(good), 1);
    clock.advance(61_000);
    assert.equal(await httpIngest(good), 200);
    assert.equal(kube.calls.get(good), 2);
    assert.ok((await h.metrics.value('store_token_review_cache_hits_total')) >= 5);
  });

  test('parallel requests with a new token make one review', async () => {
    const fresh = projectedToken('shop:parallel', 'sentinel', nowS() + 3600);
    kube.tokens.set(fresh, { username: 'system:serviceaccount:shop:parallel', audiences: ['sentinel'] });
    const statuses = await Promise.all(Array.from({ length: 8 }, () => httpIngest(fresh)));
    assert.deepEqual(statuses, Array(8).fill(200));
    assert.equal(kube.calls.get(fresh), 1);
  });

  test('an invalid token, a token for another audience and an expired one are refused with 401 / UNAUTHENTICATED', async () => {
    const unknownJwt = projectedToken('shop:deleted', 'sentinel', nowS() + 3600);
    for (const token of ['not-a-known-token', unknownJwt, otherAudience, unaware, expired, undefined]) {
      assert.equal(await httpIngest(token), 401, String(token));
      assert.equal(await grpcIngest(token), GrpcStatus.UNAUTHENTICATED, String(token));
      assert.deepEqual(await feed(token), { post: 401, get: 401 }, String(token));
    }
    // The expired token never reached the API server: its own `exp` refused it.
    assert.equal(kube.calls.get(expired), undefined);
    // A token not shaped like a JWT is not sent to the API server at all.
    assert.equal(kube.calls.get('not-a-known-token'), undefined);
    // A refusal is cached briefly: the other tokens were reviewed once each for their 5 requests.
    assert.equal(kube.calls.get(unknownJwt), 1);
    assert.equal(kube.calls.get(otherAudience), 1);
    assert.equal(await h.metrics.value('store_token_reviews_total', { result: 'wrong_audience' }), 1);
    assert.ok(
      (await h.metrics.value('store_auth_refused_requests_total', { role: 'agent', reason: 'expired' })) >= 4,
    );
  });

  test('a positive review is never used past the token’s own exp', async () => {
    const shortLived = projectedToken('shop:short', 'sentinel', nowS() + 30);
    kube.tokens.set(shortLived, { username: 'system:serviceaccount:shop:short', audiences: ['sentinel'] });
    assert.equal(await httpIngest(shortLived), 200);
    clock.advance(31_000); // within cache_ttl (60 s), past exp
    assert.equal(await httpIngest(shortLived), 401);
    assert.equal(kube.calls.get(shortLived), 1);
  });

  test('search, trace lookup and compare refuse no credential (401) and agent identities (403), and serve the reader', async () => {
    assert.deepEqual(await reads(undefined), all(401));
    assert.deepEqual(await reads(good), all(403));
    assert.deepEqual(await reads('static-agent'), all(403));
    assert.deepEqual(await reads('reader-secret'), { search: 200, trace: 200, compare: 200, spans: 200 });
    // A route added by another issue is a reader route without being listed anywhere.
    assert.equal((await h.query('/api/v2/search/tags', header(good))).status, 403);
    const refusal = await h.query('/api/search', header(good));
    assert.equal((refusal.body as { code: string }).code, 'SENTINEL_ERR_FORBIDDEN');
    // Open routes need nothing.
    assert.equal((await h.query('/health')).status, 200);
    assert.equal((await h.query('/metrics')).status, 200);
  });

  test('the reader credential cannot ingest or use the feed (403 / PERMISSION_DENIED)', async () => {
    assert.equal(await httpIngest('reader-secret'), 403);
    assert.equal(await grpcIngest('reader-secret'), GrpcStatus.PERMISSION_DENIED);
    assert.deepEqual(await feed('reader-secret'), { post: 403, get: 403 });
    assert.ok((await h.metrics.value('receiver_refused_requests_total', { reason: 'forbidden' })) >= 2);
  });

  test('a static token from auth.token_files is an agent identity: ingest and feed, no reading', async () => {
    assert.equal(await grpcIngest('static-agent'), GrpcStatus.OK);
    assert.equal(await httpIngest('static-agent'), 200);
    assert.deepEqual(await feed('static-agent'), { post: 200, get: 200 });
    assert.equal(kube.calls.get('static-agent'), undefined, 'static tokens are not sent to the API server');
  });

  test('the TokenReview API failing is 503 / UNAVAILABLE (retryable), counted, not cached', async () => {
    const fresh = projectedToken('shop:outage', 'sentinel', nowS() + 3600);
    kube.tokens.set(fresh, { username: 'system:serviceaccount:shop:outage', audiences: ['sentinel'] });
    kube.failWith = 500;
    try {
      const res = await fetch(`http://127.0.0.1:${h.store.ports.http}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', ...header(fresh) },
        body,
      });
      await res.arrayBuffer();
      assert.equal(res.status, 503);
      assert.ok(res.headers.get('retry-after'));
      assert.equal(await grpcIngest(fresh), GrpcStatus.UNAVAILABLE);
      assert.equal((await h.query('/api/search', header(fresh))).status, 503);
      assert.ok((await h.metrics.value('store_token_reviews_total', { result: 'error' })) >= 3);
    } finally {
      kube.failWith = undefined;
    }
    assert.equal(await httpIngest(fresh), 200, 'the failure was not remembered as a refusal');
  });
});

void describe('store auth with the Kubernetes API out of reach at start', () => {
  test('a kubeconfig that cannot be read stops the store with a message naming the key', async () => {
    await assert.rejects(
      startTestStore({
        overrides: {
          auth: {
            required: true,
            token_review: { enabled: true, kubeconfig: join(dir, 'missing-kubeconfig') },
          },
        },
      }),
      /auth\.token_review: cannot load kubeconfig/,
    );
  });
});
