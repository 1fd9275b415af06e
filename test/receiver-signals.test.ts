/**
 * Issue 16 at the door and at the exit: OTLP logs and metrics through the receivers (protobuf, JSON, gzip, both
 * transports), bad input refused with coded errors and counted, backpressure, 404 / UNIMPLEMENTED where the
 * pipeline takes no such signal; JSON transcoded to the SDK's own protobuf bytes; the OTLP exporters' partial
 * success and the persistent queue's replay to the right service.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
} from '@opentelemetry/otlp-transformer';
import { ExporterStage } from '../src/export/index.js';
import { InMemoryExporter } from '../src/export/memory-exporter.js';
import { OtlpHttpExporter, signalUrl } from '../src/export/otlp-http-exporter.js';
import {
  encodeSignalResponseJson,
  encodeTraceResponse,
  EXPORT_METHODS,
  scanSignalRequest,
  splitSignalRequest,
  transcodeLogsRequestJson,
  transcodeMetricsRequestJson,
  type SignalBatch,
  type TraceBatch,
  type TraceConsumer,
} from '../src/otlp/index.js';
import { buildEnrichment } from '../src/enrich/resource-enrichment.js';
import { WireEnrichment } from '../src/enrich/wire-enrichment.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { isSentinelError } from '../src/errors.js';
import { mutate, seededRandom } from './helpers/fuzz.js';
import { decodeSignalRequest } from './helpers/otlp-signals-protobufjs.js';
import { grpcExport, gzipSync, postTraces, retryDelayMs, startReceivers } from './helpers/receivers.js';
import { CapturingLogs, CapturingMetrics, emitLogs, NOWHERE, recordMetrics } from './helpers/sdk-signals.js';
import { ManualClock } from '../src/clock.js';

/** What the SDK sends: its own protobuf and JSON serializations of records of every shape. */
async function sdkRequests(): Promise<{
  logs: { protobuf: Uint8Array; json: Uint8Array; count: number };
  metrics: { protobuf: Uint8Array; json: Uint8Array; count: number };
}> {
  const logs = new CapturingLogs(NOWHERE);
  await emitLogs(logs, 'test');
  const metrics = new CapturingMetrics(NOWHERE);
  await recordMetrics(metrics);
  const rm = metrics.batches[0]!;
  return {
    logs: {
      protobuf: ProtobufLogsSerializer.serializeRequest(logs.records)!,
      json: JsonLogsSerializer.serializeRequest(logs.records)!,
      count: logs.records.length,
    },
    metrics: {
      protobuf: ProtobufMetricsSerializer.serializeRequest(rm)!,
      json: JsonMetricsSerializer.serializeRequest(rm)!,
      // orders (2 series), latency (1), queue.depth (1), temperature (1)
      count: 5,
    },
  };
}

/** The end of a test pipeline for logs and metrics: keeps what it is given, optionally stalling. */
class SignalSink implements TraceConsumer {
  readonly logs: SignalBatch[] = [];
  readonly metrics: SignalBatch[] = [];
  private stalled: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private held = 0;
  async consume(_b: TraceBatch): Promise<void> {}
  async consumeLogs(b: SignalBatch): Promise<void> {
    await this.hold(b);
    this.logs.push(b);
  }
  async consumeMetrics(b: SignalBatch): Promise<void> {
    await this.hold(b);
    this.metrics.push(b);
  }
  private async hold(b: SignalBatch): Promise<void> {
    this.held += b.bytes;
    if (this.stalled) await this.stalled;
    this.held -= b.bytes;
  }
  bufferedBytes(): number {
    return this.held;
  }
  stall(): void {
    this.stalled = new Promise((r) => (this.release = r));
  }
  resume(): void {
    this.release?.();
    this.stalled = undefined;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

let sdk: Awaited<ReturnType<typeof sdkRequests>>;
before(async () => {
  sdk = await sdkRequests();
});

void describe('OTLP/JSON logs and metrics are transcoded to the bytes the SDK protobuf exporter writes', () => {
  void test('logs: every shape of record, byte for byte', () => {
    assert.deepEqual(transcodeLogsRequestJson(sdk.logs.json), Buffer.from(sdk.logs.protobuf));
  });

  void test('metrics: sum, histogram, up-down counter and gauge, byte for byte', () => {
    assert.deepEqual(transcodeMetricsRequestJson(sdk.metrics.json), Buffer.from(sdk.metrics.protobuf));
  });

  void test('the structural scan counts log records and data points', () => {
    assert.equal(scanSignalRequest('logs', sdk.logs.protobuf).itemCount, sdk.logs.count);
    assert.equal(scanSignalRequest('metrics', sdk.metrics.protobuf).itemCount, sdk.metrics.count);
  });

  void test('bad JSON is refused naming the path of what is wrong', () => {
    assert.throws(
      () =>
        transcodeLogsRequestJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"x1"}]}]}]}'),
      /SENTINEL_ERR_OTLP_DECODE|json: resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.timeUnixNano/,
    );
    assert.throws(
      () => transcodeMetricsRequestJson('{"resourceMetrics":{}}'),
      /resourceMetrics: expected an array/,
    );
    assert.throws(() => transcodeLogsRequestJson('{"resourceLogs":'), /SENTINEL_ERR_OTLP_DECODE|json/);
  });
});

void describe('the receivers take logs and metrics (issue 16)', () => {
  const sink = new SignalSink();
  let r: Awaited<ReturnType<typeof startReceivers>>;
  before(async () => {
    r = await startReceivers(sink, { wire: true, memoryLimitBytes: 64 * 1024 });
  });
  after(() => r.receivers.stop());

  const count = async (name: string, labels = ''): Promise<number> => {
    const text = await r.metrics.registry.metrics();
    const m = new RegExp(`^sentinel_${name}\\{${labels}[^}]*\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  for (const [signal, path] of [
    ['logs', '/v1/logs'],
    ['metrics', '/v1/metrics'],
  ] as const) {
    void test(`${signal}: protobuf, gzip and JSON over HTTP and gRPC are taken, counted, answered`, async () => {
      const req = sdk[signal];
      const got = () => (signal === 'logs' ? sink.logs : sink.metrics);
      const before = got().length;
      const proto = await postTraces(
        r.httpPort,
        gzipSync(req.protobuf),
        {
          'content-type': 'application/x-protobuf',
          'content-encoding': 'gzip',
        },
        path,
      );
      assert.equal(proto.status, 200);
      assert.equal(proto.body.length, 0, 'an empty ExportLogs/MetricsServiceResponse');
      const json = await postTraces(r.httpPort, req.json, { 'content-type': 'application/json' }, path);
      assert.equal(json.status, 200);
      assert.equal(json.body.toString(), '{}');
      const grpc = await grpcExport(r.grpcPort, req.protobuf, { method: EXPORT_METHODS[signal], gzip: true });
      assert.equal(grpc.error, null);
      const batches = got().slice(before);
      assert.equal(batches.length, 3);
      for (const b of batches) {
        assert.equal(b.itemCount, req.count);
        assert.deepEqual(Buffer.from(b.encoded), Buffer.from(req.protobuf));
      }
      const metric = signal === 'logs' ? 'log_records' : 'metric_points';
      assert.equal(await count(`receiver_accepted_${metric}_total`, 'transport="http"'), 2 * req.count);
      assert.equal(await count(`receiver_accepted_${metric}_total`, 'transport="grpc"'), req.count);
    });

    void test(`${signal}: truncated bytes and bad ids are refused with coded errors, counted, never crash`, async () => {
      const req = sdk[signal].protobuf;
      const refusedBefore = await count(
        'receiver_refused_requests_total',
        'transport="http",reason="decode_error"',
      );
      const cut = await postTraces(
        r.httpPort,
        req.subarray(0, req.length - 7),
        { 'content-type': 'application/x-protobuf' },
        path,
      );
      assert.equal(cut.status, 400);
      assert.match(cut.body.toString('latin1'), /protobuf: .* at byte \d+ in resource_(logs|metrics)\[0\]/);
      const grpc = await grpcExport(r.grpcPort, req.subarray(0, req.length - 7), {
        method: EXPORT_METHODS[signal],
      });
      assert.equal(grpc.error?.code, grpcStatus.INVALID_ARGUMENT);
      assert.match(grpc.error?.details ?? '', /at byte \d+/);
      const json = await postTraces(
        r.httpPort,
        '{"resourceLogs":[',
        { 'content-type': 'application/json' },
        path,
      );
      assert.equal(json.status, 400);
      assert.match(json.body.toString(), /SENTINEL_ERR_OTLP_DECODE/);
      assert.equal(
        await count('receiver_refused_requests_total', 'transport="http",reason="decode_error"'),
        refusedBefore + 2,
      );
    });
  }

  void test('a log record whose trace id is not 16 bytes is refused as invalid', async () => {
    // A log record with a trace_id (field 9) of 3 bytes, built by hand.
    const record = Buffer.from([0x4a, 3, 1, 2, 3]);
    const scope = Buffer.concat([Buffer.from([0x12, record.length]), record]);
    const rl = Buffer.concat([Buffer.from([0x12, scope.length]), scope]);
    const request = Buffer.concat([Buffer.from([0x0a, rl.length]), rl]);
    const res = await postTraces(
      r.httpPort,
      request,
      { 'content-type': 'application/x-protobuf' },
      '/v1/logs',
    );
    assert.equal(res.status, 400);
    assert.match(res.body.toString('latin1'), /log_record\.trace_id must be 16 bytes, got 3/);
  });

  void test('over the memory budget: 429 + Retry-After, RESOURCE_EXHAUSTED + RetryInfo; taken again once drained (a loaded machine once hung this test: it now waits until the budget is held)', async () => {
    sink.stall();
    const big = sdk.logs.protobuf;
    // The budget is 64 KiB and a request is priced at twice its bytes: fill it with stalled requests.
    const stalled: Array<Promise<unknown>> = [];
    const per = big.length * 2;
    const n = Math.floor((64 * 1024) / per);
    try {
      for (let i = 0; i < n; i++)
        stalled.push(postTraces(r.httpPort, big, { 'content-type': 'application/x-protobuf' }, '/v1/logs'));
      // Until the receivers hold all of them (a loaded machine takes its time): the next one cannot fit.
      const deadline = Date.now() + 30_000;
      while (r.receivers.ingest.usedBytes() < n * per) {
        if (Date.now() > deadline) throw new Error(`only ${r.receivers.ingest.usedBytes()} bytes held`);
        await new Promise((res) => setTimeout(res, 20));
      }
      const http = await postTraces(
        r.httpPort,
        big,
        { 'content-type': 'application/x-protobuf' },
        '/v1/logs',
      );
      assert.equal(http.status, 429);
      assert.equal(http.headers.get('retry-after'), '1');
      // The same size over gRPC (a smaller request could still fit the rest of the budget).
      const grpc = await grpcExport(r.grpcPort, big, { method: EXPORT_METHODS.logs });
      assert.equal(grpc.error?.code, grpcStatus.RESOURCE_EXHAUSTED);
      assert.equal(grpc.error ? retryDelayMs(grpc.error) : undefined, 1000);
    } finally {
      // Never left stalled: a failure above must not hang the file.
      sink.resume();
      await Promise.all(stalled);
    }
    const again = await postTraces(r.httpPort, big, { 'content-type': 'application/x-protobuf' }, '/v1/logs');
    assert.equal(again.status, 200);
  });
});

void describe('a pipeline that takes no logs or metrics', () => {
  void test('answers 404 on /v1/logs and /v1/metrics and UNIMPLEMENTED over gRPC, as before issue 16', async () => {
    const traceOnly: TraceConsumer = {
      consume: async () => {},
      bufferedBytes: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const r = await startReceivers(traceOnly, { wire: true });
    try {
      for (const path of ['/v1/logs', '/v1/metrics']) {
        const res = await postTraces(
          r.httpPort,
          sdk.logs.protobuf,
          { 'content-type': 'application/x-protobuf' },
          path,
        );
        assert.equal(res.status, 404);
        assert.match(res.body.toString(), /\/v1\/traces/);
      }
      for (const method of [EXPORT_METHODS.logs, EXPORT_METHODS.metrics]) {
        const res = await grpcExport(r.grpcPort, sdk.logs.protobuf, { method });
        assert.equal(res.error?.code, grpcStatus.UNIMPLEMENTED);
      }
    } finally {
      await r.receivers.stop();
    }
  });

  void test('the agent-side signal list turns a signal off even when the consumer has it', async () => {
    const r = await startReceivers(new SignalSink(), { wire: true, signals: new Set(['traces', 'logs']) });
    try {
      const logs = await postTraces(
        r.httpPort,
        sdk.logs.protobuf,
        { 'content-type': 'application/x-protobuf' },
        '/v1/logs',
      );
      assert.equal(logs.status, 200);
      const metrics = await postTraces(
        r.httpPort,
        sdk.metrics.protobuf,
        { 'content-type': 'application/x-protobuf' },
        '/v1/metrics',
      );
      assert.equal(metrics.status, 404);
    } finally {
      await r.receivers.stop();
    }
  });
});

void describe('JSON answers and the batcher split', () => {
  void test('partial_success names the signal’s items', () => {
    assert.equal(
      encodeSignalResponseJson('logs', { rejectedSpans: 2, errorMessage: 'x' }),
      '{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"x"}}',
    );
    assert.equal(
      encodeSignalResponseJson('metrics', { rejectedSpans: 1, errorMessage: '' }),
      '{"partialSuccess":{"rejectedDataPoints":"1","errorMessage":""}}',
    );
  });

  void test('a request of several resources splits at resource boundaries, every item kept once', () => {
    const three = Buffer.concat([sdk.logs.protobuf, sdk.logs.protobuf, sdk.logs.protobuf]);
    const parts = splitSignalRequest('logs', three, sdk.logs.count);
    assert.equal(parts.length, 3);
    for (const p of parts) {
      assert.equal(p.itemCount, sdk.logs.count);
      assert.deepEqual(Buffer.from(p.request), Buffer.from(sdk.logs.protobuf));
    }
  });

  void test('OTLP/HTTP signal URLs follow the endpoint', () => {
    assert.equal(signalUrl('http://c:4318', 'logs').href, 'http://c:4318/v1/logs');
    assert.equal(signalUrl('https://c/otlp/v1/traces', 'metrics').href, 'https://c/otlp/v1/metrics');
    assert.equal(signalUrl('https://gw/otlp/', 'logs').href, 'https://gw/otlp/v1/logs');
  });
});

/** An OTLP/HTTP backend that records each request's path and answers as told. */
class Backend {
  readonly paths: string[] = [];
  readonly bodies: Buffer[] = [];
  readonly tenants: string[] = [];
  answer: (req: IncomingMessage) => { status: number; type?: string; body?: string | Uint8Array } = () => ({
    status: 200,
    type: 'application/x-protobuf',
    body: new Uint8Array(0),
  });
  private server: Server | undefined;
  port = 0;
  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.paths.push(req.url ?? '');
        this.tenants.push(String(req.headers['x-tenant']));
        this.bodies.push(Buffer.concat(chunks));
        const a = this.answer(req);
        res.writeHead(a.status, a.type ? { 'content-type': a.type } : {}).end(a.body ?? '');
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const httpExporter = (port: number, name = 'otlp/0') =>
  new OtlpHttpExporter({
    name,
    endpoint: `http://127.0.0.1:${port}`,
    compression: 'none',
    headers: { 'x-tenant': 'shop' },
    bearerTokenFile: '',
    timeoutMs: 2000,
    tls: { caFile: '', insecureSkipVerify: false },
  });

void describe('exporting logs and metrics', () => {
  void test('OTLP/HTTP sends each signal to its path with the headers, and counts a partial success', async () => {
    const backend = new Backend();
    await backend.start();
    backend.answer = (req) =>
      req.url === '/v1/logs'
        ? {
            status: 200,
            type: 'application/json',
            body: '{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"too old"}}',
          }
        : {
            status: 200,
            type: 'application/x-protobuf',
            body: encodeTraceResponse({ rejectedSpans: 2, errorMessage: 'nan' }),
          };
    const metrics = new Metrics();
    const stage = new ExporterStage(httpExporter(backend.port), metrics, silentLogger(), {
      batch: { timeoutMs: 0 },
    });
    await stage.start();
    await stage.consumeLogs!({ encoded: sdk.logs.protobuf, itemCount: sdk.logs.count, bytes: 100 });
    await stage.consumeMetrics!({ encoded: sdk.metrics.protobuf, itemCount: sdk.metrics.count, bytes: 100 });
    await stage.forceFlush();
    await stage.shutdown();
    await backend.stop();
    assert.deepEqual([...backend.paths].sort(), ['/v1/logs', '/v1/metrics']);
    assert.deepEqual(backend.tenants, ['shop', 'shop']);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      new RegExp(`sentinel_exporter_sent_log_records_total\\{exporter="otlp/0"\\} ${sdk.logs.count - 1}\\b`),
    );
    assert.match(
      text,
      /sentinel_exporter_failed_log_records_total\{exporter="otlp\/0",reason="rejected"\} 1\b/,
    );
    assert.match(
      text,
      new RegExp(
        `sentinel_exporter_sent_metric_points_total\\{exporter="otlp/0"\\} ${sdk.metrics.count - 2}\\b`,
      ),
    );
    assert.match(
      text,
      /sentinel_exporter_failed_metric_points_total\{exporter="otlp\/0",reason="rejected"\} 2\b/,
    );
  });

  void test('through an outage, logs and metrics wait in the disk queue and a restart replays them to their own paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-signal-queue-'));
    try {
      const backend = new Backend();
      await backend.start();
      const port = backend.port;
      await backend.stop(); // the backend is down
      const clock = new ManualClock();
      const options = {
        batch: { timeoutMs: 0 },
        queue: { dir, maxBytes: 16 * 1024 * 1024, numConsumers: 1 },
        retry: { enabled: true, initialIntervalMs: 1000, maxElapsedTimeMs: 0 },
        clock,
        drainTimeoutMs: 100,
      };
      const first = new ExporterStage(httpExporter(port), new Metrics(), silentLogger(), options);
      await first.start();
      await first.consumeLogs!({ encoded: sdk.logs.protobuf, itemCount: sdk.logs.count, bytes: 100 });
      await first.consumeMetrics!({
        encoded: sdk.metrics.protobuf,
        itemCount: sdk.metrics.count,
        bytes: 100,
      });
      await first.shutdown(); // a restart during the outage: the queue keeps both batches on disk
      const files = readdirSync(dir).sort();
      assert.deepEqual(files, ['otlp_0', 'otlp_0_logs', 'otlp_0_metrics']);
      // The backend is back; the next run replays each batch to its own service.
      await backend.start(port);
      const second = new ExporterStage(httpExporter(port), new Metrics(), silentLogger(), {
        ...options,
        clock: undefined as never,
      });
      await second.start();
      await second.forceFlush();
      await second.shutdown();
      await backend.stop();
      assert.deepEqual([...backend.paths].sort(), ['/v1/logs', '/v1/metrics']);
      const byPath = new Map(backend.paths.map((p, i) => [p, backend.bodies[i]]));
      assert.deepEqual(byPath.get('/v1/logs'), Buffer.from(sdk.logs.protobuf));
      assert.deepEqual(byPath.get('/v1/metrics'), Buffer.from(sdk.metrics.protobuf));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('signals an exporter cannot carry are a configuration error; a storage-like exporter carries traces', () => {
    const tracesOnly = {
      name: 't',
      export: async () => ({ kind: 'success' as const }),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    assert.throws(
      () => new ExporterStage(tracesOnly, new Metrics(), silentLogger(), {}, ['traces', 'logs']),
      /signals lists logs, which this exporter cannot carry/,
    );
    const stage = new ExporterStage(tracesOnly, new Metrics(), silentLogger());
    assert.deepEqual([...stage.signals], ['traces']);
    assert.equal(stage.consumeLogs, undefined);
    assert.deepEqual(
      [...new ExporterStage(new InMemoryExporter(), new Metrics(), silentLogger()).signals],
      ['traces', 'metrics', 'logs'],
    );
  });
});

void describe('enrichment of logs and metrics resources (issue 16)', () => {
  const enrichment = buildEnrichment(
    [
      ['k8s.pod.name', 'checkout-1'],
      ['k8s.namespace.name', 'shop'],
      ['deployment.variant', 'canary'],
    ],
    undefined,
  );
  const attrs = (decoded: Record<string, unknown>, key: string) =>
    (
      (decoded['resourceLogs'] as Array<{
        resource?: { attributes?: Array<{ key: string; value: { s?: string } }> };
      }>) ?? []
    ).map((rl) => Object.fromEntries((rl.resource?.attributes ?? []).map((kv) => [kv.key, kv.value.s]))[key]);

  void test("the pod's attributes are spliced into every resource; the app's own keys win; a resource-less entry gets one", () => {
    const request = transcodeLogsRequestJson(
      JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: 'k8s.pod.name', value: { stringValue: 'set-by-app' } }] },
            scopeLogs: [{ logRecords: [{ timeUnixNano: '1', body: { stringValue: 'a' } }] }],
          },
          { scopeLogs: [{ logRecords: [{ timeUnixNano: '2', body: { stringValue: 'b' } }] }] },
        ],
      }),
    );
    const out = new WireEnrichment(enrichment, false).signalRequest(request);
    const decoded = decodeSignalRequest('logs', out);
    assert.deepEqual(attrs(decoded, 'k8s.pod.name'), ['set-by-app', 'checkout-1']);
    assert.deepEqual(attrs(decoded, 'deployment.variant'), ['canary', 'canary']);
    assert.equal(scanSignalRequest('logs', out).itemCount, 2);
    // With override, the pod's value replaces the app's.
    const overridden = decodeSignalRequest(
      'logs',
      new WireEnrichment(enrichment, true).signalRequest(request),
    );
    assert.deepEqual(attrs(overridden, 'k8s.pod.name'), ['checkout-1', 'checkout-1']);
  });

  void test('every byte of an SDK request other than the resource is kept', () => {
    const out = new WireEnrichment(enrichment, false).signalRequest(sdk.metrics.protobuf);
    const before = decodeSignalRequest('metrics', sdk.metrics.protobuf) as {
      resourceMetrics: Array<Record<string, unknown>>;
    };
    const after = decodeSignalRequest('metrics', out) as { resourceMetrics: Array<Record<string, unknown>> };
    assert.deepEqual(after.resourceMetrics[0]?.['scopeMetrics'], before.resourceMetrics[0]?.['scopeMetrics']);
    assert.equal(scanSignalRequest('metrics', out).itemCount, sdk.metrics.count);
  });
});

void describe('fuzzed logs and metrics requests (issue 16)', () => {
  void test('never crash the scan, the splice or the split: accepted whole, or refused with a coded error', () => {
    const rand = seededRandom(16);
    const wire = new WireEnrichment(buildEnrichment([['k8s.pod.name', 'p']], undefined), false);
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const signal = i % 2 === 0 ? ('logs' as const) : ('metrics' as const);
      const input = mutate(sdk[signal].protobuf, rand);
      let count: number;
      try {
        count = scanSignalRequest(signal, input).itemCount;
      } catch (err) {
        assert.ok(isSentinelError(err), `not a coded error: ${String(err)}`);
        assert.match(err.code, /^SENTINEL_ERR_OTLP_(DECODE|INVALID)$/);
        refused++;
        continue;
      }
      // What the scan accepted, the enricher and the batcher's split handle, keeping every item.
      const enriched = wire.signalRequest(input);
      assert.equal(scanSignalRequest(signal, enriched).itemCount, count);
      const parts = splitSignalRequest(signal, enriched, 2);
      assert.equal(
        parts.reduce((n, p) => n + p.itemCount, 0),
        count,
      );
    }
    assert.ok(refused > 100 && refused < 3000, `${refused} of 3000 refused`);
  });
});
