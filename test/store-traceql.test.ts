import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { av, type KeyValue, type ResourceSpans, type Span, type TraceData } from '../src/otlp/index.js';
import { encodeBlock, flattenTraceData, uploadBlock, type StoredSpan } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { parseBlockMeta } from '../src/storage/block-meta.js';
import { BlockCatalog } from '../src/store/block-catalog.js';
import { QueryEngine } from '../src/store/query-engine.js';
import type { SearchResult } from '../src/store/trace-search.js';
import { parseTraceQL } from '../src/store/traceql/parse.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { consume, startTestStore } from './helpers/store-harness.js';
import { rng } from './helpers/store-spans.js';
import { makeSpan } from './helpers/edge-spans.js';

// Spans at 2026-03-02 08:00 UTC; the store's clock is two hours later.
const T0 = Date.UTC(2026, 2, 2, 8, 0, 0);
const NOW = T0 + 2 * 3_600_000;
const sec = (ms: number) => Math.floor(ms / 1000);

const SERVICES = ['checkout', 'cart', 'payment', 'shipping', 'frontend', 'ledger'];
const ENVS = ['prod', 'staging'];
const METHODS = ['GET', 'POST', 'PUT'];

/**
 * Traces with every kind of value TraceQL compares: string, int, double and bool attributes on spans and
 * resources, a key (`team`) on both (unscoped precedence), every status and kind, durations from 0 to 900 ms.
 */
function makeRichTraces(traces: number, seed: number, startMs: number): TraceData {
  const random = rng(seed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const resources = new Map<string, ResourceSpans>();
  for (let t = 0; t < traces; t++) {
    const traceId = hex(32);
    const traceStart = BigInt(startMs + t * 7) * 1_000_000n;
    const spans = 1 + Math.floor(random() * 5);
    const ids: string[] = [];
    for (let i = 0; i < spans; i++) {
      const service = SERVICES[Math.floor(random() * SERVICES.length)]!;
      const env = ENVS[(t + i) % 2]!;
      const key = `${service}/${env}`;
      let rs = resources.get(key);
      if (!rs) {
        rs = {
          resource: {
            attributes: [
              { key: 'service.name', value: av.string(service) },
              { key: 'deployment.environment', value: av.string(env) },
              { key: 'team', value: av.string(`team-${service}`) },
              { key: 'replicas', value: av.int(SERVICES.indexOf(service) + 1) },
            ],
            droppedAttributesCount: 0,
          },
          scopeSpans: [
            {
              scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 },
              spans: [],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        };
        resources.set(key, rs);
      }
      const spanId = hex(16);
      const start = traceStart + BigInt(Math.floor(random() * 20_000_000));
      const duration = BigInt(Math.floor(random() ** 3 * 900_000_000));
      const code = random() < 0.15 ? 2 : random() < 0.3 ? 1 : 0;
      const method = METHODS[Math.floor(random() * METHODS.length)]!;
      const attributes: KeyValue[] = [
        { key: 'http.request.method', value: av.string(method) },
        { key: 'http.response.status_code', value: av.int(code === 2 ? 500 : random() < 0.2 ? 404 : 200) },
        { key: 'load', value: av.double(Math.round(random() * 1000) / 100) },
        { key: 'cache.hit', value: av.bool(random() < 0.5) },
      ];
      if (random() < 0.3) attributes.push({ key: 'team', value: av.string('span-team') });
      const span: Span = makeSpan({
        traceId,
        spanId,
        parentSpanId: i === 0 ? '' : ids[Math.floor(random() * ids.length)]!,
        name: `${method} /${service}/${i === 0 ? 'entry' : 'step'}`,
        kind: i === 0 ? 2 : Math.floor(random() * 6),
        startTimeUnixNano: start,
        endTimeUnixNano: start + duration,
        attributes,
        status: { code, message: '' },
      });
      ids.push(spanId);
      rs.scopeSpans[0]!.spans.push(span);
    }
  }
  return { resourceSpans: [...resources.values()] };
}

// The reference: a straightforward filter over the same spans, written apart from src/store/traceql.
type Row = StoredSpan;
const attr = (list: readonly KeyValue[], key: string) => list.find((kv) => kv.key === key)?.value;
const spanAttr = (r: Row, k: string) => attr(r.span.attributes, k);
const resAttr = (r: Row, k: string) => attr(r.resource.attributes, k);
const anyAttr = (r: Row, k: string) => spanAttr(r, k) ?? resAttr(r, k);
const str = (v: ReturnType<typeof attr>) => (v?.kind === 'string' ? v.value : undefined);
const num = (v: ReturnType<typeof attr>) =>
  v?.kind === 'int' ? Number(v.value) : v?.kind === 'double' ? v.value : undefined;
const bool = (v: ReturnType<typeof attr>) => (v?.kind === 'bool' ? v.value : undefined);
const ms = (n: number) => BigInt(n) * 1_000_000n;
const dur = (r: Row) => r.span.endTimeUnixNano - r.span.startTimeUnixNano;
const status = (r: Row) => ['unset', 'ok', 'error'][r.span.status.code];
const kind = (r: Row) => ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'][r.span.kind];

interface TraceInfo {
  rootName: string;
  rootService: string;
  duration: bigint;
}
type SpanPred = (r: Row, t: TraceInfo) => boolean;
/** A trace-level reference: `any(p)` means some span satisfies p. */
type TracePred = (spans: Row[], t: TraceInfo) => boolean;
const any =
  (p: SpanPred): TracePred =>
  (spans, t) =>
    spans.some((r) => p(r, t));

const CASES: [string, TracePred][] = [
  ['{}', any(() => true)],
  ['{ resource.service.name = "cart" }', any((r) => str(resAttr(r, 'service.name')) === 'cart')],
  ['{ resource.service.name != "cart" }', any((r) => str(resAttr(r, 'service.name')) !== 'cart')],
  ['{ .service.name = "payment" }', any((r) => str(anyAttr(r, 'service.name')) === 'payment')],
  ['{ resource.service.name =~ "ca.*" }', any((r) => /^(?:ca.*)$/.test(str(resAttr(r, 'service.name'))!))],
  ['{ resource.service.name !~ "c.*" }', any((r) => !/^(?:c.*)$/.test(str(resAttr(r, 'service.name'))!))],
  ['{ resource.service.name > "ledger" }', any((r) => str(resAttr(r, 'service.name'))! > 'ledger')],
  ['{ resource.service.name <= "cart" }', any((r) => str(resAttr(r, 'service.name'))! <= 'cart')],
  ['{ span.http.request.method = "GET" }', any((r) => str(spanAttr(r, 'http.request.method')) === 'GET')],
  [
    '{ span.http.response.status_code = 404 }',
    any((r) => num(spanAttr(r, 'http.response.status_code')) === 404),
  ],
  [
    '{ span.http.response.status_code >= 500 }',
    any((r) => num(spanAttr(r, 'http.response.status_code'))! >= 500),
  ],
  [
    '{ span.http.response.status_code < 300 }',
    any((r) => num(spanAttr(r, 'http.response.status_code'))! < 300),
  ],
  ['{ .http.response.status_code != 200 }', any((r) => num(anyAttr(r, 'http.response.status_code')) !== 200)],
  ['{ span.load > 9.5 }', any((r) => num(spanAttr(r, 'load'))! > 9.5)],
  ['{ span.load <= 0.5 }', any((r) => num(spanAttr(r, 'load'))! <= 0.5)],
  [
    '{ .load >= 9 && .load < 9.2 }',
    any((r) => num(anyAttr(r, 'load'))! >= 9 && num(anyAttr(r, 'load'))! < 9.2),
  ],
  ['{ span.cache.hit = true }', any((r) => bool(spanAttr(r, 'cache.hit')) === true)],
  ['{ .cache.hit != true }', any((r) => bool(anyAttr(r, 'cache.hit')) === false)],
  ['{ resource.replicas > 4 }', any((r) => num(resAttr(r, 'replicas'))! > 4)],
  ['{ resource.replicas = 2.0 }', any((r) => num(resAttr(r, 'replicas')) === 2)],
  ['{ .team = "span-team" }', any((r) => str(anyAttr(r, 'team')) === 'span-team')],
  ['{ .team = "team-cart" }', any((r) => str(anyAttr(r, 'team')) === 'team-cart')],
  ['{ resource.team = "team-cart" }', any((r) => str(resAttr(r, 'team')) === 'team-cart')],
  ['{ span.team = "team-cart" }', any(() => false)],
  ['{ span.nope = "x" }', any(() => false)],
  ['{ span.nope != "x" }', any(() => false)],
  ['{ span.http.request.method = 200 }', any(() => false)],
  ['{ name = "GET /cart/entry" }', any((r) => r.span.name === 'GET /cart/entry')],
  ['{ name =~ "POST /.*/step" }', any((r) => /^(?:POST \/.*\/step)$/.test(r.span.name))],
  ['{ name !~ ".*entry" }', any((r) => !/^(?:.*entry)$/.test(r.span.name))],
  ['{ status = error }', any((r) => status(r) === 'error')],
  ['{ status = ok }', any((r) => status(r) === 'ok')],
  ['{ status = unset }', any((r) => status(r) === 'unset')],
  ['{ status != unset }', any((r) => status(r) !== 'unset')],
  ['{ kind = server }', any((r) => kind(r) === 'server')],
  ['{ kind = client }', any((r) => kind(r) === 'client')],
  ['{ kind != internal && kind != server }', any((r) => kind(r) !== 'internal' && kind(r) !== 'server')],
  ['{ kind = consumer || kind = producer }', any((r) => kind(r) === 'consumer' || kind(r) === 'producer')],
  ['{ duration > 500ms }', any((r) => dur(r) > ms(500))],
  ['{ duration >= 0.5s }', any((r) => dur(r) >= ms(500))],
  ['{ duration < 1ms }', any((r) => dur(r) < ms(1))],
  ['{ duration <= 100us }', any((r) => dur(r) <= 100_000n)],
  ['{ duration = 0ns }', any((r) => dur(r) === 0n)],
  ['{ traceDuration > 600ms }', any((_r, t) => t.duration > ms(600))],
  ['{ traceDuration < 5ms }', any((_r, t) => t.duration < ms(5))],
  ['{ rootName = "GET /cart/entry" }', any((_r, t) => t.rootName === 'GET /cart/entry')],
  ['{ rootName =~ "PUT.*" }', any((_r, t) => t.rootName.startsWith('PUT'))],
  ['{ rootServiceName = "ledger" }', any((_r, t) => t.rootService === 'ledger')],
  [
    '{ rootServiceName != "ledger" && status = error }',
    any((r, t) => t.rootService !== 'ledger' && status(r) === 'error'),
  ],
  [
    '{ resource.service.name = "payment" && status = error }',
    any((r) => str(resAttr(r, 'service.name')) === 'payment' && status(r) === 'error'),
  ],
  [
    '{ (resource.service.name = "cart" || resource.service.name = "ledger") && span.http.request.method = "PUT" }',
    any(
      (r) =>
        ['cart', 'ledger'].includes(str(resAttr(r, 'service.name'))!) &&
        str(spanAttr(r, 'http.request.method')) === 'PUT',
    ),
  ],
  [
    '{ resource.deployment.environment = "staging" && duration > 300ms || kind = producer }',
    any(
      (r) =>
        (str(resAttr(r, 'deployment.environment')) === 'staging' && dur(r) > ms(300)) ||
        kind(r) === 'producer',
    ),
  ],
  [
    '{ resource.service.name = "cart" } && { resource.service.name = "payment" }',
    (s, t) =>
      any((r) => str(resAttr(r, 'service.name')) === 'cart')(s, t) &&
      any((r) => str(resAttr(r, 'service.name')) === 'payment')(s, t),
  ],
  [
    '{ status = error } || { span.load > 9.9 }',
    (s, t) => any((r) => status(r) === 'error')(s, t) || any((r) => num(spanAttr(r, 'load'))! > 9.9)(s, t),
  ],
  [
    '({ kind = producer } || { kind = consumer }) && { rootServiceName = "frontend" }',
    (s, t) =>
      (any((r) => kind(r) === 'producer')(s, t) || any((r) => kind(r) === 'consumer')(s, t)) &&
      t.rootService === 'frontend',
  ],
  [
    'span:name = "GET /cart/step" && trace:rootService = "cart"'.replace(/^(.*)$/, '{ $1 }'),
    any((r, t) => r.span.name === 'GET /cart/step' && t.rootService === 'cart'),
  ],
];

function reference(rows: Row[], pred: TracePred): Set<string> {
  const byTrace = new Map<string, Row[]>();
  for (const r of rows) {
    const l = byTrace.get(r.span.traceId) ?? [];
    l.push(r);
    byTrace.set(r.span.traceId, l);
  }
  const out = new Set<string>();
  for (const [id, spans] of byTrace) {
    const root = spans.find((r) => r.span.parentSpanId === '')!;
    const start = spans.reduce(
      (m, r) => (r.span.startTimeUnixNano < m ? r.span.startTimeUnixNano : m),
      spans[0]!.span.startTimeUnixNano,
    );
    const end = spans.reduce((m, r) => (r.span.endTimeUnixNano > m ? r.span.endTimeUnixNano : m), 0n);
    const info = {
      rootName: root.span.name,
      rootService: str(resAttr(root, 'service.name'))!,
      duration: end - start,
    };
    if (pred(spans, info)) out.add(id);
  }
  return out;
}

void describe('TraceQL search against a reference filter', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let rows: Row[];

  before(async () => {
    // Small row groups, so row-group skipping and traces across row-group boundaries are exercised.
    h = await startTestStore({
      clock: new ManualClock(NOW),
      overrides: {
        query: { endpoint: '127.0.0.1:0', refresh_interval: '0s', max_limit: 10_000 },
        block: { row_group_spans: 64 },
      },
    });
    const parts = [0, 1, 2, 3].map((i) => makeRichTraces(150, 100 + i, T0 + i * 60_000));
    for (const part of parts.slice(0, 3)) {
      await consume(h.store, part);
      await h.store.pipeline.forceFlush();
    }
    await consume(h.store, parts[3]!); // left in the WAL
    rows = parts.flatMap((p) => flattenTraceData(p));
  });
  after(() => h.dispose());

  const search = async (q: string) => {
    const res = await h.query(
      `/api/search?q=${encodeURIComponent(q)}&limit=10000&start=${sec(T0) - 60}&end=${sec(NOW)}`,
    );
    assert.equal(res.status, 200, `${q}: ${JSON.stringify(res.body)}`);
    return res.body as SearchResult;
  };

  void test(`${CASES.length} queries return the same trace ids as the reference`, async () => {
    assert.ok(CASES.length >= 40);
    let nonEmpty = 0;
    for (const [q, pred] of CASES) {
      const want = reference(rows, pred);
      const got = await search(q);
      assert.deepEqual(new Set(got.traces.map((t) => t.traceID)), want, q);
      if (want.size > 0 && want.size < 600) nonEmpty++;
    }
    // The cases are selective: most match some traces and not all of them.
    assert.ok(nonEmpty >= 35, `only ${nonEmpty} selective cases`);
  });

  void test('a selective query skips blocks and row groups without changing the answer', async () => {
    // Few spans last over 880 ms, so most row groups have a smaller Duration maximum in their statistics.
    const got = await search('{ duration > 880ms }');
    assert.deepEqual(
      new Set(got.traces.map((t) => t.traceID)),
      reference(
        rows,
        any((r) => dur(r) > ms(880)),
      ),
    );
    assert.ok(got.metrics.skippedRowGroups > 0, JSON.stringify(got.metrics));
    const blocksBefore = await h.metrics.value('store_search_skipped_total', { unit: 'block' });
    const none = await search('{ name = "no span has this name" }');
    assert.equal(none.traces.length, 0);
    assert.equal(none.metrics.skippedBlocks, 3);
    assert.equal(none.metrics.inspectedBlocks, 0);
    assert.equal(await h.metrics.value('store_search_skipped_total', { unit: 'block' }), blocksBefore + 3);
    assert.ok((await h.metrics.value('store_search_skipped_total', { unit: 'row_group' })) > 0);
    assert.ok((await h.metrics.value('store_search_bytes_read_total')) > 0);
  });

  void test('results describe the whole trace and the matched spans with the attributes the query names', async () => {
    const got = await search('{ span.http.response.status_code = 500 }');
    const hit = got.traces[0]!;
    const spans = rows.filter((r) => r.span.traceId === hit.traceID);
    const root = spans.find((r) => r.span.parentSpanId === '')!;
    assert.equal(hit.rootTraceName, root.span.name);
    assert.equal(hit.rootServiceName, str(resAttr(root, 'service.name')));
    const matched = spans.filter((r) => num(spanAttr(r, 'http.response.status_code')) === 500);
    assert.equal(hit.spanSets[0]!.matched, matched.length);
    assert.deepEqual(hit.spanSet, hit.spanSets[0]);
    const shown = hit.spanSets[0]!.spans[0]!;
    assert.deepEqual(
      shown.attributes.find((a) => a.key === 'http.response.status_code'),
      { key: 'http.response.status_code', value: { intValue: '500' } },
    );
  });

  void test('unsupported TraceQL is refused with 400 naming the part, never a partial match', async () => {
    const cases: [string, RegExp][] = [
      ['{ status = error } | count() > 2', /pipeline "\| count\(\) > 2"/],
      ['{ .a = 1 } >> { .b = 2 }', /structural operator ">>"/],
      ['{ .a = 1 } ~ { .b = 2 }', /structural operator "~"/],
      ['{ event.name = "x" }', /scope "event\."/],
      ['{ link.traceID = "x" }', /scope "link\."/],
      ['{ parent.name = "x" }', /scope "parent\."/],
      ['{ !(.a = 1) }', /negation "!"/],
      ['{ .a + 1 = 2 }', /arithmetic "\+"/],
      ['{ .a = nil }', /"nil"/],
      ['{ .a }', /bare attribute "\.a"/],
      ['{ true }', /static condition "true"/],
      ['{ span:id = "abc" }', /intrinsic "span:id"/],
      ['{ status = "error" }', /expected one of error, ok, unset/],
      ['{ duration > 100 }', /expected a duration/],
      ['{ .a =~ 5 }', /regular expression must be a string/],
      ['{ .a =~ "(" }', /invalid regular expression/],
      ['{ .a = "x" ', /"}" closing the spanset/],
      ['{ .a = "unterminated }', /unterminated string/],
      ['{ .a = .b }', /comparing two fields/],
      ['{ .a = 1 } && ', /spanset/],
    ];
    // And the other search parameters name themselves.
    for (const [params, want] of [
      ['spss=abc', /^spss: /],
      ['limit=0', /^limit: /],
      ['minDuration=10ms&maxDuration=1ms', /^maxDuration: /],
      ['q={}&tags=a%3Db', /can't specify tags and q/],
      ['q={}&service=cart', /^service: not with q/],
    ] as const) {
      const res = await h.query(`/api/search?${params}`);
      assert.equal(res.status, 400, params);
      assert.match((res.body as { error: string }).error, want, params);
    }
    for (const [q, want] of cases) {
      const res = await h.query(`/api/search?q=${encodeURIComponent(q)}`);
      assert.equal(res.status, 400, q);
      const body = res.body as { error: string; code: string };
      assert.equal(body.code, 'SENTINEL_ERR_QUERY_INVALID', q);
      assert.match(body.error, want, q);
    }
  });
});

void describe('search over blocks written before the search summary', () => {
  void test('a block whose meta has no summary is read, never skipped on what it does not say', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-old-meta-'));
    try {
      const store = new LocalObjectStore(dir);
      const data = makeRichTraces(40, 7, T0);
      const encoded = encodeBlock(flattenTraceData(data), { rowGroupSize: 32 });
      // The meta as an older store wrote it: no `search`.
      const { search: _dropped, ...oldMeta } = encoded.meta;
      await uploadBlock(store, { ...encoded, meta: oldMeta });
      const catalog = new BlockCatalog({
        store,
        logger: silentLogger(),
        metrics: new Metrics(),
        refreshIntervalMs: 0,
      });
      const engine = new QueryEngine({ store, catalog, logger: silentLogger(), metrics: new Metrics() });
      const rows = flattenTraceData(data);
      for (const [q, pred] of CASES.filter(([q]) => /name|status|span\.load|kind/.test(q)).slice(0, 8)) {
        const got = await engine.search({
          query: parseTraceQL(q),
          startNs: BigInt(T0 - 60_000) * 1_000_000n,
          endNs: BigInt(NOW) * 1_000_000n,
          limit: 1000,
        });
        assert.deepEqual(new Set(got.traces.map((t) => t.traceID)), reference(rows, pred), q);
      }
      // Without a summary, only time and services can skip it.
      const none = await engine.search({
        query: parseTraceQL('{ resource.service.name = "nowhere" }'),
        startNs: BigInt(T0 - 60_000) * 1_000_000n,
        endNs: BigInt(NOW) * 1_000_000n,
        limit: 10,
      });
      assert.equal(none.metrics.skippedBlocks, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('a malformed summary in a meta is dropped when the meta is read, so the block is searched', () => {
    const encoded = encodeBlock(flattenTraceData(makeRichTraces(3, 8, T0)));
    const bad = {
      ...encoded.meta,
      search: { ...encoded.meta.search, statuses: 'error', attributes: [{ key: 1 }] },
    };
    const key = encoded.metaKey;
    const parsed = parseBlockMeta(key, new TextEncoder().encode(JSON.stringify(bad)));
    assert.equal(parsed.search, undefined);
    const good = parseBlockMeta(key, new TextEncoder().encode(JSON.stringify(encoded.meta)));
    assert.deepEqual(good.search, encoded.meta.search);
  });
});

void describe('tag values past the meta summary', () => {
  void test('span names past the summary bound are read from the SpanName column, not from every span', async () => {
    const h = await startTestStore({ clock: new ManualClock(NOW) });
    try {
      const data = makeRichTraces(600, 11, T0);
      let n = 0;
      for (const rs of data.resourceSpans)
        for (const ss of rs.scopeSpans) for (const s of ss.spans) (s as { name: string }).name = `op-${n++}`;
      assert.ok(n > 1000);
      await consume(h.store, data);
      await h.store.pipeline.forceFlush();
      const { blocks } = await h.store.engine.metadataSources({
        startNs: 0n,
        endNs: BigInt(NOW) * 1_000_000n,
      });
      assert.equal(blocks.length, 1);
      assert.equal(blocks[0]!.search?.spanNames, undefined); // more names than the summary keeps
      const res = await h.query(
        `/api/v2/search/tag/name/values?limit=100000&start=${sec(T0) - 60}&end=${sec(NOW)}`,
      );
      assert.equal(res.status, 200);
      const values = (res.body as { tagValues: { type: string; value: string }[] }).tagValues;
      assert.equal(values.length, n);
      assert.ok(values.every((v) => v.type === 'string' && /^op-\d+$/.test(v.value)));
      assert.ok((await h.metrics.value('store_query_blocks_read_total', { query: 'tags' })) >= 1);
    } finally {
      await h.dispose();
    }
  });
});
