/**
 * Jaeger's query APIs over a real store, fed by the OpenTelemetry SDK through the store's OTLP receiver:
 * api_v3 (shapes written from Jaeger's own test snapshots, jaegertracing/jaeger
 * `cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/snapshots/*.json`) and the classic routes, asked
 * exactly as Grafana's Jaeger data source asks (grafana `pkg/tsdb/jaeger/client.go`, `grpc_client.go`), every
 * field Grafana reads checked against what the SDK recorded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import {
  decodeTraceRequestJson,
  type InstrumentationScope,
  type KeyValue,
  type Span,
} from '../src/otlp/index.js';
import { jaegerTagCondition, parseJaegerTraceId } from '../src/store/jaeger-api.js';
import { spanMatches, traceFacts } from '../src/store/traceql/evaluate.js';
import { toJaegerTrace } from '../src/store/jaeger-model.js';
import { flattenTraceData, type StoredSpan } from '../src/storage/index.js';
import { assertSameAsRecorded } from './helpers/assert-model.js';
import { expectedSpan, recordAndSend, sdkExporter } from './helpers/sdk.js';
import { startTestStore } from './helpers/store-harness.js';
import { makeSpan } from './helpers/edge-spans.js';

type Json = Record<string, unknown>;

/** Go's `url.Values.Encode`: keys sorted, `QueryEscape` (space as `+`). */
function goEncode(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => `${goEscape(k)}=${goEscape(values[k]!)}`)
    .join('&');
}
function goEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
/** Go's `time.Format(time.RFC3339Nano)` of a UTC time: trailing zeros of the fraction dropped. */
function rfc3339Nano(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

/** The keys of an object, sorted, for shape comparisons. */
const keys = (o: unknown) => Object.keys(o as Json).sort();

/** `{"result": {"resourceSpans": [{resource, scopeSpans: [{scope, spans: [{traceId, spanId, name, kind, status}]}]}]}}` */
function assertV3TracesShape(body: unknown): void {
  const b = body as Json;
  assert.deepEqual(keys(b), ['result']);
  const result = b['result'] as Json;
  assert.deepEqual(keys(result), ['resourceSpans']);
  const rss = result['resourceSpans'] as Json[];
  assert.ok(Array.isArray(rss) && rss.length > 0);
  for (const rs of rss) {
    assert.equal(typeof rs['resource'], 'object');
    const sss = rs['scopeSpans'] as Json[];
    assert.ok(Array.isArray(sss) && sss.length > 0);
    for (const ss of sss) {
      assert.equal(typeof ss['scope'], 'object');
      for (const span of ss['spans'] as Json[]) {
        assert.match(span['traceId'] as string, /^[0-9a-f]{32}$/);
        assert.match(span['spanId'] as string, /^[0-9a-f]{16}$/);
        assert.equal(typeof span['name'], 'string');
        assert.equal(typeof span['kind'], 'number', 'kind is the enum number, as in GetTrace.json');
        assert.equal(typeof span['status'], 'object');
        assert.match(span['startTimeUnixNano'] as string, /^\d+$/);
      }
    }
  }
}

/** api_v3's error body: `{"error": {"httpCode": N, "message": "..."}}` (GRPCGatewayError). */
function assertV3Error(res: { status: number; body: unknown }, status: number, message: RegExp): void {
  assert.equal(res.status, status);
  const b = res.body as Json;
  assert.deepEqual(keys(b), ['error']);
  const e = b['error'] as Json;
  assert.equal(e['httpCode'], status);
  assert.match(e['message'] as string, message);
}

/** The classic envelope Grafana decodes (`ServicesResponse` / `TracesResponse`): data, errors, limit, offset, total. */
function assertEnvelope(body: unknown): Json {
  const b = body as Json;
  assert.deepEqual(keys(b), ['data', 'errors', 'limit', 'offset', 'total']);
  assert.equal(typeof b['total'], 'number');
  assert.equal(typeof b['limit'], 'number');
  assert.equal(typeof b['offset'], 'number');
  return b;
}

interface UiKeyValue {
  key: string;
  type: string;
  value: unknown;
}
interface UiSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: UiKeyValue[];
  logs: { timestamp: number; fields: UiKeyValue[] }[];
  processID: string;
  warnings: string[] | null;
}
interface UiTrace {
  traceID: string;
  spans: UiSpan[];
  processes: Record<string, { serviceName: string; tags: UiKeyValue[] }>;
  warnings: string[] | null;
}

const hr = (t: readonly [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
const tag = (tags: UiKeyValue[], key: string) => tags.find((t) => t.key === key);

/** Every field Grafana's Jaeger data source reads of a trace (querydata.go transformTraceResponse), against the SDK. */
function assertUiTrace(t: UiTrace, recorded: readonly ReadableSpan[]): void {
  assert.deepEqual(keys(t), ['processes', 'spans', 'traceID', 'warnings']);
  assert.equal(t.spans.length, recorded.length);
  const bySpanId = new Map(t.spans.map((s) => [s.spanID, s]));
  for (const r of recorded) {
    const ctx = r.spanContext();
    const s = bySpanId.get(ctx.spanId);
    assert.ok(s, `span ${ctx.spanId} is in the trace`);
    assert.deepEqual(keys(s), [
      'duration',
      'logs',
      'operationName',
      'processID',
      'references',
      'spanID',
      'startTime',
      'tags',
      'traceID',
      'warnings',
    ]);
    assert.equal(s.traceID, ctx.traceId);
    assert.equal(t.traceID, ctx.traceId);
    assert.equal(s.operationName, r.name);
    assert.equal(s.startTime, Number(hr(r.startTime) / 1000n), 'startTime in microseconds');
    assert.equal(s.duration, Number((hr(r.endTime) - hr(r.startTime)) / 1000n), 'duration in microseconds');
    // The parent first, as CHILD_OF; links as FOLLOWS_FROM.
    const refs = [
      ...(r.parentSpanContext
        ? [{ refType: 'CHILD_OF', traceID: ctx.traceId, spanID: r.parentSpanContext.spanId }]
        : []),
      ...r.links.map((l) => ({
        refType: 'FOLLOWS_FROM',
        traceID: l.context.traceId,
        spanID: l.context.spanId,
      })),
    ];
    assert.deepEqual(s.references, refs);
    // Tags: the scope, every attribute with Jaeger's type, span.kind, the status.
    assert.deepEqual(tag(s.tags, 'otel.scope.name'), {
      key: 'otel.scope.name',
      type: 'string',
      value: r.instrumentationScope.name,
    });
    for (const [key, value] of Object.entries(r.attributes)) {
      const got = tag(s.tags, key);
      assert.ok(got, `attribute ${key} is a tag`);
      if (typeof value === 'string') assert.deepEqual(got, { key, type: 'string', value });
      else if (typeof value === 'boolean') assert.deepEqual(got, { key, type: 'bool', value });
      else if (typeof value === 'number')
        assert.deepEqual(got, { key, type: Number.isInteger(value) ? 'int64' : 'float64', value });
      else if (value instanceof Uint8Array)
        assert.deepEqual(got, { key, type: 'binary', value: Buffer.from(value).toString('base64') });
      else assert.equal(got.type, 'string', `${key}: arrays and maps are JSON strings`);
    }
    const kind = ['internal', 'server', 'client', 'producer', 'consumer'][r.kind]!;
    assert.deepEqual(tag(s.tags, 'span.kind'), { key: 'span.kind', type: 'string', value: kind });
    if (r.status.code === SpanStatusCode.ERROR) {
      assert.deepEqual(tag(s.tags, 'error'), { key: 'error', type: 'bool', value: true });
      assert.deepEqual(tag(s.tags, 'otel.status_code'), {
        key: 'otel.status_code',
        type: 'string',
        value: 'ERROR',
      });
      assert.deepEqual(tag(s.tags, 'otel.status_description'), {
        key: 'otel.status_description',
        type: 'string',
        value: r.status.message,
      });
    } else {
      assert.equal(tag(s.tags, 'error'), undefined);
      if (r.status.code === SpanStatusCode.OK)
        assert.deepEqual(tag(s.tags, 'otel.status_code'), {
          key: 'otel.status_code',
          type: 'string',
          value: 'OK',
        });
    }
    // Events are logs: the name as the `event` field, then the attributes; microseconds.
    assert.equal(s.logs.length, r.events.length);
    r.events.forEach((e, i) => {
      const log = s.logs[i]!;
      assert.deepEqual(keys(log), ['fields', 'timestamp']);
      assert.equal(log.timestamp, Number(hr(e.time) / 1000n));
      assert.deepEqual(log.fields[0], { key: 'event', type: 'string', value: e.name });
      assert.equal(log.fields.length, 1 + Object.keys(e.attributes ?? {}).length);
    });
    // The process: service.name, and the other resource attributes as tags.
    const p = t.processes[s.processID];
    assert.ok(p, `process ${s.processID} is listed`);
    assert.deepEqual(keys(p), ['serviceName', 'tags']);
    const res = r.resource.attributes;
    assert.equal(p.serviceName, res['service.name']);
    assert.equal(tag(p.tags, 'service.name'), undefined);
    for (const key of Object.keys(res))
      if (key !== 'service.name') assert.ok(tag(p.tags, key), `resource ${key}`);
  }
}

void describe('Jaeger APIs over the store', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let checkout: ReadableSpan[];
  let crossService: ReadableSpan[];
  let startMs: number;

  /** A trace across two services (frontend -> payments), sent by two SDK providers like two pods. */
  async function sendCrossServiceTrace(ports: {
    grpcPort: number;
    httpPort: number;
  }): Promise<ReadableSpan[]> {
    const memory = new InMemorySpanExporter();
    const provider = (service: string, extra: Record<string, string>) =>
      new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': service, ...extra }),
        spanProcessors: [
          new SimpleSpanProcessor({ exporter: memory }),
          new SimpleSpanProcessor({ exporter: sdkExporter('proto', ports) }),
        ],
      });
    const frontend = provider('frontend', { 'deployment.variant': 'canary' });
    const payments = provider('payments', { 'k8s.pod.name': 'payments-0' });
    const root = frontend.getTracer('web', '2.0.0').startSpan('GET /checkout', {
      kind: SpanKind.SERVER,
      attributes: { 'http.status_code': 200, 'sampling.weight': 10.5 },
    });
    const child = payments
      .getTracer('rpc')
      .startSpan(
        'charge',
        { kind: SpanKind.SERVER, attributes: { 'payment.amount': 12.5 } },
        trace.setSpan(context.active(), root),
      );
    child.addEvent('retry', { attempt: 2 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
    child.end();
    root.end();
    await Promise.all([frontend.forceFlush(), payments.forceFlush()]);
    const spans = [...memory.getFinishedSpans()];
    await Promise.all([frontend.shutdown(), payments.shutdown()]);
    return spans;
  }

  before(async () => {
    h = await startTestStore();
    const ports = { grpcPort: h.store.ports.grpc, httpPort: h.store.ports.http };
    startMs = Date.now() - 1000;
    checkout = await recordAndSend(40, sdkExporter('proto', ports), { serviceName: 'checkout' });
    // The checkout traces go into a block; the cross-service trace stays in the WAL (both paths are read).
    await h.store.pipeline.forceFlush();
    crossService = await sendCrossServiceTrace(ports);
  });
  after(() => h.dispose());

  const window = () => ({ min: rfc3339Nano(startMs), max: rfc3339Nano(Date.now() + 1000) });
  const checkoutTrace = () => {
    const id = checkout[0]!.spanContext().traceId;
    return { id, spans: checkout.filter((s) => s.spanContext().traceId === id) };
  };

  void test('api_v3 services and operations answer GetServices.json and GetOperations.json shapes', async () => {
    const services = await h.query('/api/v3/services');
    assert.equal(services.status, 200);
    assert.deepEqual(services.body, { services: ['checkout', 'frontend', 'payments'] });

    h.objects.resetStats();
    const ops = await h.query('/api/v3/operations?service=checkout');
    assert.ok(h.objects.totalGets > 0, 'the first listing reads the block');
    assert.equal(ops.status, 200);
    const list = (ops.body as { operations: Json[] }).operations;
    assert.deepEqual(keys(ops.body), ['operations']);
    for (const op of list) assert.deepEqual(keys(op), ['name', 'spanKind']);
    assert.deepEqual(
      list.map((o) => `${String(o['name'])}/${String(o['spanKind'])}`),
      ['GET /items/0', 'GET /items/1', 'GET /items/2', 'GET /items/3', 'GET /items/4', 'SELECT items'].map(
        (n) => `${n}/${n.startsWith('GET') ? 'server' : 'client'}`,
      ),
    );
    // The canonical spanKind and the deprecated span_kind both filter; pending spans are listed too.
    for (const q of ['span_kind=client', 'spanKind=client'])
      assert.deepEqual((await h.query(`/api/v3/operations?service=checkout&${q}`)).body, {
        operations: [{ name: 'SELECT items', spanKind: 'client' }],
      });
    // A block is read once for its operations; later listings read nothing.
    h.objects.resetStats();
    await h.query('/api/v3/operations?service=checkout');
    await h.query('/jaeger/api/services/checkout/operations');
    assert.equal(h.objects.totalGets, 0);
    assert.deepEqual((await h.query('/api/v3/operations?service=payments')).body, {
      operations: [{ name: 'charge', spanKind: 'server' }],
    });
  });

  void test('api_v3 GET /api/v3/traces/{id} answers GetTrace.json shape with the spans the SDK sent', async () => {
    const { id, spans } = checkoutTrace();
    const res = await h.query(`/api/v3/traces/${id}`);
    assert.equal(res.status, 200);
    assertV3TracesShape(res.body);
    const result = (res.body as { result: unknown }).result;
    assertSameAsRecorded(decodeTraceRequestJson(JSON.stringify(result)), spans);
    // base64 ids (Jaeger's TraceIDFromString) and a time range in RFC 3339 (start_time / startTime).
    const b64 = Buffer.from(id, 'hex').toString('base64');
    const w = window();
    for (const path of [
      `/api/v3/traces/${encodeURIComponent(b64)}`,
      `/api/v3/traces/${id}?start_time=${w.min}&end_time=${w.max}`,
      `/api/v3/traces/${id}?startTime=${w.min}&endTime=${w.max}`,
    ])
      assert.equal((await h.query(path)).status, 200, path);
    assertV3Error(await h.query(`/api/v3/traces/${'ab'.repeat(16)}`), 404, /^No traces found$/);
    assertV3Error(await h.query('/api/v3/traces/not-an-id!'), 400, /^malformed parameter trace_id/);
    assertV3Error(
      await h.query(`/api/v3/traces/${id}?start_time=yesterday`),
      400,
      /^malformed parameter start_time/,
    );
  });

  void test('api_v3 search finds whole traces by service, operation, attributes and duration (FindTraces.json shape)', async () => {
    const w = window();
    const search = async (extra: Record<string, string>) =>
      h.query(
        `/api/v3/traces?${new URLSearchParams({ 'query.start_time_min': w.min, 'query.start_time_max': w.max, ...extra }).toString()}`,
      );
    const traceIds = (body: unknown) => {
      const out = new Set<string>();
      for (const r of flattenTraceData(
        decodeTraceRequestJson(JSON.stringify((body as { result: unknown }).result)),
      ))
        out.add(r.span.traceId);
      return out;
    };
    const crossId = crossService[0]!.spanContext().traceId;

    // By service: the whole trace comes back, both services' resources.
    const byService = await search({ 'query.service_name': 'payments' });
    assert.equal(byService.status, 200);
    assertV3TracesShape(byService.body);
    assert.deepEqual([...traceIds(byService.body)], [crossId]);
    const rows = flattenTraceData(
      decodeTraceRequestJson(JSON.stringify((byService.body as { result: unknown }).result)),
    );
    assert.equal(rows.length, 2);
    for (const r of rows)
      assert.deepEqual(
        r.span,
        expectedSpan(crossService.find((s) => s.spanContext().spanId === r.span.spanId)!),
      );

    // Attributes match as strings against span and resource attributes (Jaeger's memory store rules).
    assert.deepEqual(
      [...traceIds((await search({ 'query.attributes': '{"http.status_code":"200"}' })).body)],
      [crossId],
    );
    assert.deepEqual(
      [...traceIds((await search({ 'query.attributes': '{"resource.deployment.variant":"canary"}' })).body)],
      [crossId],
    );
    const errorTraces = new Set(
      [...checkout, ...crossService]
        .filter((s) => s.status.code === SpanStatusCode.ERROR)
        .map((s) => s.spanContext().traceId),
    );
    assert.deepEqual(traceIds((await search({ 'query.attributes': '{"error":"true"}' })).body), errorTraces);
    // Canonical camelCase names; operation and duration; search depth bounds the count.
    const byOp = await search({
      'query.serviceName': 'checkout',
      'query.operationName': 'SELECT items',
      'query.searchDepth': '3',
    });
    assert.equal(traceIds(byOp.body).size, 3);
    assertV3Error(
      await search({ 'query.service_name': 'checkout', 'query.duration_min': '1h' }),
      404,
      /^No traces found$/,
    );
    assertV3Error(
      await search({ 'query.duration_min': 'soon' }),
      400,
      /^malformed parameter query.duration_min/,
    );
    assertV3Error(
      await h.query('/api/v3/traces?query.service_name=checkout'),
      400,
      /query.startTimeMin and query.startTimeMax are required/,
    );
    assertV3Error(await search({ 'query.attributes': '[1]' }), 400, /^malformed parameter query.attributes/);
    assertV3Error(await search({ 'query.filter': '{"op":"eq"}' }), 400, /query.filter/);
    assertV3Error(
      await h.query(
        `/api/v3/traces?query.start_time_min=2026-01-01T00:00:00Z&query.start_time_max=2026-02-01T00:00:00Z`,
      ),
      400,
      /max_search_window/,
    );
  });

  void test('api_v3 trace summaries answer FindTraceSummaries.json shape', async () => {
    const w = window();
    const res = await h.query(
      `/api/v3/trace-summaries?query.service_name=payments&query.start_time_min=${w.min}&query.start_time_max=${w.max}`,
    );
    assert.equal(res.status, 200);
    const summaries = (res.body as { summaries: Json[] }).summaries;
    assert.equal(summaries.length, 1);
    const s = summaries[0]!;
    assert.deepEqual(keys(s), [
      'errorSpanCount',
      'maxEndTimeUnixNano',
      'minStartTimeUnixNano',
      'rootOperationName',
      'rootServiceName',
      'services',
      'spanCount',
      'traceId',
    ]);
    assert.equal(s['traceId'], crossService[0]!.spanContext().traceId);
    assert.equal(s['rootServiceName'], 'frontend');
    assert.equal(s['rootOperationName'], 'GET /checkout');
    assert.equal(s['spanCount'], 2);
    assert.equal(s['errorSpanCount'], 1);
    assert.deepEqual(s['services'], [
      { name: 'frontend', spanCount: 1 },
      { name: 'payments', spanCount: 1, errorSpanCount: 1 },
    ]);
  });

  void test('the classic routes answer what Grafana’s Jaeger data source asks, in Jaeger UI’s model', async () => {
    // Grafana's data source URL is http://<store>:3200/jaeger; client.go joins its paths onto it.
    const base = '/jaeger';
    const services = assertEnvelope((await h.query(`${base}/api/services`)).body);
    assert.deepEqual(services['data'], ['checkout', 'frontend', 'payments']);
    assert.equal(services['total'], 3);
    assert.equal(services['errors'], null);
    const ops = assertEnvelope((await h.query(`${base}/api/services/checkout/operations`)).body);
    assert.deepEqual(ops['data'], [
      'GET /items/0',
      'GET /items/1',
      'GET /items/2',
      'GET /items/3',
      'GET /items/4',
      'SELECT items',
    ]);
    const kindOps = assertEnvelope(
      (await h.query(`${base}/api/operations?service=checkout&spanKind=client`)).body,
    );
    assert.deepEqual(kindOps['data'], [{ name: 'SELECT items', spanKind: 'client' }]);

    // Search as client.go Search builds it: tags from logfmt to JSON, start/end in microseconds.
    const qs = goEncode({
      service: 'payments',
      operation: 'charge',
      tags: JSON.stringify({ 'payment.amount': '12.5' }),
      minDuration: '0ms',
      maxDuration: '10s',
      limit: '20',
      start: String(startMs * 1000),
      end: String((Date.now() + 1000) * 1000),
    });
    const found = assertEnvelope((await h.query(`${base}/api/traces?${qs}`)).body);
    const traces = found['data'] as UiTrace[];
    assert.equal(traces.length, 1);
    assertUiTrace(traces[0]!, crossService);
    assert.equal(Object.keys(traces[0]!.processes).length, 2, 'one process per service');
    const root = traces[0]!.spans.find((s) => s.operationName === 'GET /checkout')!;
    assert.deepEqual(tag(root.tags, 'sampling.weight'), {
      key: 'sampling.weight',
      type: 'float64',
      value: 10.5,
    });
    assert.deepEqual(tag(traces[0]!.processes[root.processID]!.tags, 'deployment.variant'), {
      key: 'deployment.variant',
      type: 'string',
      value: 'canary',
    });

    // Trace by id, with Grafana's traceIdTimeParams (start/end as it sends them: milliseconds).
    const { id, spans } = checkoutTrace();
    for (const path of [
      `${base}/api/traces/${id}`,
      `${base}/api/traces/${id}?${goEncode({ end: String(Date.now() + 1000), start: String(startMs) })}`,
      `${base}/api/traces/${id}?${goEncode({ end: String((Date.now() + 1000) * 1000), start: String(startMs * 1000) })}`,
    ]) {
      const one = assertEnvelope((await h.query(path)).body);
      assert.equal((one['data'] as UiTrace[]).length, 1, path);
      assertUiTrace((one['data'] as UiTrace[])[0]!, spans);
    }
    const missing = await h.query(`${base}/api/traces/${'cd'.repeat(16)}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      data: null,
      total: 0,
      limit: 0,
      offset: 0,
      errors: [{ code: 404, msg: 'trace not found' }],
    });
    const bad = await h.query(`${base}/api/traces?service=checkout&start=yesterday`);
    assert.equal(bad.status, 400);
    assert.match(
      (assertEnvelope(bad.body)['errors'] as { msg: string }[])[0]!.msg,
      /unable to parse param 'start'/,
    );
    // Jaeger UI's forms: `tag=key:value` (repeated), `lookback` instead of start; ids looked up with `traceID=`.
    const crossId = crossService[0]!.spanContext().traceId;
    const byTag = assertEnvelope(
      (
        await h.query(
          `${base}/api/traces?service=frontend&tag=http.status_code:200&tag=error:false&lookback=1h`,
        )
      ).body,
    );
    assert.deepEqual(
      (byTag['data'] as UiTrace[]).map((t) => t.traceID),
      [crossId],
    );
    const byIds = assertEnvelope(
      (await h.query(`${base}/api/traces?traceID=${crossId}&traceID=${'ef'.repeat(16)}`)).body,
    );
    assert.deepEqual(
      (byIds['data'] as UiTrace[]).map((t) => t.traceID),
      [crossId],
    );
    assert.deepEqual(byIds['errors'], [{ msg: 'trace not found', traceID: 'ef'.repeat(16) }]);
    const badTag = await h.query(`${base}/api/traces?service=frontend&tag=nocolon`);
    assert.equal(badTag.status, 400);
    assert.match((assertEnvelope(badTag.body)['errors'] as { msg: string }[])[0]!.msg, /expecting key:value/);
    const noService = await h.query(`${base}/api/operations`);
    assert.equal(noService.status, 400);
    // Tempo's /api/traces/{id} is untouched by the prefix.
    assert.ok('batches' in ((await h.query(`/api/traces/${id}`)).body as Json));
  });

  void test('Grafana’s api_v3 client (grpc_client.go) reads services, operations, search and trace under /jaeger', async () => {
    const base = '/jaeger';
    assert.deepEqual((await h.query(`${base}/api/v3/services`)).body, {
      services: ['checkout', 'frontend', 'payments'],
    });
    const ops = (await h.query(`${base}/api/v3/operations?${goEncode({ service: 'frontend' })}`)).body;
    assert.deepEqual(ops, { operations: [{ name: 'GET /checkout', spanKind: 'server' }] });
    // GrpcSearch appends the times unencoded (RFC3339Nano), after the encoded parameters.
    const encoded = goEncode({
      'query.service_name': 'frontend',
      'query.attributes': JSON.stringify({ 'sampling.weight': '10.5' }),
    });
    const search = await h.query(
      `${base}/api/v3/traces?${encoded}&query.start_time_min=${rfc3339Nano(startMs)}&query.start_time_max=${rfc3339Nano(Date.now() + 1000)}`,
    );
    assert.equal(search.status, 200);
    assertV3TracesShape(search.body);
    // What TransformGrpcSearchResponse reads: per resource, service.name and the spans' names and times.
    const rss = (search.body as { result: { resourceSpans: Json[] } }).result.resourceSpans;
    const names = rss.map(
      (rs) =>
        (
          rs['resource'] as { attributes: { key: string; value: { stringValue?: string } }[] }
        ).attributes.find((a) => a.key === 'service.name')?.value.stringValue,
    );
    assert.deepEqual(names.sort(), ['frontend', 'payments']);
    // GrpcTrace: start_time/end_time appended as the raw query.
    const { id, spans } = checkoutTrace();
    const one = await h.query(
      `${base}/api/v3/traces/${id}?start_time=${rfc3339Nano(startMs)}&end_time=${rfc3339Nano(Date.now() + 1000)}`,
    );
    assert.equal(one.status, 200);
    assertSameAsRecorded(
      decodeTraceRequestJson(JSON.stringify((one.body as { result: unknown }).result)),
      spans,
    );
  });
});

void describe('Jaeger model and parameters', () => {
  void test('trace ids are read as Jaeger reads them: short hex is the low half, base64 of 16 bytes', () => {
    assert.equal(parseJaegerTraceId('ABC'), '0'.repeat(29) + 'abc');
    assert.equal(parseJaegerTraceId('ab'.repeat(16)), 'ab'.repeat(16));
    assert.equal(
      parseJaegerTraceId(Buffer.from('ab'.repeat(16), 'hex').toString('base64url')),
      'ab'.repeat(16),
    );
    assert.equal(parseJaegerTraceId('ab'.repeat(17)), undefined);
    assert.equal(parseJaegerTraceId('zz'), undefined);
  });

  void test('a 64-bit trace id prints as 16 digits; big integers stay exact; arrays are JSON strings', () => {
    const t = toJaegerTrace([
      stubRow({
        traceId: '0'.repeat(16) + '1'.repeat(16),
        spanId: '2'.repeat(16),
        traceState: 'a=b',
        startTimeUnixNano: 1_700_000_000_123_456_789n,
        endTimeUnixNano: 1_700_000_000_123_457_789n,
        attributes: [
          { key: 'big', value: { kind: 'int', value: 2n ** 60n } },
          {
            key: 'arr',
            value: {
              kind: 'array',
              value: [
                { kind: 'int', value: 1n },
                { kind: 'string', value: 'x' },
              ],
            },
          },
          {
            key: 'map',
            value: {
              kind: 'kvlist',
              value: [
                { key: 'z', value: { kind: 'bool', value: true } },
                { key: 'a', value: { kind: 'double', value: 1.5 } },
              ],
            },
          },
        ],
      }),
    ]);
    assert.equal(t.traceID, '1'.repeat(16));
    const s = t.spans[0]!;
    assert.equal(s.startTime, 1_700_000_000_123_456);
    assert.equal(s.duration, 1);
    assert.deepEqual(s.tags, [
      { key: 'big', type: 'int64', value: (2n ** 60n).toString() },
      { key: 'arr', type: 'string', value: '[1,"x"]' },
      { key: 'map', type: 'string', value: '{"a":1.5,"z":true}' },
      { key: 'w3c.tracestate', type: 'string', value: 'a=b' },
    ]);
    assert.deepEqual(t.processes, { p1: { serviceName: 'OTLP_ResourceNoServiceName', tags: [] } });
  });

  void test('tags become TraceQL conditions that match as Jaeger does: error, span.kind, resource. prefix, values as strings', () => {
    const row = stubRow(
      {
        kind: 3,
        status: { code: 2, message: '' },
        attributes: [{ key: 'http.status_code', value: { kind: 'int', value: 500n } }],
        events: [
          {
            timeUnixNano: 0n,
            name: 'e',
            attributes: [{ key: 'exception.type', value: { kind: 'string', value: 'Boom' } }],
            droppedAttributesCount: 0,
          },
        ],
      },
      [{ key: 'service.name', value: { kind: 'string', value: 's' } }],
      { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 },
    );
    const yes = (tags: Record<string, string>) =>
      Object.entries(tags).every(([k, v]) => spanMatches(jaegerTagCondition(k, v), row, traceFacts([row])));
    assert.ok(yes({ error: 'true', 'span.kind': 'client', 'http.status_code': '500' }));
    assert.ok(yes({ 'resource.service.name': 's', 'service.name': 's', 'span.status': 'error' }));
    assert.ok(!yes({ error: 'false' }));
    assert.throws(() => yes({ error: 'maybe' }), /tag error: expected true or false/);
    assert.throws(() => yes({ 'scope.name': 'lib' }), /not supported/);
    assert.ok(!yes({ 'span.kind': 'server' }));
    assert.ok(!yes({ 'resource.http.status_code': '500' }));
    assert.ok(!yes({ 'http.status_code': '200' }));
  });
});

/** A stored span with defaults for every field not given. */
function stubRow(
  span: Partial<Span>,
  resource: KeyValue[] = [],
  scope: InstrumentationScope = { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
): StoredSpan {
  return {
    span: makeSpan({
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      flags: 0,
      kind: 0,
      startTimeUnixNano: 0n,
      endTimeUnixNano: 0n,
      ...span,
    }),
    resource: { attributes: resource, droppedAttributesCount: 0 },
    resourceSchemaUrl: '',
    scope,
    scopeSchemaUrl: '',
  };
}
