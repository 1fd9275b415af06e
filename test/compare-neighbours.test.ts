/**
 * Issue 19: `sentinel compare`'s HTML report shows the compared service's neighbours per variant (canary and
 * baseline edges side by side, SVG), from the store's service graph through GET /api/compare.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { neighboursOf, renderNeighboursSvg } from '../src/compare/neighbours.js';
import { renderHtml } from '../src/compare/render.js';
import type { CompareReport } from '../src/compare/compare-spans.js';
import { SpanKind, type TraceData } from '../src/otlp/index.js';
import { edgeSpan, postTraces, serviceSpans } from './helpers/edge-spans.js';
import { startTestStore } from './helpers/store-harness.js';

const EDGES = [
  {
    client: 'frontend',
    server: 'cart',
    clientVariant: '',
    serverVariant: 'canary',
    requests: 1000,
    failed: 200,
  },
  {
    client: 'frontend',
    server: 'cart',
    clientVariant: '',
    serverVariant: 'baseline',
    requests: 1000,
    failed: 10,
  },
  {
    client: 'cart',
    server: 'payments',
    clientVariant: 'canary',
    serverVariant: '',
    requests: 990,
    failed: 0,
  },
  { client: 'cart', server: 'redis', clientVariant: 'canary', serverVariant: '', requests: 3000, failed: 0 },
  {
    client: 'cart',
    server: 'payments',
    clientVariant: 'baseline',
    serverVariant: '',
    requests: 1000,
    failed: 0,
  },
];

void describe('compare: neighbours per variant', () => {
  void test('each variant gets its own callers and callees, with requests and error rates', () => {
    const canary = neighboursOf(EDGES, 'cart', 'canary');
    assert.deepEqual(
      canary.callers.map((s) => [s.peer, s.requests, s.failed]),
      [['frontend', 1000, 200]],
    );
    assert.deepEqual(
      canary.callees.map((s) => s.peer),
      ['payments', 'redis'],
    );
    assert.deepEqual(
      neighboursOf(EDGES, 'cart', 'baseline').callees.map((s) => s.peer),
      ['payments'],
    );
    const svg = renderNeighboursSvg(
      { source: 'live', edges: EDGES },
      'cart',
      { baseline: 'baseline', canary: 'canary' },
      { baseline: '#00f', canary: '#f80' },
    );
    const canaryPanel = svg.slice(svg.indexOf('id="neighbours-canary"'));
    const baselinePanel = svg.slice(
      svg.indexOf('id="neighbours-baseline"'),
      svg.indexOf('id="neighbours-canary"'),
    );
    assert.match(canaryPanel, /1,000 req, 20% err/);
    assert.match(canaryPanel, />redis</);
    assert.doesNotMatch(baselinePanel, />redis</);
    assert.match(baselinePanel, /1,000 req, 1\.0% err/);
    assert.match(canaryPanel, /stroke="#cf222e"/, 'the failing edge is red');
  });
});

void describe('compare: neighbours from the store', () => {
  const T0 = Date.UTC(2026, 11, 4, 5, 0, 0);
  const now = T0 + 10 * 60_000;
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let n = 0;
  const id = (digits: number) => (++n).toString(16).padStart(digits, '0');
  const span = (
    kind: number,
    traceId: string,
    spanId: string,
    parent: string,
    name: string,
    startMs: number,
    error = false,
  ) => edgeSpan(kind, traceId, spanId, parent, { name, startMs, error, ms: 20 + (n % 7) });
  const resource = (service: string, variant: string) => serviceSpans(service, [], variant);

  before(async () => {
    h = await startTestStore({ clock: new ManualClock(now) });
    const data: TraceData = {
      resourceSpans: [
        resource('frontend', ''),
        resource('cart', 'baseline'),
        resource('cart', 'canary'),
        resource('payments', ''),
      ],
    };
    const spansOf = (i: number) => data.resourceSpans[i]!.scopeSpans[0]!.spans;
    for (let i = 0; i < 200; i++) {
      const t = id(32);
      const at = T0 + i * 1000;
      const canary = i % 2 === 1;
      const [fc, cs, cc, ps] = [id(16), id(16), id(16), id(16)];
      spansOf(0).push(span(SpanKind.CLIENT, t, fc, id(16), 'POST cart', at));
      spansOf(canary ? 2 : 1).push(
        span(SpanKind.SERVER, t, cs, fc, 'POST /cart', at, canary && i % 10 === 1),
      );
      if (!canary || i % 4 === 1) {
        spansOf(canary ? 2 : 1).push(span(SpanKind.CLIENT, t, cc, cs, 'POST payments', at));
        spansOf(3).push(span(SpanKind.SERVER, t, ps, cc, 'POST /charge', at));
      }
    }
    await postTraces(h.store.ports.http, data);
    await h.store.pipeline.forceFlush();
  });
  after(() => h.dispose());

  void test('GET /api/compare carries the neighbours per variant and the HTML report draws them side by side', async () => {
    const res = await h.query(
      `/api/compare?service=cart&start=${new Date(T0).toISOString()}&end=${new Date(now).toISOString()}&min_spans=10`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const report = res.body as CompareReport;
    assert.equal(report.neighbours?.source, 'live');
    const callers = (variant: string) => neighboursOf(report.neighbours!.edges, 'cart', variant);
    assert.deepEqual(
      callers('canary').callers.map((s) => [s.peer, s.requests, s.failed]),
      [['frontend', 100, 20]],
    );
    assert.deepEqual(
      callers('baseline').callees.map((s) => [s.peer, s.requests]),
      [['payments', 100]],
    );
    assert.deepEqual(
      callers('canary').callees.map((s) => [s.peer, s.requests]),
      [['payments', 50]],
    );
    const html = renderHtml(report);
    assert.match(html, /<h2>Neighbours of cart per variant<\/h2>/);
    assert.match(
      html,
      /id="neighbours-baseline"[\s\S]*>payments<[\s\S]*id="neighbours-canary"[\s\S]*20% err/,
    );
  });
});
