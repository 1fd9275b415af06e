/**
 * Several store replicas (query.peers, src/store/peer-spans.ts): a trace lookup on one replica also gets the spans
 * the others hold and have not written to a block yet. Real stores on 127.0.0.1 port 0, talking over HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeTraceRequestJson, type TraceData } from '../src/otlp/index.js';
import { flattenTraceData, toTraceData, type StoredSpan } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { PeerReplicas } from '../src/store/peer-spans.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { capturingLogger } from './helpers/capturing-logger.js';
import { promSamples } from './helpers/prom-text.js';
import { consume, startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

type Harness = Awaited<ReturnType<typeof startTestStore>>;

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const READER_TOKEN = 'reader-token-of-the-test';

/** One trace of 6 spans (over its services' resources), split: the first 4 to one replica, the other 2 to another. */
function splitTrace(seed: number): { traceId: string; first: TraceData; second: TraceData } {
  const rows = flattenTraceData(makeTraces({ traces: 1, spansPerTrace: 6, seed, startMs: T0 }));
  assert.equal(rows.length, 6);
  return {
    traceId: rows[0]!.span.traceId,
    first: toTraceData(rows.slice(0, 4)),
    second: toTraceData(rows.slice(4)),
  };
}

/** The span ids of a Tempo trace-by-id answer. */
function spanIdsOf(body: unknown): string[] {
  const batches = (body as { batches: unknown[] }).batches;
  return flattenTraceData(decodeTraceRequestJson(JSON.stringify({ resourceSpans: batches })))
    .map((r) => r.span.spanId)
    .sort();
}

const idsOf = (data: TraceData) =>
  flattenTraceData(data)
    .map((r) => r.span.spanId)
    .sort();

/** `sentinel_store_query_peer_requests_total` of one operation, by result. */
async function peerResults(h: Harness, operation = 'trace'): Promise<Record<string, number>> {
  const text = await h.metrics.registry.metrics();
  return Object.fromEntries(
    promSamples(text, 'sentinel_store_query_peer_requests_total')
      .filter((s) => s.labels['operation'] === operation)
      .map((s) => [s.labels['result']!, s.value]),
  );
}

interface Hit {
  traceID: string;
  startTimeUnixNano: string;
  durationMs: number;
  rootServiceName: string;
  spanSets: Array<{ spans: Array<{ spanID: string }>; matched: number }>;
}

/** A search over the traces' day on `h`, by Tempo's API. */
async function search(h: Harness, q: string): Promise<Hit[]> {
  const start = Math.floor(T0 / 1000) - 60;
  const res = await h.query(
    `/api/search?q=${encodeURIComponent(q)}&start=${start}&end=${start + 7200}&limit=50`,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body as { traces: Hit[] }).traces;
}

void describe('query.peers: a lookup gets the other replicas spans not in a block yet', () => {
  let shared: string;
  let other: Harness;
  let front: Harness;

  before(async () => {
    // Two replicas over one bucket (a directory here), each with its own WAL; blocks are cut only when told.
    shared = mkdtempSync(join(tmpdir(), 'sentinel-peers-'));
    const bucket = () => new LocalObjectStore(join(shared, 'data'));
    const block = { max_age: '1h' };
    other = await startTestStore({ objectStore: bucket(), overrides: { block } });
    front = await startTestStore({
      objectStore: bucket(),
      overrides: {
        block,
        query: {
          endpoint: '127.0.0.1:0',
          refresh_interval: '0s',
          peers: { urls: [`http://127.0.0.1:${other.store.ports.query}`], timeout: '2s' },
        },
      },
    });
  });
  after(async () => {
    await front.dispose();
    await other.dispose();
    rmSync(shared, { recursive: true, force: true });
  });

  void test('the spans another replica holds are in the answer, once each, also after it writes its block', async () => {
    const t = splitTrace(101);
    await consume(front.store, t.first);
    await consume(other.store, t.second);
    const all = [...idsOf(t.first), ...idsOf(t.second)].sort();

    // Without peers (the other replica asks nobody) a lookup sees only what that replica holds.
    const alone = await other.query(`/api/traces/${t.traceId}`);
    assert.deepEqual(spanIdsOf(alone.body), idsOf(t.second));

    const merged = await front.query(`/api/traces/${t.traceId}`);
    assert.equal(merged.status, 200);
    assert.deepEqual(spanIdsOf(merged.body), all);
    // Jaeger's lookup reads through the same engine.
    const jaeger = await front.query(`/api/v3/traces/${t.traceId}`);
    assert.equal(jaeger.status, 200);
    assert.equal(JSON.stringify(jaeger.body).split('"spanId"').length - 1, all.length);

    // The other replica writes its block: its spans now come from the bucket, not from it, and not twice.
    await other.store.pipeline.forceFlush();
    const after = await front.query(`/api/traces/${t.traceId}`);
    assert.deepEqual(spanIdsOf(after.body), all);
    assert.ok((await peerResults(front)).ok! >= 3);
  });

  void test('a trace only another replica holds is found; a malformed id on the peer route is refused', async () => {
    const t = splitTrace(102);
    await consume(other.store, t.second);
    const found = await front.query(`/api/traces/${t.traceId}`);
    assert.equal(found.status, 200);
    assert.deepEqual(spanIdsOf(found.body), idsOf(t.second));
    const bad = await other.query('/api/internal/pending/traces/not-a-trace-id');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /trace id: expected 32 hex digits/);
  });

  void test('a search finds the traces another replica holds in no block yet; a split trace is one hit over both halves', async () => {
    const split = splitTrace(105);
    const away = splitTrace(106);
    await consume(front.store, split.first);
    await consume(other.store, split.second);
    await consume(other.store, away.second);
    const rows = flattenTraceData(
      toTraceData([...flattenTraceData(split.first), ...flattenTraceData(split.second)]),
    );
    const startNs = rows.reduce(
      (m, r) => (r.span.startTimeUnixNano < m ? r.span.startTimeUnixNano : m),
      rows[0]!.span.startTimeUnixNano,
    );
    const endNs = rows.reduce((m, r) => (r.span.endTimeUnixNano > m ? r.span.endTimeUnixNano : m), 0n);

    // A regular expression and a duration: the parsed query crosses to the other replica as it is.
    for (const q of ['{ resource.service.name =~ ".+" && duration >= 0ms }', '{}']) {
      const hits = await search(front, q);
      const byId = new Map(hits.map((h) => [h.traceID, h]));
      assert.ok(byId.has(away.traceId), `${q}: the trace only the other replica holds`);
      const hit = byId.get(split.traceId);
      assert.ok(hit, `${q}: the split trace`);
      assert.equal(hit.startTimeUnixNano, startNs.toString());
      assert.equal(hit.durationMs, Number(endNs / 1_000_000n) - Number(startNs / 1_000_000n));
      const shown = hit.spanSets.flatMap((set) => set.spans.map((x) => x.spanID));
      assert.equal(new Set(shown).size, shown.length, 'each span shown once');
    }
    // The other replica alone (it asks nobody) does not see the half the front holds.
    const alone = (await search(other, '{}')).find((h) => h.traceID === split.traceId);
    assert.equal(alone?.spanSets[0]?.matched, 2, 'the other replica alone matches its 2 spans');
    const merged = (await search(front, '{}')).find((h) => h.traceID === split.traceId);
    assert.equal(merged?.spanSets[0]?.matched, 6, "the front matches its 4 and the other replica's 2");
    assert.ok((await peerResults(front, 'search')).ok! >= 2);
  });

  void test('the peer search route refuses what is not a query, naming what it expected', async () => {
    const post = async (body: string) => {
      const res = await fetch(`http://127.0.0.1:${other.store.ports.query}/api/internal/pending/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, body: await res.text() };
    };
    const notJson = await post('{not json');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body, /search: expected a query as JSON/);
    const noWindow = await post('{"limit": 5}');
    assert.equal(noWindow.status, 400);
    assert.match(noWindow.body, /expected a query with startNs, endNs/);
    const oddQuery = await post(
      '{"startNs": {"$bigint": "0"}, "endNs": {"$bigint": "1"}, "limit": 5, "query": {"kind": "spanset"}}',
    );
    assert.equal(oddQuery.status, 400);
    assert.match(oddQuery.body, /a parsed TraceQL query/);
  });
});

void describe('query.peers when a replica fails', () => {
  let dir: string;
  let garbage: Server;
  let garbagePort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-peers-fail-'));
    // Answers 200 with bytes that are not an ExportTraceServiceRequest.
    garbage = createServer((_req, res) => res.writeHead(200).end(Buffer.from([0x0a, 0xff, 0xff, 0xff])));
    garbagePort = await new Promise<number>((resolve) =>
      garbage.listen(0, '127.0.0.1', () => resolve((garbage.address() as { port: number }).port)),
    );
  });
  after(() => {
    garbage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void test('down, answering garbage, or refusing the token: the lookup answers what the rest hold, and counts why', async () => {
    const tokenFile = join(dir, 'reader');
    writeFileSync(tokenFile, READER_TOKEN);
    const wrongToken = join(dir, 'wrong');
    writeFileSync(wrongToken, 'not-the-reader-token');
    const guarded = await startTestStore({
      overrides: { auth: { required: true, reader_token_files: [tokenFile] } },
    });
    const down = await startTestStore();
    const downPort = down.store.ports.query;
    await down.dispose();
    const peers = (bearer: string) => ({
      urls: [
        `http://127.0.0.1:${downPort}`,
        `http://127.0.0.1:${garbagePort}`,
        `http://127.0.0.1:${guarded.store.ports.query}`,
      ],
      timeout: '2s',
      bearer_token_file: bearer,
    });
    const t = splitTrace(103);
    await consume(guarded.store, t.second);
    const wrong = await startTestStore({
      overrides: { query: { endpoint: '127.0.0.1:0', refresh_interval: '0s', peers: peers(wrongToken) } },
    });
    const right = await startTestStore({
      overrides: { query: { endpoint: '127.0.0.1:0', refresh_interval: '0s', peers: peers(tokenFile) } },
    });
    try {
      await consume(wrong.store, t.first);
      await consume(right.store, t.first);

      const partial = await wrong.query(`/api/traces/${t.traceId}`);
      assert.equal(partial.status, 200, 'the replica answers with what it holds');
      assert.deepEqual(spanIdsOf(partial.body), idsOf(t.first));
      assert.deepEqual(await peerResults(wrong), { network: 1, bad_response: 1, status: 1 });

      const whole = await right.query(`/api/traces/${t.traceId}`);
      assert.deepEqual(spanIdsOf(whole.body), [...idsOf(t.first), ...idsOf(t.second)].sort());
      assert.deepEqual(await peerResults(right), { network: 1, bad_response: 1, ok: 1 });

      // A search goes the same way: what the rest hold, each failure counted.
      const q = encodeURIComponent('{}');
      const window = `start=${Math.floor(T0 / 1000) - 60}&end=${Math.floor(T0 / 1000) + 7200}`;
      const found = await right.query(`/api/search?q=${q}&${window}`);
      assert.equal(found.status, 200);
      assert.ok(
        (found.body as { traces: Array<{ traceID: string }> }).traces.some((h) => h.traceID === t.traceId),
      );
      assert.deepEqual(await peerResults(right, 'search'), { network: 1, bad_response: 1, ok: 1 });
      const partialSearch = await wrong.query(`/api/search?q=${q}&${window}`);
      assert.equal(partialSearch.status, 200);
      assert.deepEqual(await peerResults(wrong, 'search'), { network: 1, bad_response: 1, status: 1 });
    } finally {
      await Promise.all([wrong.dispose(), right.dispose(), guarded.dispose()]);
    }
  });
});

void describe('query.peers: a slow replica, and the log of a failing one', () => {
  void test('a replica that answers a byte at a time is cut at the timeout, not at its silence; its failures are logged once', async () => {
    // Headers at once, then a byte every 50 ms: never silent for the client's idle deadline.
    const trickle = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      const timer = setInterval(() => res.write(Buffer.from([0x0a])), 50);
      res.on('close', () => clearInterval(timer));
    });
    const port = await new Promise<number>((resolve) =>
      trickle.listen(0, '127.0.0.1', () => resolve((trickle.address() as { port: number }).port)),
    );
    const m = new Metrics();
    const { logger, lines } = capturingLogger('warn');
    const peers = new PeerReplicas({
      urls: [`http://127.0.0.1:${port}`],
      dns: '',
      timeoutMs: 300,
      logger,
      metrics: m,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        assert.deepEqual(await peers.traceRows('0af7651916cd43dd8448eb211c80319c'), []);
        const ms = performance.now() - started;
        // Without the deadline the answer would never end: the bound only says it did, well before the test timeout.
        assert.ok(ms >= 250 && ms < 5000, `cut after about 300 ms, took ${ms.toFixed(0)}`);
      }
      const samples = promSamples(await m.registry.metrics(), 'sentinel_store_query_peer_requests_total');
      assert.deepEqual(
        samples.map((s) => [s.labels['operation'], s.labels['result'], s.value]),
        [['trace', 'timeout', 3]],
      );
      assert.equal(lines.length, 1, 'one warning for three failures in a row');
      assert.equal(lines[0]!['replica'], `http://127.0.0.1:${port}`);
    } finally {
      peers.close();
      trickle.closeAllConnections();
      trickle.close();
    }
  });
});

void describe('query.peers.dns: every replica of a headless Service but this one', () => {
  const metrics = () => new Metrics();
  const span = (data: TraceData): StoredSpan[] => flattenTraceData(data);

  void test('this replica (its port on one of its addresses) is not asked; the others are', async () => {
    const h = await startTestStore({ overrides: { block: { max_age: '1h' } } });
    try {
      const t = splitTrace(104);
      await consume(h.store, t.second);
      const port = h.store.ports.query;
      const ask = async (selfPort: number) => {
        const m = metrics();
        const peers = new PeerReplicas({
          urls: [],
          dns: `sentinel-store-headless.test.svc.cluster.local.:${port}`,
          timeoutMs: 2000,
          logger: silentLogger(),
          metrics: m,
          resolve: async () => ['127.0.0.1'],
          ownAddresses: () => ['127.0.0.1', '::1'],
        });
        peers.listening(selfPort);
        try {
          const rows = await peers.traceRows(t.traceId);
          const asked = promSamples(await m.registry.metrics(), 'sentinel_store_query_peer_requests_total');
          return { rows, asked: asked.reduce((n, s) => n + s.value, 0) };
        } finally {
          peers.close();
        }
      };
      const self = await ask(port);
      assert.deepEqual(self, { rows: [], asked: 0 }, 'its own address and port: not asked');
      const otherReplica = await ask(port + 1);
      assert.equal(otherReplica.asked, 1);
      assert.deepEqual(
        otherReplica.rows.map((r) => r.span.spanId).sort(),
        span(t.second)
          .map((r) => r.span.spanId)
          .sort(),
      );
    } finally {
      await h.dispose();
    }
  });

  void test('a name that does not resolve, or not in time, is counted as dns and the lookup goes on', async () => {
    // The store's timers never hold the process open (its servers do); here nothing else would.
    const alive = setInterval(() => {}, 1000);
    try {
      for (const resolve of [
        async () => Promise.reject(new Error('ENOTFOUND sentinel-store-headless')),
        () => new Promise<string[]>(() => {}),
      ]) {
        const m = metrics();
        const { logger, lines } = capturingLogger('warn');
        const peers = new PeerReplicas({
          urls: [],
          dns: 'sentinel-store-headless.test.svc.cluster.local.',
          timeoutMs: 50,
          logger,
          metrics: m,
          resolve,
        });
        assert.deepEqual(await peers.traceRows('0af7651916cd43dd8448eb211c80319c'), []);
        assert.deepEqual(await peers.traceRows('0af7651916cd43dd8448eb211c80319c'), []);
        const samples = promSamples(await m.registry.metrics(), 'sentinel_store_query_peer_requests_total');
        assert.deepEqual(
          samples.map((s) => [s.labels['operation'], s.labels['result'], s.value]),
          [['trace', 'dns', 2]],
        );
        assert.equal(lines.length, 1, 'one warning for two failures in a row');
        assert.equal(lines[0]!['dns'], 'sentinel-store-headless.test.svc.cluster.local.');
        peers.close();
      }
    } finally {
      clearInterval(alive);
    }
  });

  void test('query.peers.dns that is not a host name is a config error naming the key', () => {
    assert.throws(
      () =>
        new PeerReplicas({
          urls: [],
          dns: 'ftp://store',
          timeoutMs: 50,
          logger: silentLogger(),
          metrics: metrics(),
        }),
      /query\.peers\.dns: expected http or https/,
    );
  });
});
