import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import type protobuf from 'protobufjs';
import { stringAttribute, type TraceData } from '../src/otlp/index.js';
import { flattenTraceData, type StoredSpan } from '../src/storage/index.js';
import { otlpProtobufjsRoot } from './helpers/otlp-protobufjs.js';
import { consume, startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

/**
 * What Grafana's Tempo data source sends, and how it reads the answers (grafana/grafana pkg/tsdb/tempo
 * trace.go, search.go; public/app/plugins/datasource/tempo language_provider.ts, datasource.ts):
 * - health check: GET /api/echo;
 * - trace: GET /api/v2/traces/<id>?start=<s>&end=<s> with `Accept: application/protobuf`, decoded as
 *   tempopb.TraceByIDResponse; on 404 the same on /api/traces/<id>, decoded as tempopb.Trace;
 * - search: GET /api/search?q=<TraceQL>&limit=20&spss=3&start=<s>&end=<s> with `Accept: application/json`,
 *   read as Tempo's SearchResponse JSON (startTimeUnixNano a string, durationMs a number);
 * - search builder: GET /api/v2/search/tags, GET /api/v2/search/tag/<scope.tag>/values?q=..., falling back to
 *   /api/search/tags and /api/search/tag/<tag>/values. Every request carries the data source's
 *   `Authorization` header (here a bearer token, the store's reader credential).
 */

// The messages of grafana/tempo pkg/tempopb/tempo.proto that Grafana decodes, by field number.
const TEMPO_MESSAGES = {
  Trace: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
  TraceByIDMetrics: { fields: { inspectedBytes: { type: 'uint64', id: 1 } } },
  TraceByIDResponse: {
    fields: {
      trace: { type: 'Trace', id: 1 },
      metrics: { type: 'TraceByIDMetrics', id: 2 },
      status: { type: 'int32', id: 3 },
      message: { type: 'string', id: 4 },
    },
  },
};

const T0 = Date.UTC(2026, 4, 11, 9, 0, 0);
const NOW = T0 + 30 * 60_000;
const sec = (ms: number) => Math.floor(ms / 1000);
const TOKEN = 'grafana-reader-token';

interface DecodedSpan {
  traceId: string;
  spanId: string;
  name: string;
  startTimeUnixNano: string;
  attributes: { key: string; value: { s?: string } }[];
}
interface DecodedResourceSpans {
  resource: { attributes: { key: string; value: { s?: string } }[] };
  scopeSpans: { spans: DecodedSpan[] }[];
}

const hex = (b: Uint8Array | string) => Buffer.from(b as Uint8Array).toString('hex');

/** The spans of decoded ResourceSpans as (trace id, span id, service) in hex, sorted. */
function spansOf(batches: DecodedResourceSpans[]): string[] {
  return batches
    .flatMap((rs) => {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.s;
      return rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => `${s.traceId} ${s.spanId} ${service}`));
    })
    .sort();
}
function expectedSpans(rows: StoredSpan[], traceId: string): string[] {
  return rows
    .filter((r) => r.span.traceId === traceId)
    .map(
      (r) => `${r.span.traceId} ${r.span.spanId} ${stringAttribute(r.resource.attributes, 'service.name')}`,
    )
    .sort();
}

void describe("Grafana's Tempo data source against the store", () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let rows: StoredSpan[];
  let dir: string;
  let root: protobuf.Root;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-grafana-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    h = await startTestStore({
      clock: new ManualClock(NOW),
      overrides: {
        query: { endpoint: '127.0.0.1:0', refresh_interval: '0s' },
        auth: { required: true, reader_token_files: [join(dir, 'token')] },
      },
    });
    const blockData: TraceData = makeTraces({ traces: 300, spansPerTrace: 5, seed: 5, startMs: T0 });
    const walData: TraceData = makeTraces({ traces: 10, spansPerTrace: 5, seed: 6, startMs: T0 + 60_000 });
    await consume(h.store, blockData);
    await h.store.pipeline.forceFlush();
    await consume(h.store, walData);
    rows = [...flattenTraceData(blockData), ...flattenTraceData(walData)];
    root = otlpProtobufjsRoot(TEMPO_MESSAGES);
  });
  after(async () => {
    await h.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A request as Grafana's HTTP client sends it: the data source's auth header, Grafana's user agent. */
  const grafana = (path: string, accept?: string) =>
    fetch(`http://127.0.0.1:${h.store.ports.query}${path}`, {
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'user-agent': 'Grafana/12.1.0',
        ...(accept ? { accept } : {}),
      },
    });
  const decode = (type: string, bytes: ArrayBuffer) =>
    root.lookupType(type).toObject(root.lookupType(type).decode(new Uint8Array(bytes)), {
      longs: String,
      bytes: Array,
      defaults: true,
    });
  const toHex = (batches: unknown): DecodedResourceSpans[] =>
    (batches as DecodedResourceSpans[]).map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        spans: ss.spans.map((s) => ({
          ...s,
          traceId: hex(Uint8Array.from(s.traceId as unknown as number[])),
          spanId: hex(Uint8Array.from(s.spanId as unknown as number[])),
        })),
      })),
    }));

  void test('Save & test: GET /api/echo answers the plain text echo; without the token, 401', async () => {
    const res = await grafana('/api/echo');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'echo');
    assert.equal((await fetch(`http://127.0.0.1:${h.store.ports.query}/api/echo`)).status, 401);
    const info = await grafana('/api/status/buildinfo');
    assert.equal(info.status, 200);
    assert.match(((await info.json()) as { version: string }).version, /^\d+\.\d+\.\d+/);
    assert.equal((await fetch(`http://127.0.0.1:${h.store.ports.query}/ready`)).status, 200);
  });

  void test('trace by id: v2 protobuf decodes as tempopb.TraceByIDResponse, v1 as tempopb.Trace, both with every span', async () => {
    for (const id of [rows[0]!.span.traceId, rows[rows.length - 1]!.span.traceId]) {
      const range = `start=${sec(T0) - 3600}&end=${sec(NOW)}`;
      const v2 = await grafana(`/api/v2/traces/${id}?${range}`, 'application/protobuf');
      assert.equal(v2.status, 200);
      assert.equal(v2.headers.get('content-type'), 'application/protobuf');
      const byId = decode('TraceByIDResponse', await v2.arrayBuffer()) as {
        trace: { resourceSpans: unknown };
        status: number;
      };
      assert.equal(byId.status, 0); // COMPLETE
      assert.deepEqual(spansOf(toHex(byId.trace.resourceSpans)), expectedSpans(rows, id));

      const v1 = await grafana(`/api/traces/${id}?${range}`, 'application/protobuf');
      assert.equal(v1.status, 200);
      const trace = decode('Trace', await v1.arrayBuffer()) as { resourceSpans: unknown };
      assert.deepEqual(spansOf(toHex(trace.resourceSpans)), expectedSpans(rows, id));
    }
    // Grafana falls back to v1 on a 404 from v2; both 404 for an unknown trace.
    const unknown = 'ab'.repeat(16);
    assert.equal((await grafana(`/api/v2/traces/${unknown}`, 'application/protobuf')).status, 404);
    assert.equal((await grafana(`/api/traces/${unknown}`, 'application/protobuf')).status, 404);
  });

  void test('trace by id in JSON: v1 {batches}, v2 {trace: {resourceSpans}} (Tempo without an Accept header)', async () => {
    const id = rows[7]!.span.traceId;
    const v1 = (await (await grafana(`/api/traces/${id}`)).json()) as { batches: unknown[] };
    const v2 = (await (await grafana(`/api/v2/traces/${id}`, 'application/json')).json()) as {
      trace: { resourceSpans: unknown[] };
    };
    assert.ok(v1.batches.length > 0);
    assert.deepEqual(v2.trace.resourceSpans, v1.batches);
  });

  void test('search with TraceQL as Grafana sends it, read as Tempo SearchResponse JSON', async () => {
    const q = '{ resource.service.name = "cart" && status = error }';
    const path = `/api/search?q=${encodeURIComponent(q)}&limit=20&spss=3&start=${sec(T0) - 3600}&end=${sec(NOW)}`;
    const res = await grafana(path, 'application/json');
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      traces: {
        traceID: string;
        rootServiceName: string;
        rootTraceName: string;
        startTimeUnixNano: string;
        durationMs: number;
        spanSets: {
          spans: {
            spanID: string;
            startTimeUnixNano: string;
            durationNanos: string;
            attributes: { key: string }[];
          }[];
          matched: number;
        }[];
      }[];
      metrics: { inspectedBytes: string };
    };
    const want = new Set(
      rows
        .filter(
          (r) =>
            r.span.status.code === 2 &&
            r.resource.attributes.some(
              (a) => a.key === 'service.name' && a.value.kind === 'string' && a.value.value === 'cart',
            ),
        )
        .map((r) => r.span.traceId),
    );
    assert.ok(want.size > 0);
    assert.deepEqual(new Set(body.traces.map((t) => t.traceID)), want);
    for (const t of body.traces) {
      // Grafana: strconv.ParseInt(startTimeUnixNano), durationMs as uint32, spans per spanset at most spss.
      assert.match(t.startTimeUnixNano, /^\d+$/);
      assert.ok(Number.isInteger(t.durationMs));
      const spans = rows.filter((r) => r.span.traceId === t.traceID);
      const rootSpan = spans.find((r) => r.span.parentSpanId === '')!;
      assert.equal(t.rootTraceName, rootSpan.span.name);
      assert.ok(t.spanSets[0]!.spans.length <= 3);
      for (const s of t.spanSets[0]!.spans) {
        assert.match(s.durationNanos, /^\d+$/);
        assert.ok(s.attributes.some((a) => a.key === 'service.name'));
      }
    }
    assert.match(body.metrics.inspectedBytes, /^\d+$/);
    // The older tags= form, and a search without q (everything in the window, newest first).
    const tags = await grafana(
      `/api/search?tags=${encodeURIComponent('service.name=cart status.code=error')}&limit=20`,
      'application/json',
    );
    assert.deepEqual(new Set(((await tags.json()) as typeof body).traces.map((t) => t.traceID)), want);
    const all = (await (
      await grafana(`/api/search?limit=20&spss=3&start=${sec(T0) - 3600}&end=${sec(NOW)}`)
    ).json()) as typeof body;
    assert.equal(all.traces.length, 20);
  });

  void test('"Last 7 days" is within the default query.max_search_window (168h)', async () => {
    const res = await grafana(
      `/api/search?q=${encodeURIComponent('{}')}&limit=20&spss=3&start=${sec(NOW) - 7 * 86_400}&end=${sec(NOW)}`,
    );
    assert.equal(res.status, 200);
  });

  void test('search builder: v2 tags by scope, typed tag values narrowed by q, and the v1 fallbacks', async () => {
    const tags = (await (await grafana('/api/v2/search/tags')).json()) as {
      scopes: { name: string; tags: string[] }[];
    };
    const scope = (n: string) => tags.scopes.find((s) => s.name === n)!.tags;
    assert.ok(scope('resource').includes('service.name'));
    assert.ok(scope('resource').includes('k8s.pod.name'));
    assert.ok(scope('span').includes('http.response.status_code'));
    assert.ok(scope('intrinsic').includes('status'));
    assert.ok(scope('intrinsic').includes('rootServiceName'));

    // Grafana encodes the tag twice; its proxy decodes once, so the store sees it encoded once.
    const values = async (tag: string, q?: string) =>
      (await (
        await grafana(
          `/api/v2/search/tag/${encodeURIComponent(tag)}/values${q ? `?q=${encodeURIComponent(q)}` : ''}`,
        )
      ).json()) as { tagValues: { type: string; value: string }[] };
    const services = await values('resource.service.name');
    assert.deepEqual(
      services.tagValues,
      ['cart', 'checkout', 'frontend', 'payment', 'shipping'].map((value) => ({ type: 'string', value })),
    );
    const codes = await values('span.http.response.status_code');
    assert.ok(codes.tagValues.some((v) => v.type === 'int' && v.value === '200'));
    const status = await values('status');
    assert.ok(status.tagValues.every((v) => v.type === 'keyword'));
    assert.ok(status.tagValues.some((v) => v.value === 'error'));
    // q narrows to spans that may match: spans of a service that is nowhere give no values.
    assert.deepEqual((await values('name', '{ resource.service.name = "nowhere" }')).tagValues, []);
    assert.ok((await values('name', '{ resource.service.name = "cart" }')).tagValues.length > 0);
    const bad = await grafana('/api/v2/search/tag/app.user.id/values');
    assert.equal(bad.status, 400);

    const v1 = (await (await grafana('/api/search/tags')).json()) as { tagNames: string[] };
    assert.ok(v1.tagNames.includes('service.name') && v1.tagNames.includes('http.request.method'));
    const v1Values = (await (await grafana('/api/search/tag/service.name/values')).json()) as {
      tagValues: string[];
    };
    assert.deepEqual(v1Values.tagValues, ['cart', 'checkout', 'frontend', 'payment', 'shipping']);
  });
});
