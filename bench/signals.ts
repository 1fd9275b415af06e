/**
 * Issue 16: what does a log record and a metric data point cost through the agent, beside a span, in the same run?
 *
 * A real agent in this process (receivers on 127.0.0.1:0, enrichment from a Downward API env, span metrics on, no
 * policy file: every span kept with sampling.weight = 1, logs and metrics passed through), its exporter a counting
 * one that takes the encoded requests (batching and the memory queue included, the network send not). The same
 * keep-alive OTLP/HTTP client POSTs protobuf requests of 100 items each: spans (bench/_pipeline-load.ts's shape:
 * 20 traces of 5, 3 HTTP attributes), log records (the JS SDK's serialization: severity, a string body, 3
 * attributes, trace context) and sum data points (100 attribute sets of a counter, the SDK's serialization). The
 * baseline is the same client against a bare node:http server that reads each body and answers 200, measured in
 * alternating rounds: the agent's own CPU per 1,000 items is (agent round - baseline round), process CPU (user +
 * system, all threads). Median of the rounds.
 */
import { createServer, Agent as HttpAgent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { ProtobufLogsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { startAgent } from '../src/agent/agent.js';
import { agentConfigSchema, validateConfig } from '../src/config/index.js';
import { type SpanExporter } from '../src/export/index.js';
import { SUCCESS, type ExportResult } from '../src/export/span-exporter.js';
import { encodeTraceRequest } from '../src/otlp/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';
import { CapturingLogs, CapturingMetrics, NOWHERE } from '../test/helpers/sdk-signals.js';
import { median } from './_stats.js';

const REQUESTS = 400;
const ROUNDS = 5;
const CONCURRENCY = 4;
const ITEMS = 100;

/** Counts what reaches the export stage; sends nothing. */
class CountingExporter implements SpanExporter {
  readonly name = 'count';
  items = { traces: 0, logs: 0, metrics: 0 };
  async export(): Promise<ExportResult> {
    return SUCCESS;
  }
  async exportEncoded(_r: Uint8Array, n: number): Promise<ExportResult> {
    this.items.traces += n;
    return SUCCESS;
  }
  async exportLogs(_r: Uint8Array, n: number): Promise<ExportResult> {
    this.items.logs += n;
    return SUCCESS;
  }
  async exportMetrics(_r: Uint8Array, n: number): Promise<ExportResult> {
    this.items.metrics += n;
    return SUCCESS;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

async function logsRequest(): Promise<Uint8Array> {
  const capture = new CapturingLogs(NOWHERE);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.4.2' }),
    processors: [new SimpleLogRecordProcessor({ exporter: capture })],
  });
  const logger = provider.getLogger('checkout');
  for (let i = 0; i < ITEMS; i++)
    logger.emit({
      body: `order ${i} paid in ${(i * 7) % 300} ms`,
      severityNumber: 9,
      severityText: 'INFO',
      attributes: { 'http.route': '/pay', 'order.id': `o-${i}`, attempt: i % 3 },
    });
  await provider.shutdown();
  return ProtobufLogsSerializer.serializeRequest(capture.records)!;
}

async function metricsRequest(): Promise<Uint8Array> {
  const capture = new CapturingMetrics(NOWHERE);
  const reader = new PeriodicExportingMetricReader({ exporter: capture, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.4.2' }),
    readers: [reader],
  });
  const counter = provider.getMeter('checkout').createCounter('http.server.requests');
  for (let i = 0; i < ITEMS; i++) counter.add(i + 1, { 'http.route': `/r/${i}`, method: 'GET', code: 200 });
  await reader.forceFlush();
  await provider.shutdown();
  return ProtobufMetricsSerializer.serializeRequest(capture.batches[0]!)!;
}

function post(port: number, path: string, body: Uint8Array, agent: HttpAgent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode} on ${path}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** CPU ms of `REQUESTS` POSTs, `CONCURRENCY` at a time. */
async function round(port: number, path: string, body: Uint8Array, agent: HttpAgent): Promise<number> {
  const start = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        await post(port, path, body, agent);
      }
    }),
  );
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const exporter = new CountingExporter();
const config = validateConfig(
  agentConfigSchema(),
  {
    receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
    admin: { endpoint: '127.0.0.1:0' },
    enrich: { cluster_name: 'bench' },
    measure: { enabled: true },
    exporters: [{ type: 'debug', batch: { timeout: '50ms' } }],
  },
  'bench',
);
const agent = await startAgent(config, {
  logger: silentLogger(),
  metrics: new Metrics(),
  exporters: [exporter],
  env: { POD_NAME: 'checkout-7d9f8b-x2x4q', POD_NAMESPACE: 'shop', NODE_NAME: 'node-1' },
});
const nullServer = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
await new Promise<void>((r) => nullServer.listen(0, '127.0.0.1', r));
const nullPort = (nullServer.address() as AddressInfo).port;
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });

const bodies = {
  traces: encodeTraceRequest(makeTraces({ traces: 20, spansPerTrace: 5, seed: 16 })),
  logs: await logsRequest(),
  metrics: await metricsRequest(),
};
const paths = { traces: '/v1/traces', logs: '/v1/logs', metrics: '/v1/metrics' };
const signals = ['traces', 'logs', 'metrics'] as const;

// Warm-up: JIT, sockets, interned resources.
for (const s of signals) {
  await round(agent.ports.http, paths[s], bodies[s], httpAgent);
  await round(nullPort, paths[s], bodies[s], httpAgent);
}
const samples = { traces: [] as number[], logs: [] as number[], metrics: [] as number[] };
const baselines = { traces: [] as number[], logs: [] as number[], metrics: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  for (const s of signals) {
    samples[s].push(await round(agent.ports.http, paths[s], bodies[s], httpAgent));
    baselines[s].push(await round(nullPort, paths[s], bodies[s], httpAgent));
  }
}
await agent.shutdown();
nullServer.close();
httpAgent.destroy();

const expected = (ROUNDS + 1) * REQUESTS * ITEMS;
for (const s of signals)
  if (exporter.items[s] !== expected)
    throw new Error(`${s}: ${exporter.items[s]} items reached the exporter, expected ${expected}`);

const perThousand = (ms: number) => (ms / (REQUESTS * ITEMS)) * 1000;
console.log(
  `node ${process.version}, ${availableParallelism()} cores; ${ROUNDS} rounds of ${REQUESTS} requests of ${ITEMS} items, ${CONCURRENCY} in flight; CPU ms per 1,000 items, median`,
);
console.log(
  "| signal | bytes per item | agent (incl. client) | baseline: bare HTTP server, same client | the agent's own | ratio to the span |",
);
console.log('|---|---|---|---|---|---|');
const own = Object.fromEntries(
  signals.map((s) => [s, perThousand(median(samples[s].map((x, i) => x - (baselines[s][i] as number))))]),
) as Record<(typeof signals)[number], number>;
for (const s of signals) {
  console.log(
    `| ${s === 'traces' ? 'span' : s === 'logs' ? 'log record' : 'metric data point'} | ${(bodies[s].length / ITEMS).toFixed(0)} | ${perThousand(median(samples[s])).toFixed(1)} | ${perThousand(median(baselines[s])).toFixed(1)} | ${own[s].toFixed(1)} | ${(own[s] / own.traces).toFixed(2)}x |`,
  );
}
