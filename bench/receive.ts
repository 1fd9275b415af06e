/**
 * How fast do the receivers take OTLP, against how fast the same bytes merely decode?
 * - decoder choice: the hand-written decoder against protobufjs with a schema built from the same field numbers;
 * - spans/s over gRPC and HTTP at 1, 100 and 1,000 spans per request, each beside the decode-only rate;
 * - p99 Export latency at 10,000 spans/s offered (100 requests/s of 100 spans);
 * - resident memory, and the heap the decoded model takes per byte of protobuf (the memory budget's factor).
 * The load generator runs in a child process; the receivers hand spans to a consumer that only counts them.
 */
import { availableParallelism } from 'node:os';
import { fork } from 'node:child_process';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { countSpans, decodeTraceRequest, type TraceBatch, type TraceConsumer } from '../src/otlp/index.js';
import { OtlpReceivers } from '../src/receiver/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { recordAndSend } from '../test/helpers/sdk.js';
import { otlpProtobufjsRoot } from '../test/helpers/otlp-protobufjs.js';

class CountingConsumer implements TraceConsumer {
  spans = 0;
  async consume(batch: TraceBatch): Promise<void> {
    this.spans += batch.spanCount;
  }
  bufferedBytes(): number {
    return 0;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** Operations per second of `fn` over about `ms` milliseconds. */
function rate(fn: () => void, ms = 1500): number {
  for (let i = 0; i < 50; i++) fn(); // warm up
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

function load(
  job: Record<string, unknown> & { body: Buffer },
): Promise<{ requests: number; errors: number; latencies: number[] }> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./_load-worker.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'],
    });
    child.send({ ...job, body: job.body.toString('base64') });
    child.once('message', (m) => resolve(m as { requests: number; errors: number; latencies: number[] }));
    child.once('error', reject);
  });
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`cores: ${availableParallelism()}, node ${process.version}`);
  const spans = await recordAndSend(1000, undefined);
  const bodies = new Map<number, Buffer>();
  for (const n of [1, 100, 1000]) {
    bodies.set(n, Buffer.from(ProtobufTraceSerializer.serializeRequest(spans.slice(0, n)) as Uint8Array));
  }

  // 1. Decoder choice, on the 1,000-span request.
  const big = bodies.get(1000) as Buffer;
  const Request = otlpProtobufjsRoot().lookupType('Request');
  // Alternating short rounds, median ratio: the two decoders see the same machine weather.
  const ratios: number[] = [];
  let own = 0;
  let pbjs = 0;
  for (let round = 0; round < 7; round++) {
    const a = rate(() => decodeTraceRequest(big), 400);
    const b = rate(() => Request.decode(big), 400);
    ratios.push(b / a);
    own += a / 7;
    pbjs += b / 7;
  }
  ratios.sort((x, y) => x - y);
  const median = ratios[3] as number;
  console.log('\n### decoder choice (1,000-span request, %s bytes; 7 alternating rounds)', fmt(big.length));
  console.log('| decoder | mean spans/s | median ratio (range) |\n|---|---|---|');
  console.log(
    `| hand-written (src/otlp/protobuf-decode.ts), full model with hex ids | ${fmt(own * 1000)} | 1.00 |`,
  );
  console.log(
    `| protobufjs Type.decode, same schema (raw bytes ids, Long ints; no model) | ${fmt(pbjs * 1000)} | ${median.toFixed(2)} (${(ratios[0] as number).toFixed(2)}-${(ratios[6] as number).toFixed(2)}) |`,
  );

  // 2. Throughput per transport and request size, beside decode-only.
  const consumer = new CountingConsumer();
  const receivers = new OtlpReceivers({
    grpcEndpoint: '127.0.0.1:0',
    httpEndpoint: '127.0.0.1:0',
    maxRequestBytes: 16 * 1024 * 1024,
    memoryLimitBytes: 1024 * 1024 * 1024,
    consumer,
    metrics: new Metrics(),
    logger: silentLogger(),
  });
  const ports = await receivers.start();
  console.log('\n### receive throughput (load from a child process, concurrency 8, 3 s each)');
  console.log(
    '| transport | spans/request | request bytes | received spans/s | decode-only spans/s | received / decode-only |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const n of [1, 100, 1000]) {
    const body = bodies.get(n) as Buffer;
    const decodeOnly = rate(() => decodeTraceRequest(body)) * countSpans(decodeTraceRequest(body));
    for (const transport of ['grpc', 'http'] as const) {
      const before = consumer.spans;
      const t0 = performance.now();
      const r = await load({
        transport,
        port: transport === 'grpc' ? ports.grpcPort : ports.httpPort,
        body,
        mode: 'throughput',
        concurrency: 8,
        durationMs: 3000,
      });
      const received = ((consumer.spans - before) * 1000) / (performance.now() - t0);
      if (r.errors > 0) console.log(`(${r.errors} errors)`);
      console.log(
        `| ${transport} | ${n} | ${fmt(body.length)} | ${fmt(received)} | ${fmt(decodeOnly)} | ${(received / decodeOnly).toFixed(2)} |`,
      );
    }
  }

  // 3. Latency at 10,000 spans/s offered.
  console.log('\n### Export latency at 10,000 spans/s offered (100 requests/s x 100 spans, 5 s)');
  console.log('| transport | p50 ms | p99 ms | max ms | decode of one request, ms |\n|---|---|---|---|---|');
  const body100 = bodies.get(100) as Buffer;
  const decodeMs = 1000 / rate(() => decodeTraceRequest(body100));
  for (const transport of ['grpc', 'http'] as const) {
    const r = await load({
      transport,
      port: transport === 'grpc' ? ports.grpcPort : ports.httpPort,
      body: body100,
      mode: 'paced',
      concurrency: 16,
      durationMs: 5000,
      ratePerSecond: 100,
    });
    const l = r.latencies.sort((a, b) => a - b);
    const q = (p: number): number => l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? NaN;
    console.log(
      `| ${transport} | ${q(0.5).toFixed(2)} | ${q(0.99).toFixed(2)} | ${(l[l.length - 1] ?? NaN).toFixed(2)} | ${decodeMs.toFixed(3)} |`,
    );
  }
  await receivers.stop();

  // 4. Memory.
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const kept = Array.from({ length: 40 }, () => decodeTraceRequest(big));
  global.gc?.();
  const perWireByte = (process.memoryUsage().heapUsed - heapBefore) / (kept.length * big.length);
  console.log('\n### memory');
  console.log(`model heap per byte of protobuf: ${perWireByte.toFixed(1)} (the memory budget assumes 10)`);
  console.log(`resident memory after the runs: ${fmt(process.memoryUsage().rss / 1048576)} MiB`);
}

await main();
