/**
 * Issue 16, the store keeps logs: the official OpenTelemetry JS SDK's log exporters (gRPC, HTTP/protobuf, HTTP/JSON)
 * send to a real store (s3rver as S3); what /api/logs and /api/traces/<id>?logs=true answer is compared field for
 * field with the SDK's own OTLP/JSON of the same records; a store killed with SIGKILL keeps every acknowledged log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type LogRecordExporter,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import { startAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from '../helpers/agent-config.js';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import { LOGS_PREFIX } from '../../src/storage/logs-block.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { TestS3 } from '../helpers/s3rver.js';
import { flatLogRecords, sdkLogsJson, sdkLogRecords, sdkLogsProtobuf } from '../helpers/store-sdk-logs.js';
import { spawnStoreChild } from '../helpers/spawn-store-child.js';
import { startTestStore } from '../helpers/store-harness.js';

const nowMs = Date.now();
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

type Transport = 'grpc' | 'proto' | 'json';

function exporterFor(transport: Transport, ports: { grpc: number; http: number }): LogRecordExporter {
  switch (transport) {
    case 'grpc':
      return new LogsGrpc({ url: `http://127.0.0.1:${ports.grpc}` });
    case 'proto':
      return new LogsProto({ url: `http://127.0.0.1:${ports.http}/v1/logs` });
    case 'json':
      return new LogsJson({ url: `http://127.0.0.1:${ports.http}/v1/logs` });
  }
}

/** Emits a service's logs through `exporter` and an in-memory exporter; resolves with what the SDK made. */
async function emit(service: string, exporter: LogRecordExporter): Promise<ReadableLogRecord[]> {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'k8s.namespace.name': 'shop' }),
    processors: [
      new SimpleLogRecordProcessor({ exporter: memory }),
      new SimpleLogRecordProcessor({ exporter }),
    ],
  });
  const logger = provider.getLogger('shop.orders', '2.1.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
  });
  const traced = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
  });
  logger.emit({
    severityNumber: 9,
    severityText: 'INFO',
    body: `${service} started`,
    timestamp: nowMs - 3000,
  });
  logger.emit({
    severityNumber: 13,
    severityText: 'WARN',
    body: { retry: 2, reason: 'timeout' },
    attributes: { 'http.route': '/pay', attempt: 2, ok: false, ratio: 0.5, tags: ['a', 'b'] },
    eventName: 'payment.retry',
    timestamp: nowMs - 2000,
    context: traced,
  });
  logger.emit({
    severityNumber: 17,
    severityText: 'ERROR',
    body: 'payment failed',
    timestamp: nowMs - 1000,
    context: traced,
  });
  await provider.forceFlush();
  // Read before shutdown: the in-memory exporter forgets its records when shut down.
  const records = [...memory.getFinishedLogRecords()];
  await provider.shutdown();
  return records;
}

void describe("the SDK's log exporters send to a real store, and the store answers every field back", () => {
  const s3 = new TestS3();
  let h: Awaited<ReturnType<typeof startTestStore>>;
  const sent = new Map<Transport, ReadableLogRecord[]>();
  before(async () => {
    await s3.start();
    h = await startTestStore({
      objectStore: s3.objectStore('e2e-logs', 3),
      overrides: { block: { max_age: '1h' } },
    });
    for (const transport of ['grpc', 'proto', 'json'] as const)
      sent.set(transport, await emit(`svc-${transport}`, exporterFor(transport, h.store.ports)));
  });
  after(async () => {
    await h?.dispose();
    await s3.dispose();
  });

  const range = () => `start=${Math.floor(nowMs / 1000) - 60}&end=${Math.floor(nowMs / 1000) + 60}`;

  const check = async () => {
    for (const [transport, records] of sent) {
      assert.equal(records.length, 3);
      const r = await h.query(`/api/logs?service=svc-${transport}&${range()}`);
      assert.equal(r.status, 200);
      assert.deepEqual(flatLogRecords(r.body), flatLogRecords(sdkLogsJson(records)), transport);
      const warn = await h.query(`/api/logs?service=svc-${transport}&severity=warn&${range()}`);
      assert.equal(flatLogRecords(warn.body).length, 2, transport);
    }
    const all = [...sent.values()].flat();
    const t = await h.query(`/api/traces/${TRACE}?logs=true`);
    assert.equal(t.status, 200);
    const body = t.body as { batches: unknown[]; logs: unknown };
    assert.deepEqual(body.batches, []);
    assert.deepEqual(
      flatLogRecords(body.logs),
      flatLogRecords(sdkLogsJson(all.filter((r) => r.spanContext?.traceId === TRACE))),
    );
    assert.equal((await h.query(`/api/traces/${TRACE}`)).status, 404);
  };

  void test('over OTLP/gRPC, HTTP/protobuf and HTTP/JSON, from the logs WAL', async () => {
    await check();
  });

  void test('and from the logs block on S3', async () => {
    await h.store.logs!.pipeline.forceFlush();
    assert.ok((await h.objects.list(LOGS_PREFIX)).some((o) => o.key.endsWith('.parquet')));
    assert.equal(h.store.logs!.pipeline.pendingCount(), 0);
    await check();
  });
});

void describe('a store killed with SIGKILL keeps every acknowledged log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-logs-kill-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('records acknowledged over OTLP/HTTP before the kill are all in blocks after the restart', async () => {
    const { child, ports } = await spawnStoreChild(dir, { block: { max_age: '1h' } });
    const acknowledged: ReadableLogRecord[] = [];
    let killed = false;
    const sending = (async () => {
      for (let i = 0; !killed && i < 400; i++) {
        const records = await sdkLogRecords([
          { service: 'kill', body: `log ${i}`, severityNumber: 9, timeMs: nowMs - i },
          {
            service: 'kill',
            body: `log ${i} warn`,
            severityNumber: 13,
            timeMs: nowMs - i,
            traceId: TRACE,
            spanId: '00f067aa0ba902b7',
          },
        ]);
        try {
          const res = await fetch(`http://127.0.0.1:${ports.http}/v1/logs`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf' },
            body: sdkLogsProtobuf(records),
          });
          if (res.status === 200) acknowledged.push(...records);
          await res.arrayBuffer();
        } catch {
          // the store is gone: this request was never acknowledged
        }
      }
    })();
    while (acknowledged.length < 100) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    killed = true;
    await sending;
    if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    const h = await startTestStore({ dir, overrides: { block: { max_age: '1h' } } });
    try {
      await h.store.logs!.pipeline.forceFlush();
      const found = await h.query('/api/logs?service=kill&limit=1000');
      const stored = new Set(flatLogRecords(found.body));
      const missing = flatLogRecords(sdkLogsJson(acknowledged)).filter((r) => !stored.has(r));
      assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged records lost`);
    } finally {
      await h.dispose();
    }
  });
});

void describe('an agent with the default storage exporter keeps logs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-agent-logs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test("the SDK's logs become a logs block the store answers from, with the pod's attributes", async () => {
    const config = testAgentConfig({
      exporters: [{ type: 'storage', url: `file://${join(dir, 'data')}`, batch: { timeout: '10ms' } }],
    });
    const agent = await startAgent(config, {
      logger: silentLogger(),
      metrics: new Metrics(),
      env: { POD_NAME: 'checkout-7d9f8b-x2x4q', POD_NAMESPACE: 'shop', NODE_NAME: 'node-1' },
    });
    let records: ReadableLogRecord[];
    try {
      records = await sdkLogRecords([
        {
          service: 'agent-logs',
          severityNumber: 9,
          severityText: 'INFO',
          body: 'kept by the agent',
          timeMs: nowMs,
        },
        {
          service: 'agent-logs',
          severityNumber: 17,
          severityText: 'ERROR',
          body: 'also kept',
          timeMs: nowMs + 1,
        },
      ]);
      const res = await fetch(`http://127.0.0.1:${agent.ports.http}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: sdkLogsProtobuf(records),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const objects = new LocalObjectStore(join(dir, 'data'));
      const deadline = Date.now() + 20_000;
      while (!(await objects.list(LOGS_PREFIX)).some((o) => o.key.endsWith('.meta.json'))) {
        assert.ok(Date.now() < deadline, 'no logs block within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await agent.shutdown();
    }
    const h = await startTestStore({ dir });
    try {
      const found = await h.query('/api/logs?service=agent-logs');
      const got = flatLogRecords(found.body).map(
        (r) => JSON.parse(r) as { resource: { attributes: { key: string }[] } },
      );
      assert.equal(got.length, 2);
      const keys = got[0]!.resource.attributes.map((a) => a.key);
      assert.ok(keys.includes('k8s.pod.name') && keys.includes('k8s.namespace.name'), keys.join(','));
      // Apart from the pod's attributes, every field as the SDK made it.
      const strip = (doc: unknown) =>
        flatLogRecords(doc).map((r) => {
          const o = JSON.parse(r) as { resource: { attributes: { key: string }[] } };
          o.resource.attributes = o.resource.attributes.filter((a) => !a.key.startsWith('k8s.'));
          return JSON.stringify(o);
        });
      assert.deepEqual(strip(found.body), strip(sdkLogsJson(records)));
    } finally {
      await h.dispose();
    }
  });
});
