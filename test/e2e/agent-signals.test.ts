/**
 * Issue 16: the sidecar takes all three OTLP signals. The official OpenTelemetry JS SDK's log and metric exporters
 * (gRPC, HTTP/protobuf, HTTP/JSON) send through a real agent, whose OTLP exporter (gRPC, then HTTP) sends to a
 * second Sentinel receiver that records the bytes. What arrives is decoded independently (protobufjs) and compared
 * field by field with what the SDK's own protobuf serializer writes for the same records, plus the pod's
 * Kubernetes attributes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { ProtobufLogsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from '../helpers/agent-config.js';
import { InMemoryExporter } from '../../src/export/memory-exporter.js';
import {
  encodeTraceRequest,
  type SignalBatch,
  type TraceBatch,
  type TraceConsumer,
} from '../../src/otlp/index.js';
import type { OtlpReceivers } from '../../src/receiver/index.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { decodeSignalRequest } from '../helpers/otlp-signals-protobufjs.js';
import { postTraces, startReceivers } from '../helpers/receivers.js';
import { makeTraces } from '../helpers/store-spans.js';
import { CapturingLogs, CapturingMetrics, emitLogs, recordMetrics } from '../helpers/sdk-signals.js';

type Obj = Record<string, unknown>;

/** The downstream end: keeps every logs and metrics request it is given, as bytes. */
class SignalRecorder implements TraceConsumer {
  readonly logs: Uint8Array[] = [];
  readonly metrics: Uint8Array[] = [];
  private waiters: Array<() => void> = [];
  async consume(_batch: TraceBatch): Promise<void> {}
  async consumeLogs(b: SignalBatch): Promise<void> {
    this.logs.push(Buffer.from(b.encoded));
    for (const w of this.waiters.splice(0)) w();
  }
  async consumeMetrics(b: SignalBatch): Promise<void> {
    this.metrics.push(Buffer.from(b.encoded));
    for (const w of this.waiters.splice(0)) w();
  }
  bufferedBytes(): number {
    return 0;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
  /** Waits until `check` holds (checked after each request). */
  async until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await Promise.race([
        new Promise<void>((r) => this.waiters.push(r)),
        new Promise((r) => setTimeout(r, 200)),
      ]);
    }
  }
}

const POD_ENV = {
  POD_NAME: 'checkout-7d9f8b-x2x4q',
  POD_NAMESPACE: 'shop',
  NODE_NAME: 'node-1',
  POD_UID: '0b5f3c6e-1111-2222-3333-444455556666',
};
const K8S_KEYS = new Set([
  'k8s.cluster.name',
  'k8s.namespace.name',
  'k8s.pod.name',
  'k8s.pod.uid',
  'k8s.node.name',
  'k8s.deployment.name',
  'k8s.replicaset.name',
]);

/** Every item of a decoded request, with its resource and scope, the pod's attributes taken out of the resource. */
function flatten(kind: 'logs' | 'metrics', decoded: Obj): Obj[] {
  const [rk, sk, ik] =
    kind === 'logs'
      ? ['resourceLogs', 'scopeLogs', 'logRecords']
      : ['resourceMetrics', 'scopeMetrics', 'metrics'];
  const out: Obj[] = [];
  for (const rl of (decoded[rk] as Obj[] | undefined) ?? []) {
    const resource = { ...((rl['resource'] as Obj | undefined) ?? {}) };
    const attrs = ((resource['attributes'] as Obj[] | undefined) ?? []).filter(
      (kv) => !K8S_KEYS.has(kv['key'] as string),
    );
    resource['attributes'] = attrs;
    for (const sl of (rl[sk] as Obj[] | undefined) ?? [])
      for (const item of (sl[ik] as Obj[] | undefined) ?? [])
        out.push({ resource, scope: sl['scope'], schemaUrl: sl['schemaUrl'], item });
  }
  return out;
}

/** The pod's attributes of every resource in a decoded request. */
function podAttributes(kind: 'logs' | 'metrics', decoded: Obj): Array<Map<string, string>> {
  const rk = kind === 'logs' ? 'resourceLogs' : 'resourceMetrics';
  return ((decoded[rk] as Obj[] | undefined) ?? []).map((rl) => {
    const m = new Map<string, string>();
    for (const kv of ((rl['resource'] as Obj)['attributes'] as Obj[]) ?? [])
      if (K8S_KEYS.has(kv['key'] as string))
        m.set(kv['key'] as string, ((kv['value'] as Obj)['s'] as string) ?? '');
    return m;
  });
}

const sortKey = (x: Obj): string => JSON.stringify(x['item']);

type Transport = 'grpc' | 'proto' | 'json';

function logExporter(t: Transport, ports: { grpc: number; http: number }): LogRecordExporter {
  if (t === 'grpc') return new LogsGrpc({ url: `http://127.0.0.1:${ports.grpc}` });
  const url = `http://127.0.0.1:${ports.http}/v1/logs`;
  return t === 'proto' ? new LogsProto({ url }) : new LogsJson({ url });
}

function metricExporter(t: Transport, ports: { grpc: number; http: number }): PushMetricExporter {
  if (t === 'grpc') return new MetricsGrpc({ url: `http://127.0.0.1:${ports.grpc}` });
  const url = `http://127.0.0.1:${ports.http}/v1/metrics`;
  return t === 'proto' ? new MetricsProto({ url }) : new MetricsJson({ url });
}

for (const protocol of ['grpc', 'http'] as const) {
  void describe(`SDK logs and metrics through the agent, out over OTLP/${protocol} (issue 16)`, () => {
    const recorder = new SignalRecorder();
    let downstream: OtlpReceivers;
    let agent: RunningAgent;
    let ports: { grpc: number; http: number };

    before(async () => {
      const d = await startReceivers(recorder, { wire: true });
      downstream = d.receivers;
      const config = testAgentConfig({
        enrich: { cluster_name: 'test-cluster' },
        exporters: [
          {
            type: 'otlp',
            protocol,
            endpoint: `http://127.0.0.1:${protocol === 'grpc' ? d.grpcPort : d.httpPort}`,
            batch: { timeout: '10ms' },
          },
        ],
      });
      agent = await startAgent(config, { logger: silentLogger(), metrics: new Metrics(), env: POD_ENV });
      ports = { grpc: agent.ports.grpc, http: agent.ports.http };
    });
    after(async () => {
      await agent.shutdown();
      await downstream.stop();
    });

    for (const transport of ['grpc', 'proto', 'json'] as const) {
      test(`logs from the SDK's ${transport} exporter arrive field for field, plus the pod's attributes`, async () => {
        const before = recorder.logs.length;
        const capture = new CapturingLogs(logExporter(transport, ports));
        await emitLogs(capture, transport);
        assert.equal(capture.records.length, 4);
        const want = flatten(
          'logs',
          decodeSignalRequest('logs', ProtobufLogsSerializer.serializeRequest(capture.records)!),
        );
        let got: Obj[] = [];
        await recorder.until(() => {
          const decoded = recorder.logs.slice(before).map((b) => decodeSignalRequest('logs', b));
          got = decoded.flatMap((d) => flatten('logs', d));
          return got.length >= want.length;
        }, 'the log records');
        assert.deepEqual(got.map(sortKey).sort(), want.map(sortKey).sort());
        const byKey = new Map(got.map((g) => [sortKey(g), g]));
        for (const w of want) assert.deepEqual(byKey.get(sortKey(w)), w);
        for (const request of recorder.logs.slice(before)) {
          for (const pod of podAttributes('logs', decodeSignalRequest('logs', request))) {
            assert.equal(pod.get('k8s.pod.name'), POD_ENV.POD_NAME);
            assert.equal(pod.get('k8s.namespace.name'), 'shop');
            assert.equal(pod.get('k8s.node.name'), 'node-1');
            assert.equal(pod.get('k8s.cluster.name'), 'test-cluster');
          }
        }
      });

      test(`metrics from the SDK's ${transport} exporter arrive field for field, plus the pod's attributes`, async () => {
        const before = recorder.metrics.length;
        const capture = new CapturingMetrics(metricExporter(transport, ports));
        await recordMetrics(capture);
        const want = capture.batches.flatMap((rm) =>
          flatten('metrics', decodeSignalRequest('metrics', ProtobufMetricsSerializer.serializeRequest(rm)!)),
        );
        // Each collection (forceFlush, then shutdown's) is one export of the four instruments.
        assert.ok(want.length >= 4 && want.length % 4 === 0, `${want.length} data-point series`);
        let got: Obj[] = [];
        await recorder.until(() => {
          got = recorder.metrics
            .slice(before)
            .flatMap((b) => flatten('metrics', decodeSignalRequest('metrics', b)));
          return got.length >= want.length;
        }, 'the metrics');
        const byKey = new Map(got.map((g) => [sortKey(g), g]));
        assert.equal(got.length, want.length);
        for (const w of want) assert.deepEqual(byKey.get(sortKey(w)), w);
        for (const request of recorder.metrics.slice(before))
          for (const pod of podAttributes('metrics', decodeSignalRequest('metrics', request)))
            assert.equal(pod.get('k8s.pod.name'), POD_ENV.POD_NAME);
      });
    }
  });
}

void describe('span metrics go out as OTLP metrics too (issue 16, measure.otlp_interval)', () => {
  test("the exporter gets traces.span.metrics.calls and .duration under the spans' enriched resource", async () => {
    const exporter = new InMemoryExporter();
    const metrics = new Metrics();
    const config = testAgentConfig({
      enrich: { cluster_name: 'test-cluster' },
      measure: { otlp_interval: '100ms' },
      exporters: [{ type: 'debug', batch: { timeout: '10ms' } }],
    });
    const agent = await startAgent(config, {
      logger: silentLogger(),
      metrics,
      exporters: [exporter],
      env: POD_ENV,
    });
    try {
      const res = await postTraces(
        agent.ports.http,
        encodeTraceRequest(makeTraces({ traces: 4, spansPerTrace: 3, seed: 5 })),
        {
          'content-type': 'application/x-protobuf',
        },
      );
      assert.equal(res.status, 200);
      // What the Prometheus exposition counts: the OTLP export carries the same totals.
      const text = await metrics.registry.metrics();
      const want = [...text.matchAll(/^sentinel_spanmetrics_calls_total\{[^}]*\} (\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
      assert.ok(want > 0);
      const deadline = Date.now() + 10_000;
      let calls = 0;
      let decoded: Obj | undefined;
      while (calls < want) {
        if (Date.now() > deadline) throw new Error(`span metrics: ${calls} calls exported`);
        await new Promise((r) => setTimeout(r, 100));
        const last = exporter.metrics.at(-1);
        if (!last) continue;
        decoded = decodeSignalRequest('metrics', last);
        // A batch can hold several sends (cumulative totals): the latest one's points.
        const byTime = new Map<string, number>();
        for (const item of flatten('metrics', decoded)) {
          const m = item['item'] as Obj;
          if (m['name'] === 'traces.span.metrics.calls')
            for (const p of ((m['sum'] as Obj)['dataPoints'] as Obj[]) ?? []) {
              const t = String(p['timeUnixNano']);
              byTime.set(t, (byTime.get(t) ?? 0) + Number(p['asInt']));
            }
        }
        const latest = [...byTime.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).at(-1);
        calls = latest === undefined ? 0 : (byTime.get(latest) ?? 0);
      }
      assert.equal(calls, want);
      const names = new Set(flatten('metrics', decoded!).map((i) => (i['item'] as Obj)['name']));
      assert.deepEqual([...names].sort(), ['traces.span.metrics.calls', 'traces.span.metrics.duration']);
      for (const pod of podAttributes('metrics', decoded!))
        assert.equal(pod.get('k8s.cluster.name'), 'test-cluster');
      const hist = flatten('metrics', decoded!).find(
        (i) => (i['item'] as Obj)['name'] === 'traces.span.metrics.duration',
      );
      const point = (((hist!['item'] as Obj)['histogram'] as Obj)['dataPoints'] as Obj[])[0]!;
      const counts = (point['bucketCounts'] as string[]).map(Number);
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        Number(point['count']),
      );
    } finally {
      await agent.shutdown();
    }
  });
});
