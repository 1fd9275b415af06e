import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { decodeTraceRequestJson, encodeTraceRequest, type TraceData } from '../src/otlp/index.js';
import { flattenTraceData } from '../src/storage/index.js';
import type { SearchResult } from '../src/store/trace-search.js';
import { makeCertificate } from './fixtures/injector/tls.js';
import { consume, startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

// Traces at 2026-01-15 10:00 UTC; the store's clock is an hour later.
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const NOW = T0 + 3_600_000;
const sec = (ms: number) => Math.floor(ms / 1000);

/** The hits are exactly the expected traces, or `limit` (50) of them when more match. */
function assertLimitedMatch(result: SearchResult, expected: Set<string>): void {
  const got = result.traces.map((x) => x.traceID);
  assert.equal(got.length, Math.min(50, expected.size));
  for (const id of got) assert.ok(expected.has(id), `unexpected trace ${id}`);
}

void describe('query API', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let data: TraceData;
  let walData: TraceData;

  before(async () => {
    h = await startTestStore({
      clock: new ManualClock(NOW),
      overrides: {
        query: {
          endpoint: '127.0.0.1:0',
          refresh_interval: '0s',
          max_limit: 50,
          max_search_window: '6h',
          max_search_bytes: 40_000,
        },
      },
    });
    // Two blocks of 40 traces, so the search byte bound can stop after one.
    data = makeTraces({ traces: 80, spansPerTrace: 5, seed: 77, startMs: T0 });
    const half = { resourceSpans: data.resourceSpans.slice(0, Math.ceil(data.resourceSpans.length / 2)) };
    const rest = { resourceSpans: data.resourceSpans.slice(half.resourceSpans.length) };
    await consume(h.store, half);
    await h.store.pipeline.forceFlush();
    await consume(h.store, rest);
    await h.store.pipeline.forceFlush();
    // And some spans still only in the WAL.
    walData = makeTraces({ traces: 5, spansPerTrace: 5, seed: 78, startMs: T0 + 60_000 });
    await consume(h.store, walData);
  });
  after(() => h.dispose());

  void test('GET /api/traces/{id} answers Tempo-shaped OTLP JSON, 404 when unknown, 400 for a malformed id', async () => {
    const id = flattenTraceData(data)[0]!.span.traceId;
    const ok = await h.query(`/api/traces/${id.toUpperCase()}?start=${sec(T0) - 60}&end=${sec(NOW)}`);
    assert.equal(ok.status, 200);
    const batches = (ok.body as { batches: unknown[] }).batches;
    const spans = flattenTraceData(decodeTraceRequestJson(JSON.stringify({ resourceSpans: batches })));
    assert.equal(spans.length, 5);
    assert.ok(spans.every((r) => r.span.traceId === id));
    // A time range that excludes the trace prunes every block.
    h.objects.resetStats();
    assert.equal((await h.query(`/api/traces/${id}?end=${sec(T0) - 3600}`)).status, 404);
    assert.equal(h.objects.totalGets, 0);
    assert.equal((await h.query(`/api/traces/${'ab'.repeat(16)}`)).status, 404);
    for (const bad of [
      'xyz',
      'ab'.repeat(15),
      'g'.repeat(32),
      'ab'.repeat(17),
      '..%2F..%2Fetc',
      '%E0%A4%A',
    ]) {
      const res = await h.query(`/api/traces/${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal((res.body as { code: string }).code, 'SENTINEL_ERR_QUERY_INVALID');
    }
    assert.equal((await h.query(`/api/traces/${id}?start=yesterday`)).status, 400);
    // An end before the start (issue 18: it answered 404).
    const inverted = await h.query(`/api/traces/${id}?start=999999999999&end=1`);
    assert.equal(inverted.status, 400);
    assert.equal((inverted.body as { code: string }).code, 'SENTINEL_ERR_QUERY_INVALID');
    assert.match(
      (inverted.body as { error?: string; message?: string }).error ?? JSON.stringify(inverted.body),
      /end: expected a time at or after start/,
    );
  });

  void test('GET /api/search filters by service, variant, name, status and duration, in Tempo shape', async () => {
    const q = (p: string) => h.query(`/api/search?start=${sec(T0) - 60}&end=${sec(NOW)}&${p}`);
    const all = (await q('limit=50')).body as SearchResult;
    assert.equal(all.traces.length, 50);
    const t = all.traces[0]!;
    assert.match(t.traceID, /^[0-9a-f]{32}$/);
    assert.equal(typeof t.rootServiceName, 'string');
    assert.equal(typeof t.rootTraceName, 'string');
    assert.match(t.startTimeUnixNano, /^\d+$/);
    assert.equal(typeof t.durationMs, 'number');
    assert.ok(t.spanSet.spans.length > 0);

    const rows = [...flattenTraceData(data), ...flattenTraceData(walData)];
    const errors = new Set(rows.filter((r) => r.span.status.code === 2).map((r) => r.span.traceId));
    const errBody = (await q('status=error&limit=50')).body as SearchResult;
    assertLimitedMatch(errBody, errors);

    const canary = (await q('variant=canary&service=cart&limit=50')).body as SearchResult;
    const want = new Set(
      rows
        .filter((r) =>
          r.resource.attributes.some(
            (a) =>
              a.key === 'k8s.deployment.name' && a.value.kind === 'string' && a.value.value === 'cart-canary',
          ),
        )
        .map((r) => r.span.traceId),
    );
    assertLimitedMatch(canary, want);

    // minDuration is the trace's duration (Tempo's meaning): first span start to last span end.
    const slow = (await q('minDuration=40ms&limit=50')).body as SearchResult;
    const bounds = new Map<string, [bigint, bigint]>();
    for (const { span } of rows) {
      const b = bounds.get(span.traceId);
      bounds.set(span.traceId, [
        b && b[0] < span.startTimeUnixNano ? b[0] : span.startTimeUnixNano,
        b && b[1] > span.endTimeUnixNano ? b[1] : span.endTimeUnixNano,
      ]);
    }
    const slowWant = new Set([...bounds].filter(([, [s, e]]) => e - s >= 40_000_000n).map(([id]) => id));
    assertLimitedMatch(slow, slowWant);
    const none = (await q('name=nothing-is-called-this')).body as SearchResult;
    assert.equal(none.traces.length, 0);
  });

  void test('search is bounded: limit capped at query.max_limit, the time range at max_search_window', async () => {
    const capped = (await h.query(`/api/search?start=${sec(T0) - 60}&end=${sec(NOW)}&limit=100000`))
      .body as SearchResult;
    assert.equal(capped.traces.length, 50);
    const wide = await h.query(`/api/search?start=${sec(NOW) - 7 * 3600}&end=${sec(NOW)}`);
    assert.equal(wide.status, 400);
    assert.match((wide.body as { error: string }).error, /max_search_window/);
    assert.equal((await h.query('/api/search?limit=-1')).status, 400);
    // The byte bound (query.max_search_bytes): the first block is read, then the search stops.
    // (A trace-duration bound matches nothing yet cannot skip a block on its meta.)
    const bounded = await h.store.engine.search({
      minDurationNs: 10n ** 15n,
      startNs: BigInt(T0 - 60_000) * 1_000_000n,
      endNs: BigInt(NOW) * 1_000_000n,
      limit: 50,
      maxBytes: 1,
    });
    assert.equal(bounded.metrics.inspectedBlocks, 1);
    assert.equal(bounded.metrics.truncated, true);
    assert.equal((await h.query('/api/search?status=ok')).status, 400);
    assert.equal((await h.query('/api/search?minDuration=fast')).status, 400);
    assert.equal((await h.query(`/api/search?start=${sec(NOW)}&end=${sec(NOW) - 10}`)).status, 400);
  });

  void test('GET /spans returns the most recent spans, newest first, WAL included', async () => {
    const res = await h.query('/spans?limit=7');
    assert.equal(res.status, 200);
    const spans = flattenTraceData(decodeTraceRequestJson(JSON.stringify(res.body)));
    assert.equal(spans.length, 7);
    const starts = spans.map((r) => r.span.startTimeUnixNano).sort((a, b) => (a < b ? 1 : -1));
    const newest = [
      ...flattenTraceData(data),
      ...flattenTraceData(makeTraces({ traces: 5, spansPerTrace: 5, seed: 78, startMs: T0 + 60_000 })),
    ]
      .map((r) => r.span.startTimeUnixNano)
      .sort((a, b) => (a < b ? 1 : -1))
      .slice(0, 7);
    assert.deepEqual(starts, newest);
    assert.equal((await h.query('/spans?limit=abc')).status, 400);
  });

  void test('/health answers, unknown paths are 404 and other methods 405', async () => {
    assert.equal((await h.query('/health')).status, 200);
    assert.equal((await h.query('/nope')).status, 404);
    const res = await fetch(`http://127.0.0.1:${h.store.ports.query}/api/search`, { method: 'POST' });
    assert.equal(res.status, 405);
  });
});

void describe('query API over TLS with client certificates (mTLS)', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  const server = makeCertificate('sentinel-store');
  const client = makeCertificate('grafana');

  before(async () => {
    h = await startTestStore({
      overrides: {
        tls: { cert_file: server.certFile, key_file: server.keyFile, client_ca_file: client.certFile },
      },
    });
  });
  after(() => h.dispose());

  const get = (withClientCert: boolean) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: h.store.ports.query,
          path: '/api/traces/' + 'ab'.repeat(16),
          ca: server.cert,
          ...(withClientCert ? { cert: client.cert, key: client.key } : {}),
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });

  void test('a client with a certificate from the client CA is served; one without is refused at the handshake', async () => {
    assert.equal(await get(true), 404);
    await assert.rejects(get(false));
  });

  void test('OTLP/HTTP ingest takes the same TLS and client CA', async () => {
    const post = (withClientCert: boolean) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: h.store.ports.http,
            path: '/v1/traces',
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf' },
            ca: server.cert,
            ...(withClientCert ? { cert: client.cert, key: client.key } : {}),
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(encodeTraceRequest(makeTraces({ traces: 1, seed: 3 })));
      });
    assert.equal(await post(true), 200);
    await assert.rejects(post(false));
  });
});
