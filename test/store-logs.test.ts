import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  decodeLogsRequest,
  keepValidLogs,
  logsDataToJson,
  parseSeverity,
  ProtobufWriter,
  type LogsData,
} from '../src/otlp/index.js';
import { encodeLogsPayloads, flattenLogsData, LogsEncoder, uploadLogsBlock } from '../src/storage/index.js';
import { encodeLogsBlock, LOGS_PREFIX } from '../src/storage/logs-block.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { LOGS_COLUMNS } from '../src/storage/logs-columns.js';
import { roleForPath } from '../src/store/access-role.js';
import { LogsQuery } from '../src/store/logs-query.js';
import { LogsPipeline, withLogs } from '../src/store/logs-pipeline.js';
import { runQuarantine } from '../src/store/quarantine.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { TestS3 } from './helpers/s3rver.js';
import {
  flatLogRecords,
  sdkLogRecords,
  sdkLogsJson,
  sdkLogsProtobuf,
  type LogSpec,
} from './helpers/store-sdk-logs.js';
import { capturingLogger, consume, startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';
import { promSamples } from './helpers/prom-text.js';
import { grpcExport, postTraces } from './helpers/receivers.js';
import { partialSuccess } from '../src/export/retry-info.js';
import { EXPORT_METHODS } from '../src/otlp/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-logs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';
const nowMs = Date.now();

/** A shop's logs: two services, every severity, bodies of every kind, some with a trace. */
function shopLogs(): LogSpec[] {
  return [
    {
      service: 'checkout',
      severityNumber: 9,
      severityText: 'INFO',
      body: 'order placed',
      traceId: TRACE,
      spanId: SPAN,
      timeMs: nowMs - 5000,
      attributes: { 'order.id': 'o-1', items: 3 },
    },
    {
      service: 'checkout',
      severityNumber: 13,
      severityText: 'WARN',
      body: 'retrying payment',
      traceId: TRACE,
      spanId: SPAN,
      timeMs: nowMs - 4000,
      attributes: { 'sampling.weight': 10 },
      resource: {},
    },
    {
      service: 'checkout',
      severityNumber: 17,
      severityText: 'ERROR',
      body: { code: 502, detail: ['upstream', true] },
      timeMs: nowMs - 3000,
      eventName: 'payment.failed',
    },
    {
      service: 'checkout',
      severityText: 'warning',
      body: 'bridged logger without a number',
      timeMs: nowMs - 2500,
    },
    {
      service: 'cart',
      severityNumber: 5,
      severityText: 'DEBUG',
      body: 42,
      timeMs: nowMs - 2000,
      resource: {
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'cart-7d9f-1',
        'k8s.node.name': 'node-1',
        'k8s.deployment.name': 'cart',
        'deployment.variant': 'canary',
      },
    },
    {
      service: 'cart',
      severityNumber: 21,
      severityText: 'FATAL',
      body: 3.5,
      timeMs: nowMs - 1000,
      traceId: TRACE,
      spanId: 'aaaaaaaaaaaaaaaa',
      resource: {
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'cart-7d9f-1',
        'k8s.node.name': 'node-1',
        'k8s.deployment.name': 'cart',
        'deployment.variant': 'canary',
      },
    },
  ];
}

void describe('logs model: decoding and OTLP/JSON', () => {
  let records: ReadableLogRecord[];
  before(async () => {
    records = await sdkLogRecords(shopLogs());
  });

  void test("decodes the SDK protobuf serializer's bytes into the records the SDK made, field for field", () => {
    const data = decodeLogsRequest(sdkLogsProtobuf(records));
    assert.deepEqual(flatLogRecords(logsDataToJson(data)), flatLogRecords(sdkLogsJson(records)));
    const first = data.resourceLogs[0]!.scopeLogs[0]!;
    assert.equal(first.scope.name, 'shop.orders');
    assert.equal(first.schemaUrl, 'https://opentelemetry.io/schemas/1.30.0');
    const traced = data.resourceLogs
      .flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords))
      .filter((r) => r.traceId);
    assert.equal(traced.length, 3);
    assert.ok(traced.every((r) => r.traceId === TRACE && r.flags === 1));
  });

  void test('refuses truncated bytes and wrong wire types with coded errors naming the field and offset, and skips unknown fields', () => {
    const bytes = sdkLogsProtobuf(records);
    assert.throws(
      () => decodeLogsRequest(bytes.subarray(0, bytes.length - 3)),
      (err: Error & { code?: string }) =>
        err.code === 'SENTINEL_ERR_OTLP_DECODE' && /at byte \d+/.test(err.message),
    );
    // A log record whose time_unix_nano (field 1) is sent as a varint.
    const w = new ProtobufWriter();
    const rl = w.begin(1);
    const sl = w.begin(2);
    const lr = w.begin(2);
    w.uint32(1, 7);
    w.end(lr);
    w.end(sl);
    w.end(rl);
    assert.throws(
      () => decodeLogsRequest(w.finish()),
      (err: Error & { code?: string }) =>
        err.code === 'SENTINEL_ERR_OTLP_DECODE' &&
        err.message.includes('log_record.time_unix_nano') &&
        err.message.includes('resource_logs.scope_logs.log_records'),
    );
    // A trace id of 3 bytes.
    const v = new ProtobufWriter();
    const a = v.begin(1);
    const b = v.begin(2);
    const c = v.begin(2);
    v.bytes(9, new Uint8Array([1, 2, 3]));
    v.end(c);
    v.end(b);
    v.end(a);
    assert.throws(
      () => decodeLogsRequest(v.finish()),
      (err: Error & { code?: string }) =>
        err.code === 'SENTINEL_ERR_OTLP_INVALID' &&
        err.message.includes('log_record.trace_id must be 16 bytes'),
    );
    // Unknown fields (99 at every level) are skipped.
    const u = new ProtobufWriter();
    u.string(99, 'future');
    const r1 = u.begin(1);
    u.string(99, 'x');
    const s1 = u.begin(2);
    const l1 = u.begin(2);
    u.fixed64(1, 5n);
    u.string(99, 'y');
    u.string(3, 'INFO');
    u.end(l1);
    u.end(s1);
    u.end(r1);
    const decoded = decodeLogsRequest(u.finish());
    assert.equal(decoded.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.severityText, 'INFO');
  });

  void test('validation drops records with no time or a time past 2^63, counts them by reason, and clears all-zero ids', () => {
    const rec = (time: bigint, observed: bigint, traceId = '') => ({
      timeUnixNano: time,
      observedTimeUnixNano: observed,
      severityNumber: 9,
      severityText: '',
      body: { kind: 'empty' as const },
      attributes: [],
      droppedAttributesCount: 0,
      flags: 0,
      traceId,
      spanId: '',
      eventName: '',
    });
    const data: LogsData = {
      resourceLogs: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          schemaUrl: '',
          scopeLogs: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              schemaUrl: '',
              logRecords: [rec(1n, 0n, '0'.repeat(32)), rec(0n, 0n), rec(2n ** 64n - 1n, 1n), rec(0n, 5n)],
            },
          ],
        },
      ],
    };
    const r = keepValidLogs(data);
    assert.equal(r.rejected, 2);
    assert.deepEqual([...r.counts].sort(), [
      ['no_time', 1],
      ['time_out_of_range', 1],
    ]);
    assert.match(r.errorMessage, /expected at least one/);
    const kept = data.resourceLogs[0]!.scopeLogs[0]!.logRecords;
    assert.equal(kept.length, 2);
    assert.equal(kept[0]!.traceId, '');
  });

  void test('severity names and numbers parse as the logs data model names them', () => {
    assert.equal(parseSeverity('WARN'), 13);
    assert.equal(parseSeverity('warning'), 13);
    assert.equal(parseSeverity('Error'), 17);
    assert.equal(parseSeverity('INFO2'), 10);
    assert.equal(parseSeverity('SEVERITY_NUMBER_FATAL'), 21);
    assert.equal(parseSeverity('17'), 17);
    assert.equal(parseSeverity('25'), undefined);
    assert.equal(parseSeverity('loud'), undefined);
  });
});

void describe('the store keeps logs (S3 by s3rver)', () => {
  const s3 = new TestS3();
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let records: ReadableLogRecord[];
  before(async () => {
    await s3.start();
    h = await startTestStore({
      objectStore: s3.objectStore('logs-store', 3),
      overrides: { block: { max_age: '1h' } },
    });
    records = await sdkLogRecords(shopLogs());
    const encoded = sdkLogsProtobuf(records);
    await h.store.logs!.pipeline.consumeLogs({
      encoded,
      itemCount: records.length,
      bytes: encoded.byteLength,
    });
  });
  after(async () => {
    await h?.dispose();
    await s3.dispose();
  });

  const expected = (filter: (r: ReadableLogRecord) => boolean) =>
    flatLogRecords(sdkLogsJson(records.filter(filter)));
  const svc = (r: ReadableLogRecord) => r.resource.attributes['service.name'];

  const searches = async () => {
    const start = Math.floor(nowMs / 1000) - 60;
    const end = Math.floor(nowMs / 1000) + 60;
    const warn = await h.query(`/api/logs?service=checkout&severity=WARN&start=${start}&end=${end}`);
    assert.equal(warn.status, 200);
    // `warning` without a number counts as WARN.
    assert.deepEqual(
      flatLogRecords(warn.body),
      expected(
        (r) => svc(r) === 'checkout' && ((r.severityNumber ?? 0) >= 13 || r.severityText === 'warning'),
      ),
    );
    const byTrace = await h.query(`/api/logs?traceId=${TRACE.toUpperCase()}&start=${start}&end=${end}`);
    assert.deepEqual(
      flatLogRecords(byTrace.body),
      expected((r) => r.spanContext?.traceId === TRACE),
    );
    const limited = await h.query(`/api/logs?limit=2&severity=1&start=${start}&end=${end}`);
    const newest = (
      limited.body as { resourceLogs: { scopeLogs: { logRecords: { timeUnixNano: string }[] }[] }[] }
    ).resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords.map((l) => l.timeUnixNano)));
    assert.deepEqual(newest.sort(), [
      String(BigInt(nowMs - 2000) * 1_000_000n),
      String(BigInt(nowMs - 1000) * 1_000_000n),
    ]);
  };

  const traceWithLogs = async () => {
    const plain = await h.query(`/api/traces/${TRACE}`);
    assert.equal(plain.status, 200);
    assert.deepEqual(Object.keys(plain.body as object), ['batches']);
    const withLogs = await h.query(`/api/traces/${TRACE}?logs=true`);
    assert.equal(withLogs.status, 200);
    const body = withLogs.body as { batches: unknown; logs: unknown };
    assert.deepEqual(body.batches, (plain.body as { batches: unknown }).batches);
    assert.deepEqual(
      flatLogRecords(body.logs),
      expected((r) => r.spanContext?.traceId === TRACE),
    );
    const v2 = await h.query(`/api/v2/traces/${TRACE}?logs=true`);
    assert.deepEqual(Object.keys(v2.body as object), ['trace', 'logs']);
    assert.deepEqual(flatLogRecords((v2.body as { logs: unknown }).logs), flatLogRecords(body.logs));
    const v2plain = await h.query(`/api/v2/traces/${TRACE}?logs=false`);
    assert.deepEqual(Object.keys(v2plain.body as object), ['trace']);
  };

  void test('answers /api/logs and /api/traces/<id>?logs=true from the WAL before any block is cut, field for field', async () => {
    const traces = makeTraces({ traces: 1, spansPerTrace: 3, startMs: nowMs - 6000 });
    for (const rs of traces.resourceSpans)
      for (const ss of rs.scopeSpans) for (const sp of ss.spans) sp.traceId = TRACE;
    await consume(h.store, traces);
    await searches();
    await traceWithLogs();
  });

  void test('cuts a logs block beside the span blocks, with the otel_logs columns an independent reader sees', async () => {
    await h.store.logs!.pipeline.forceFlush();
    await h.store.pipeline.forceFlush();
    const objects = await h.objects.list(LOGS_PREFIX);
    const parquetKey = objects.map((o) => o.key).find((k) => k.endsWith('.parquet'))!;
    assert.match(parquetKey, /^logs\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[\w-]+\.parquet$/);
    assert.ok(objects.some((o) => o.key === parquetKey.replace('.parquet', '.meta.json')));
    const bytes = (await h.objects.get(parquetKey))!;
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const names = parquetMetadata(buffer)
      .schema.slice(1)
      .map((e) => e.name);
    assert.deepEqual(names, [...LOGS_COLUMNS]);
    const rows = (await parquetReadObjects({
      file: buffer,
      compressors: { GZIP: (input: Uint8Array) => gunzipSync(input) },
      parsers: { timestampFromNanoseconds: (n: bigint) => n },
    })) as Record<string, unknown>[];
    assert.equal(rows.length, records.length);
    // Sorted as otel_logs: service, then time.
    assert.deepEqual(
      rows.map((r) => r['ServiceName']),
      ['cart', 'cart', 'checkout', 'checkout', 'checkout', 'checkout'],
    );
    const fatal = rows.find((r) => r['SeverityText'] === 'FATAL')!;
    assert.equal(fatal['Body'], '3.5');
    assert.equal(fatal['TraceId'], TRACE);
    assert.equal(fatal['SpanId'], 'aaaaaaaaaaaaaaaa');
    assert.equal(fatal['TraceFlags'], 1n);
    assert.equal(fatal['SeverityNumber'], 21n);
    assert.equal(fatal['K8sNamespaceName'], 'shop');
    assert.equal(fatal['K8sPodName'], 'cart-7d9f-1');
    assert.equal(fatal['K8sNodeName'], 'node-1');
    assert.equal(fatal['K8sDeploymentName'], 'cart');
    assert.equal(fatal['DeploymentVariant'], 'canary');
    assert.equal(fatal['Timestamp'], BigInt(nowMs - 1000) * 1_000_000n);
    assert.equal((fatal['TimestampTime'] as Date).getTime(), Math.floor((nowMs - 1000) / 1000) * 1000);
    assert.equal(fatal['ScopeName'], 'shop.orders');
    assert.equal(fatal['ScopeVersion'], '2.1.0');
    assert.equal(fatal['ScopeSchemaUrl'], 'https://opentelemetry.io/schemas/1.30.0');
    const error = rows.find((r) => r['SeverityText'] === 'ERROR')!;
    // pdata's AsString of a map body, as the ClickHouse exporter writes it.
    assert.equal(error['Body'], '{"code":502,"detail":["upstream",true]}');
    assert.equal(error['EventName'], 'payment.failed');
    const warn = rows.find((r) => r['SeverityText'] === 'WARN')!;
    assert.equal(warn['SampleWeight'], 10);
    assert.deepEqual(JSON.parse(String(warn['LogAttributes'])), { 'sampling.weight': 10 });
    assert.equal(JSON.parse(String(warn['ResourceAttributes']))['service.name'], 'checkout');
    assert.equal(rows.find((r) => r['SeverityText'] === 'INFO')!['SampleWeight'], 1);
  });

  void test('answers the same from the uploaded block as it did from the WAL', async () => {
    assert.equal(h.store.logs!.pipeline.pendingCount(), 0);
    await searches();
    await traceWithLogs();
  });

  void test('refuses bad parameters with 400 naming what was expected', async () => {
    const bad = async (path: string, pattern: RegExp, headers: Record<string, string> = {}) => {
      const r = await h.query(path, headers);
      assert.equal(r.status, 400, path);
      assert.match((r.body as { error: string }).error, pattern, path);
      assert.equal((r.body as { code: string }).code, 'SENTINEL_ERR_QUERY_INVALID');
    };
    await bad('/api/logs?severity=loud', /severity: expected a severity number 0-24 or a name like TRACE/);
    await bad('/api/logs?traceId=xyz', /traceId: expected 32 hex digits/);
    await bad('/api/logs?limit=0', /limit: expected a positive integer/);
    await bad('/api/logs?start=yesterday', /start: expected unix seconds/);
    await bad('/api/logs?start=200&end=100', /end: expected a time at or after start/);
    await bad(`/api/traces/${TRACE}?logs=yes`, /logs: expected true or false/);
    await bad(`/api/traces/${TRACE}?logs=true`, /logs: expected Accept: application\/json/, {
      accept: 'application/protobuf',
    });
  });
});

void describe('logs: roles and the memory budget', () => {
  void test('logs ingest is an agent route and the log search a reader route', () => {
    assert.equal(roleForPath('/v1/logs'), 'agent');
    assert.equal(roleForPath('/opentelemetry.proto.collector.logs.v1.LogsService/Export'), 'agent');
    assert.equal(roleForPath('/api/logs'), 'reader');
  });

  void test('with auth required an agent token sends logs but cannot read them, and a reader token reads them', async () => {
    const agentFile = join(tmp, 'agent-token');
    const readerFile = join(tmp, 'reader-token');
    writeFileSync(agentFile, 'agent-secret\n');
    writeFileSync(readerFile, 'reader-secret\n');
    const h = await startTestStore({
      overrides: { auth: { required: true, token_files: [agentFile], reader_token_files: [readerFile] } },
    });
    try {
      const body = sdkLogsProtobuf(await sdkLogRecords([{ service: 'auth', body: 'hello', timeMs: nowMs }]));
      const post = (token: string) =>
        fetch(`http://127.0.0.1:${h.store.ports.http}/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}` },
          body,
        }).then(async (r) => (await r.arrayBuffer(), r.status));
      assert.equal(await post('reader-secret'), 403);
      assert.equal(await post('agent-secret'), 200);
      assert.equal(
        (await h.query('/api/logs?service=auth', { authorization: 'Bearer agent-secret' })).status,
        403,
      );
      const read = await h.query('/api/logs?service=auth', { authorization: 'Bearer reader-secret' });
      assert.equal(read.status, 200);
      assert.equal(flatLogRecords(read.body).length, 1);
    } finally {
      await h.dispose();
    }
  });

  void test("the logs path holds the protobuf bytes it took until their block is uploaded, counted in the receivers' budget", async () => {
    const h = await startTestStore({ overrides: { block: { max_age: '1h' } } });
    try {
      const logs = h.store.logs!.pipeline;
      const encoded = sdkLogsProtobuf(
        await sdkLogRecords([{ service: 'm', body: 'x'.repeat(500), timeMs: nowMs }]),
      );
      await logs.consumeLogs({ encoded, itemCount: 1, bytes: encoded.byteLength });
      assert.equal(logs.bufferedBytes(), encoded.byteLength);
      const consumer = withLogs(h.store.pipeline, logs);
      assert.equal(consumer.bufferedBytes(), h.store.pipeline.bufferedBytes() + encoded.byteLength);
      await logs.forceFlush();
      assert.equal(logs.bufferedBytes(), 0);
    } finally {
      await h.dispose();
    }
  });
});

/** An ExportLogsServiceRequest of two records: one with a time past 2^63 (dropped by the store), one now. */
function pastAndNowRecords(): Uint8Array {
  const w = new ProtobufWriter();
  const rl = w.begin(1);
  const sl = w.begin(2);
  for (const t of [2n ** 64n - 1n, BigInt(nowMs) * 1_000_000n]) {
    const lr = w.begin(2);
    w.fixed64(1, t);
    w.string(3, 'INFO');
    w.end(lr);
  }
  w.end(sl);
  w.end(rl);
  return w.finish();
}

void describe('logs ingest robustness', () => {
  void test('bad logs get coded errors, are counted, and never stop ingest', async () => {
    const h = await startTestStore();
    try {
      const pipeline = h.store.logs!.pipeline;
      const good = sdkLogsProtobuf(await sdkLogRecords([{ service: 'a', body: 'fine', timeMs: nowMs }]));
      await assert.rejects(
        pipeline.consumeLogs({ encoded: Buffer.from([0x0a, 0x7f, 0x01]), itemCount: 0, bytes: 3 }),
        (err: Error & { code?: string }) => err.code === 'SENTINEL_ERR_OTLP_DECODE',
      );
      // One record with a time past 2^63 beside a good one: the good one is kept.
      await pipeline.consumeLogs({ encoded: pastAndNowRecords(), itemCount: 2, bytes: 100 });
      const only = new ProtobufWriter();
      const a = only.begin(1);
      const b = only.begin(2);
      const c = only.begin(2);
      only.string(3, 'no time at all');
      only.end(c);
      only.end(b);
      only.end(a);
      await assert.rejects(
        pipeline.consumeLogs({ encoded: only.finish(), itemCount: 1, bytes: 20 }),
        (err: Error & { code?: string }) =>
          err.code === 'SENTINEL_ERR_OTLP_INVALID' &&
          /neither time_unix_nano nor observed_time_unix_nano/.test(err.message),
      );
      await pipeline.consumeLogs({ encoded: good, itemCount: 1, bytes: good.byteLength });
      const text = await h.metrics.registry.metrics();
      const m = (name: string, labels: Record<string, string>) =>
        promSamples(text, name).find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))
          ?.value;
      assert.equal(m('sentinel_store_logs_rejected_total', { reason: 'decode' }), 1);
      assert.equal(m('sentinel_store_logs_rejected_total', { reason: 'time_out_of_range' }), 1);
      assert.equal(m('sentinel_store_logs_rejected_total', { reason: 'no_time' }), 1);
      assert.equal(m('sentinel_store_logs_accepted_total', {}), 2);
      assert.equal(pipeline.pendingCount(), 2);
      await pipeline.forceFlush();
      assert.equal(m('sentinel_store_logs_accepted_total', {}), 2);
      const found = await h.query('/api/logs?limit=10');
      assert.equal(flatLogRecords(found.body).length, 2);
    } finally {
      await h.dispose();
    }
  });

  void test('records the store drops from an accepted request are reported in partial_success, over OTLP/HTTP (protobuf and JSON) and gRPC', async () => {
    // One record with a time past 2^63 beside a good one: the good one is kept, the client is told of the other.
    const mixed = pastAndNowRecords();
    const json = JSON.stringify({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: String(2n ** 64n - 1n), severityText: 'INFO' },
                { timeUnixNano: String(BigInt(nowMs) * 1_000_000n), severityText: 'INFO' },
              ],
            },
          ],
        },
      ],
    });
    const h = await startTestStore();
    try {
      const { http, grpc } = h.store.ports;
      const told = /1 log record.*time/;
      const proto = await postTraces(http, mixed, { 'content-type': 'application/x-protobuf' }, '/v1/logs');
      assert.equal(proto.status, 200);
      const p1 = partialSuccess(proto.body);
      assert.equal(p1?.rejectedSpans, 1);
      assert.match(p1.errorMessage, told);
      const viaJson = await postTraces(http, json, { 'content-type': 'application/json' }, '/v1/logs');
      assert.equal(viaJson.status, 200);
      const p2 = (
        JSON.parse(viaJson.body.toString()) as {
          partialSuccess: { rejectedLogRecords: string; errorMessage: string };
        }
      ).partialSuccess;
      assert.equal(p2.rejectedLogRecords, '1');
      assert.match(p2.errorMessage, told);
      const viaGrpc = await grpcExport(grpc, mixed, { method: EXPORT_METHODS.logs });
      assert.equal(viaGrpc.error, null);
      const p3 = partialSuccess(viaGrpc.response!);
      assert.equal(p3?.rejectedSpans, 1);
      assert.match(p3.errorMessage, told);
      const m = (name: string, labels: Record<string, string> = {}) => h.metrics.value(name, labels);
      assert.equal(await m('receiver_accepted_log_records_total', { transport: 'http' }), 2);
      assert.equal(await m('receiver_accepted_log_records_total', { transport: 'grpc' }), 1);
      assert.equal(
        await m('receiver_refused_log_records_total', { transport: 'http', reason: 'invalid' }),
        2,
      );
      assert.equal(
        await m('receiver_refused_log_records_total', { transport: 'grpc', reason: 'invalid' }),
        1,
      );
      assert.equal(await m('store_logs_accepted_total'), 3);
    } finally {
      await h.dispose();
    }
  });

  void test('every acknowledged log survives a stop without upload: the next start replays the logs WAL into a block', async () => {
    const dir = mkdtempSync(join(tmp, 'replay-'));
    const first = await startTestStore({ dir, overrides: { block: { max_age: '1h' } } });
    const sent: ReadableLogRecord[] = [];
    for (let i = 0; i < 20; i++) {
      const recs = await sdkLogRecords([
        { service: 'replay', body: `log ${i}`, severityNumber: 9, timeMs: nowMs - i * 10 },
        { service: 'replay', body: `log ${i}b`, severityNumber: 13, timeMs: nowMs - i * 10 - 1 },
      ]);
      sent.push(...recs);
      const encoded = sdkLogsProtobuf(recs);
      await first.store.logs!.pipeline.consumeLogs({ encoded, itemCount: 2, bytes: encoded.byteLength });
    }
    // As after a kill: nothing uploaded, the WAL keeps every acknowledged record.
    await first.store.abort();
    assert.equal((await first.objects.list(LOGS_PREFIX)).length, 0);
    const second = await startTestStore({ dir, overrides: { block: { max_age: '1h' } } });
    try {
      await second.store.logs!.pipeline.forceFlush();
      assert.equal((await second.objects.list(LOGS_PREFIX)).length, 2);
      const found = await second.query('/api/logs?limit=1000&service=replay');
      assert.deepEqual(flatLogRecords(found.body), flatLogRecords(sdkLogsJson(sent)));
    } finally {
      await second.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('a search reads blocks newest first and stops once limit records are newer than every block left', async () => {
    const store = new LocalObjectStore(join(tmp, 'newest-first'));
    const hour = 3_600_000;
    for (const ago of [3, 2, 1]) {
      const specs: LogSpec[] = [0, 1].map((i) => ({
        service: 's',
        body: `${ago}h ${i}`,
        timeMs: nowMs - ago * hour + i,
      }));
      const data = decodeLogsRequest(sdkLogsProtobuf(await sdkLogRecords(specs)));
      await uploadLogsBlock(store, encodeLogsBlock(flattenLogsData(data)));
    }
    const metrics = new Metrics();
    const query = new LogsQuery({
      store,
      logger: silentLogger(),
      metrics,
      refreshIntervalMs: 0,
      clock: new ManualClock(nowMs),
    });
    const startNs = BigInt(nowMs - 4 * hour) * 1_000_000n;
    const endNs = BigInt(nowMs) * 1_000_000n;
    const two = await query.search({ startNs, endNs, limit: 2 });
    assert.deepEqual(
      two.map((r) => r.record.body),
      [
        { kind: 'string', value: '1h 1' },
        { kind: 'string', value: '1h 0' },
      ],
    );
    const read = promSamples(await metrics.registry.metrics(), 'sentinel_store_logs_blocks_read_total')[0]!
      .value;
    assert.equal(read, 1);
    const all = await query.search({ startNs, endNs, limit: 100 });
    assert.equal(all.length, 6);
    assert.equal(
      await query.search({ startNs, endNs, limit: 100, service: 'other' }).then((r) => r.length),
      0,
    );
  });

  void test('with logs.enabled false the store takes no logs and the logs routes say so', async () => {
    const h = await startTestStore({ overrides: { logs: { enabled: false } } });
    try {
      assert.equal(h.store.logs, undefined);
      const r = await h.query('/api/logs');
      assert.equal(r.status, 400);
      assert.match((r.body as { error: string }).error, /logs\.enabled: false/);
      const t = await h.query(`/api/traces/${TRACE}?logs=true`);
      assert.equal(t.status, 400);
    } finally {
      await h.dispose();
    }
  });

  void test('a logs segment that cannot be encoded is quarantined, the next one is written, and `sentinel store quarantine --logs` shows it', async () => {
    const walDir = mkdtempSync(join(tmp, 'quarantine-'));
    const store = new LocalObjectStore(join(walDir, 'data'));
    let fail = true;
    const pipeline = new LogsPipeline({
      store,
      walDir: join(walDir, 'logs'),
      walMaxBytes: 1 << 24,
      maxBlockBytes: 1 << 24,
      maxBlockRecords: 1000,
      maxBlockAgeMs: 3_600_000,
      retryInitialMs: 1,
      retryMaxMs: 1,
      tickMs: 0,
      logger: silentLogger(),
      metrics: new Metrics(),
      encode: (payloads, options) => {
        if (fail) throw new RangeError('cannot encode this one');
        return encodeLogsPayloads(payloads, options);
      },
    });
    await pipeline.start();
    const bad = sdkLogsProtobuf(await sdkLogRecords([{ service: 'q', body: 'first', timeMs: nowMs }]));
    await pipeline.consumeLogs({ encoded: bad, itemCount: 1, bytes: bad.byteLength });
    await pipeline.forceFlush();
    fail = false;
    const good = sdkLogsProtobuf(await sdkLogRecords([{ service: 'q', body: 'second', timeMs: nowMs }]));
    await pipeline.consumeLogs({ encoded: good, itemCount: 1, bytes: good.byteLength });
    await pipeline.forceFlush();
    await pipeline.shutdown();
    assert.equal((await store.list(LOGS_PREFIX)).filter((o) => o.key.endsWith('.parquet')).length, 1);
    let out = '';
    assert.equal(await runQuarantine(['list', '--logs', '--wal-dir', walDir], (t) => (out += t)), 0);
    const [segment, , , , error] = out.trim().split('\n')[0]!.split('\t');
    assert.match(error!, /cannot encode this one/);
    let shown = '';
    assert.equal(
      await runQuarantine(['show', segment!, '--logs', '--wal-dir', walDir], (t) => (shown += t)),
      0,
    );
    const request = JSON.parse(shown.trim().split('\n')[1]!) as unknown;
    assert.equal(flatLogRecords(request).length, 1);
    assert.match(flatLogRecords(request)[0]!, /"first"/);
  });

  void test("the logs encoder's worker thread writes the same block as the main thread would, and refuses once closed", async () => {
    const { logger, lines } = capturingLogger();
    const encoder = new LogsEncoder({ logger, useWorker: true });
    const payloads = [
      sdkLogsProtobuf(await sdkLogRecords(shopLogs())),
      sdkLogsProtobuf(await sdkLogRecords([{ service: 'w', body: 'second request', timeMs: nowMs }])),
    ];
    const options = { blockId: 'worker-block', nowMs };
    const viaWorker = await encoder.encode(payloads, options);
    const inProcess = encodeLogsPayloads(payloads, options);
    assert.equal(viaWorker.records, 7);
    assert.deepEqual(viaWorker.block!.meta, inProcess.block!.meta);
    assert.deepEqual(Buffer.from(viaWorker.block!.parquet), Buffer.from(inProcess.block!.parquet));
    assert.deepEqual(
      lines.filter((l) => l['level'] === 40),
      [],
      'no fallback to the main thread',
    );
    await encoder.close();
    await assert.rejects(
      encoder.encode(payloads, options),
      (err: Error & { code?: string }) => err.code === 'SENTINEL_ERR_SHUTTING_DOWN',
    );
  });

  void test('the store applies logs retention on its compaction timer', async () => {
    const h = await startTestStore({
      overrides: { compaction: { enabled: false, interval: '50ms' }, logs: { retention: '1h' } },
    });
    try {
      const old = sdkLogsProtobuf(
        await sdkLogRecords([{ service: 'old', body: 'x', timeMs: nowMs - 2 * 3_600_000 }]),
      );
      const fresh = sdkLogsProtobuf(await sdkLogRecords([{ service: 'fresh', body: 'y', timeMs: nowMs }]));
      const logs = h.store.logs!.pipeline;
      await logs.consumeLogs({ encoded: old, itemCount: 1, bytes: old.byteLength });
      await logs.forceFlush();
      await logs.consumeLogs({ encoded: fresh, itemCount: 1, bytes: fresh.byteLength });
      await logs.forceFlush();
      const deadline = Date.now() + 10_000;
      const parquet = async () =>
        (await h.objects.list(LOGS_PREFIX)).filter((o) => o.key.endsWith('.parquet'));
      while ((await parquet()).length > 1) {
        assert.ok(Date.now() < deadline, 'the old logs block was not deleted within 10 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const r = await h.query(
        `/api/logs?start=${Math.floor(nowMs / 1000) - 3 * 3600}&end=${Math.floor(nowMs / 1000) + 60}`,
      );
      assert.deepEqual(
        flatLogRecords(r.body).map((x) => (JSON.parse(x) as { record: { body: unknown } }).record.body),
        [{ stringValue: 'y' }],
      );
    } finally {
      await h.dispose();
    }
  });

  void test('retention deletes logs blocks whose newest record is older than the retention, meta first, and keeps the rest', async () => {
    const store = new LocalObjectStore(join(tmp, 'retention'));
    const hour = 3_600_000;
    const make = async (timeMs: number) => {
      const data = decodeLogsRequest(
        sdkLogsProtobuf(await sdkLogRecords([{ service: 'r', body: 'x', timeMs }])),
      );
      return uploadLogsBlock(store, encodeLogsBlock(flattenLogsData(data)));
    };
    const old = await make(nowMs - 30 * hour);
    const fresh = await make(nowMs - hour);
    const query = new LogsQuery({
      store,
      logger: silentLogger(),
      metrics: new Metrics(),
      refreshIntervalMs: 0,
      clock: new ManualClock(nowMs),
    });
    assert.equal(await query.applyRetention(24 * hour), 1);
    const keys = (await store.list(LOGS_PREFIX)).map((o) => o.key);
    assert.ok(!keys.includes(old.parquetKey));
    assert.ok(keys.includes(fresh.parquetKey));
    assert.equal(keys.length, 2);
    assert.equal((await query.blocks()).length, 1);
  });
});
