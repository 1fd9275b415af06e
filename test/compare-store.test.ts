import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compareSpans, type CompareReport, type CompareSpan } from '../src/compare/compare-spans.js';
import { runCompare } from '../src/compare/run-compare.js';
import { av, SpanKind, type ResourceSpans, type Span, type TraceData } from '../src/otlp/index.js';
import { gaussian } from './helpers/compare-workload.js';
import { consume, startTestStore } from './helpers/store-harness.js';
import { rng } from './helpers/store-spans.js';
import { makeSpan } from './helpers/edge-spans.js';

const NOW_MS = Date.now();

/** Spans of `service` for both variants; the canary 50 % slower. Non-error spans weigh 4 (a 25 % sampler). */
function workload(service: string, perVariant: number, seed: number) {
  const random = rng(seed);
  const truth: CompareSpan[] = [];
  const resourceSpans: ResourceSpans[] = [];
  for (const variant of ['baseline', 'canary']) {
    const spans: Span[] = [];
    for (let i = 0; i < perVariant; i++) {
      const isError = random() < 0.05;
      const durationNs = Math.round(
        Math.exp(Math.log(20e6) + 0.4 * gaussian(random)) * (variant === 'canary' ? 1.5 : 1),
      );
      const weight = isError ? 1 : 4;
      const start = BigInt(NOW_MS - 600_000 + i * 10) * 1_000_000n;
      const name = i % 3 === 0 ? 'POST /pay' : 'GET /cart';
      spans.push(
        makeSpan({
          traceId: randomBytes(16).toString('hex'),
          spanId: randomBytes(8).toString('hex'),
          name,
          kind: i % 10 === 9 ? SpanKind.INTERNAL : SpanKind.SERVER,
          startTimeUnixNano: start,
          endTimeUnixNano: start + BigInt(durationNs),
          attributes: [{ key: 'sampling.weight', value: av.double(weight) }],
          status: { code: isError ? 2 : 0, message: '' },
        }),
      );
      if (i % 10 !== 9) truth.push({ durationNs, isError, weight, variant, operation: name });
    }
    resourceSpans.push({
      resource: {
        attributes: [
          { key: 'service.name', value: av.string(service) },
          { key: 'deployment.variant', value: av.string(variant) },
        ],
        droppedAttributesCount: 0,
      },
      scopeSpans: [
        {
          scope: { name: 't', version: '', attributes: [], droppedAttributesCount: 0 },
          spans,
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    });
  }
  return { data: { resourceSpans } as TraceData, truth };
}

/** Half of each resource's spans, so a part can go to blocks and the rest stay pending. */
function half(data: TraceData, which: 0 | 1): TraceData {
  return {
    resourceSpans: data.resourceSpans.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => {
        const mid = Math.floor(ss.spans.length / 2);
        return { ...ss, spans: which === 0 ? ss.spans.slice(0, mid) : ss.spans.slice(mid) };
      }),
    })),
  };
}

/** Deep equality with numbers equal to 1e-9 relative: sums taken in another order differ in the last bits. */
function assertClose(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    assert.ok(
      Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
      `${path}: ${actual} != ${expected}`,
    );
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: not an object`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys`);
    for (const k of Object.keys(e)) assertClose(a[k], e[k], `${path}.${k}`);
  } else {
    assert.equal(actual, expected, path);
  }
}

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), now: () => NOW_MS },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('GET /api/compare and sentinel compare against a store', () => {
  let harness: Awaited<ReturnType<typeof startTestStore>>;
  const checkout = workload('checkout', 1500, 21);
  const small = workload('tiny', 10, 22);

  before(async () => {
    harness = await startTestStore();
    await consume(harness.store, half(checkout.data, 0));
    await consume(harness.store, small.data);
    await harness.store.pipeline.forceFlush();
    // The second half stays in the WAL (pending); one batch of the first half again, as an agent's retry would.
    await consume(harness.store, half(checkout.data, 1));
    await consume(harness.store, half(checkout.data, 0));
  });
  after(async () => {
    await harness?.dispose();
  });

  it('answers the same report as the statistics over the spans sent, across blocks and pending spans, once each', async () => {
    const res = await harness.query('/api/compare?service=checkout&window=1h');
    assert.equal(res.status, 200);
    const report = res.body as CompareReport;
    const expected = compareSpans(checkout.truth);
    assert.equal(report.verdict, 'fail');
    assertClose(report.overall, JSON.parse(JSON.stringify(expected.overall)));
    assert.equal(report.overall.samples.baseline.stored, 1350, 'SERVER spans only, each once');
    assert.equal(report.query?.['service'], 'checkout');
    assert.ok(report.reasons.some((r) => r.includes('latency_shift') || r.includes('p50')));
  });

  it('says inconclusive for a service with 20 spans', async () => {
    const res = await harness.query('/api/compare?service=tiny');
    assert.equal(res.status, 200);
    assert.equal((res.body as CompareReport).verdict, 'inconclusive');
  });

  it('answers 400 naming the parameter for bad input', async () => {
    const missing = await harness.query('/api/compare?window=1h');
    assert.equal(missing.status, 400);
    assert.match((missing.body as { error: string }).error, /service: required/);
    const bad = await harness.query('/api/compare?service=checkout&max_latency_increase=lots');
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: string }).error, /max_latency_increase: expected a percentage/);
    const unknown = await harness.query('/api/compare?service=checkout&servce=x');
    assert.equal(unknown.status, 400);
  });

  it('sentinel compare --store prints the table and exits 1 on fail, 2 on inconclusive, 3 on bad flags', async () => {
    const url = `http://127.0.0.1:${harness.store.ports.query}`;
    const a = captureIo();
    assert.equal(await runCompare(['--store', url, '--service', 'checkout', '--window', '30m'], a.io), 1);
    assert.match(a.out(), /verdict: FAIL/);
    assert.match(a.out(), /operation "GET \/cart"/);
    const b = captureIo();
    assert.equal(await runCompare(['--store', url, '--service', 'tiny'], b.io), 2);
    assert.match(b.out(), /verdict: INCONCLUSIVE/);
    const c = captureIo();
    assert.equal(await runCompare(['--store', url, '--service', 'checkout', '--confidence', '2'], c.io), 3);
    assert.match(c.err(), /confidence: expected a level/);
    const d = captureIo();
    assert.equal(await runCompare(['--service', 'checkout'], d.io), 3);
    assert.match(d.err(), /exactly one of --store URL or --storage URL/);
    const e = captureIo();
    assert.equal(
      await runCompare(['--store', url, '--service', 'checkout', '--max-latency-increase', '80%'], e.io),
      0,
      'a 50 % slower canary passes when 80 % is allowed',
    );
  });

  it('sentinel compare --storage reads the blocks directly and agrees with the store', async () => {
    await harness.store.pipeline.forceFlush();
    const a = captureIo();
    const code = await runCompare(
      ['--storage', `file://${join(harness.dir, 'data')}`, '--service', 'checkout', '--format', 'json'],
      a.io,
    );
    assert.equal(code, 1);
    const fromStorage = JSON.parse(a.out()) as CompareReport;
    const fromStore = (await harness.query('/api/compare?service=checkout')).body as CompareReport;
    assertClose(fromStorage.overall, fromStore.overall);
    assertClose(fromStorage.operations, fromStore.operations);
  });

  it('writes a self-contained HTML report with both distributions', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sentinel-compare-')), 'report.html');
    const a = captureIo();
    const url = `http://127.0.0.1:${harness.store.ports.query}`;
    assert.equal(
      await runCompare(['--store', url, '--service', 'checkout', '--format', 'html', '--out', out], a.io),
      1,
    );
    const html = readFileSync(out, 'utf8');
    assert.match(html, /<path id="dist-baseline" d="M/);
    assert.match(html, /<path id="dist-canary" d="M/);
    assert.doesNotMatch(html, /<script|src=|href=/, 'no script and no external resource');
    assert.match(a.err(), /fail; report written to/);
  });
});
