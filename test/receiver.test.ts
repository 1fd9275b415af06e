import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  countSpans,
  decodeTraceRequest,
  encodeTraceRequest,
  encodeTraceRequestJson,
  type TraceData,
} from '../src/otlp/index.js';
import type { OtlpReceivers } from '../src/receiver/index.js';
import { estimateProtobufRequest } from '../src/receiver/admission-estimate.js';
import type { Metrics } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { mutate, seededRandom } from './helpers/fuzz.js';
import { makeTraces } from './helpers/store-spans.js';
import {
  grpcExport,
  grpcExportHonouringRetryInfo,
  merge,
  postTraces,
  retryDelayMs,
  startReceivers,
} from './helpers/receivers.js';
import { recordAndSend, sdkExporter, type SdkTransport } from './helpers/sdk.js';
import { assertSameAsRecorded } from './helpers/assert-model.js';

const PROTO = { 'content-type': 'application/x-protobuf' };
const JSON_CT = { 'content-type': 'application/json' };

describe('OTLP receivers with the official SDK exporters', () => {
  let consumer: CollectingConsumer;
  let receivers: OtlpReceivers;
  let metrics: Metrics;
  let ports: { grpcPort: number; httpPort: number };
  before(async () => {
    consumer = new CollectingConsumer();
    const started = await startReceivers(consumer);
    ({ receivers, metrics } = started);
    ports = started;
  });
  after(() => receivers.stop());

  for (const transport of ['grpc', 'proto', 'json'] as SdkTransport[]) {
    for (const compression of ['none', 'gzip'] as const) {
      it(`receives 1,000 spans from the ${transport} exporter (${compression}) with every field intact`, async () => {
        consumer.batches.length = 0;
        const recorded = await recordAndSend(1000, sdkExporter(transport, ports, { compression }));
        assert.equal(consumer.spanCount(), 1000);
        assertSameAsRecorded(merge(consumer.batches), recorded);
      });
    }
  }

  it('counts accepted spans by transport', async () => {
    assert.equal(await metrics.value('receiver_accepted_spans_total', { transport: 'grpc' }), 2000);
    assert.equal(await metrics.value('receiver_accepted_spans_total', { transport: 'http' }), 4000);
  });
});

describe('OTLP receivers refuse bad input with the documented status and keep serving', () => {
  let consumer: CollectingConsumer;
  let receivers: OtlpReceivers;
  let metrics: Metrics;
  let grpcPort: number;
  let httpPort: number;
  let valid: Buffer;
  let validModel: TraceData;
  const LIMIT = 256 * 1024;

  before(async () => {
    consumer = new CollectingConsumer();
    ({ receivers, metrics, grpcPort, httpPort } = await startReceivers(consumer, { maxRequestBytes: LIMIT }));
    valid = Buffer.from(
      ProtobufTraceSerializer.serializeRequest(await recordAndSend(10, undefined)) as Uint8Array,
    );
    validModel = decodeTraceRequest(valid);
  });
  after(() => receivers.stop());

  async function stillServing(): Promise<void> {
    const res = await postTraces(httpPort, valid, PROTO);
    assert.equal(res.status, 200);
    const g = await grpcExport(grpcPort, valid);
    assert.equal(g.error, null);
  }

  it('answers truncated protobuf with 400 and a google.rpc.Status in protobuf', async () => {
    const res = await postTraces(httpPort, valid.subarray(0, valid.length - 5), PROTO);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    assert.match(res.body.toString('latin1'), /protobuf: .* at byte \d+/);
    await stillServing();
  });

  it('answers a wrong wire type with 400 over HTTP and INVALID_ARGUMENT over gRPC', async () => {
    const bad = Buffer.from([0x08, 0x01]);
    assert.equal((await postTraces(httpPort, bad, PROTO)).status, 400);
    const g = await grpcExport(grpcPort, bad);
    assert.equal(g.error?.code, grpcStatus.INVALID_ARGUMENT);
    assert.match(g.error?.details ?? '', /expected wire type 2/);
    await stillServing();
  });

  it('answers invalid JSON with 400 and a JSON Status naming the problem', async () => {
    const res = await postTraces(httpPort, '{"resourceSpans":', JSON_CT);
    assert.equal(res.status, 400);
    const status = JSON.parse(res.body.toString()) as { code: number; message: string; errorCode: string };
    assert.equal(status.code, 3);
    assert.equal(status.errorCode, 'SENTINEL_ERR_OTLP_DECODE');
    assert.match(status.message, /not valid JSON/);
    await stillServing();
  });

  it('answers ids of the wrong length with 400 (JSON) and INVALID_ARGUMENT (gRPC)', async () => {
    const bad = structuredClone(validModel);
    bad.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId = 'abcdef';
    assert.equal((await postTraces(httpPort, encodeTraceRequestJson(bad), JSON_CT)).status, 400);
    const g = await grpcExport(grpcPort, encodeTraceRequest(bad));
    assert.equal(g.error?.code, grpcStatus.INVALID_ARGUMENT);
    assert.match(g.error?.details ?? '', /span_id must be 8 bytes/);
  });

  it('accepts the valid spans of a request and reports the rest in partial_success', async () => {
    const mixed = structuredClone(validModel);
    mixed.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId = '0'.repeat(32);
    const res = await postTraces(httpPort, encodeTraceRequestJson(mixed), JSON_CT);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body.toString()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    assert.equal(body.partialSuccess.rejectedSpans, '1');
    const g = await grpcExport(grpcPort, encodeTraceRequest(mixed));
    assert.equal(g.error, null);
    assert.ok(g.response && g.response.length > 0, 'gRPC response carries partial_success');
    assert.equal(await metrics.value('receiver_refused_spans_total', { reason: 'invalid' }), 2);
  });

  it('answers an oversized body with 413 (HTTP) and RESOURCE_EXHAUSTED (gRPC)', async () => {
    const big = Buffer.alloc(LIMIT + 1, 1);
    const res = await postTraces(httpPort, big, PROTO);
    assert.equal(res.status, 413);
    const g = await grpcExport(grpcPort, big);
    assert.equal(g.error?.code, grpcStatus.RESOURCE_EXHAUSTED);
    await stillServing();
  });

  it('refuses a gzip bomb after decompression, over HTTP and gRPC', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    assert.ok(bomb.length < LIMIT, 'the compressed bomb is under the limit');
    const res = await postTraces(httpPort, bomb, { ...PROTO, 'content-encoding': 'gzip' });
    assert.equal(res.status, 413);
    assert.match(res.body.toString('latin1'), /decompressed/);
    const g = await grpcExport(grpcPort, Buffer.alloc(8 * 1024 * 1024), { gzip: true });
    assert.equal(g.error?.code, grpcStatus.RESOURCE_EXHAUSTED);
    assert.ok((await metrics.value('receiver_refused_requests_total', { reason: 'too_large' })) >= 2);
    await stillServing();
  });

  it('answers other content types and encodings with 415, other paths 404, other methods 405', async () => {
    assert.equal((await postTraces(httpPort, 'x', { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await postTraces(httpPort, valid, { ...PROTO, 'content-encoding': 'br' })).status, 415);
    assert.equal((await postTraces(httpPort, valid, PROTO, '/v1/metrics')).status, 404);
    assert.equal((await postTraces(httpPort, '', PROTO, '/v1/traces', 'GET')).status, 405);
    await stillServing();
  });

  it('sends no CORS headers unless origins are configured', async () => {
    const res = await postTraces(httpPort, valid, { ...PROTO, origin: 'https://app.example.com' });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  it('survives 10,000 seeded random mutations of a valid request sent to the live server', async () => {
    const json = Buffer.from(encodeTraceRequestJson(validModel));
    const rand = seededRandom(7);
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 10_000) {
        const i = next++;
        const useJson = i % 3 === 0;
        const body = mutate(useJson ? json : valid, rand);
        const res = await postTraces(httpPort, body, useJson ? JSON_CT : PROTO);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, 10_000);
    for (const status of statuses.keys())
      assert.ok([200, 400].includes(status), `status ${status} is 200 or 400`);
    await stillServing();
  });
});

describe("the agent's receivers on the byte path (issue 13)", () => {
  let receivers: OtlpReceivers;
  let httpPort: number;
  const consumer = new CollectingConsumer();
  before(async () => {
    ({ receivers, httpPort } = await startReceivers(consumer, { wire: true }));
  });
  after(() => receivers.stop());

  it('answers 2,000 seeded random mutations with 200 or 400 and hands on only spans that decode', async () => {
    const valid = encodeTraceRequest(makeTraces({ traces: 4, spansPerTrace: 3, seed: 31, exotic: true }));
    const json = Buffer.from(encodeTraceRequestJson(makeTraces({ traces: 2, spansPerTrace: 2, seed: 33 })));
    const rand = seededRandom(37);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const useJson = i % 3 === 0;
      const res = await postTraces(httpPort, mutate(useJson ? json : valid, rand), useJson ? JSON_CT : PROTO);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    for (const status of statuses.keys()) assert.ok([200, 400].includes(status), `status ${status}`);
    // Every batch handed on is a scanned request whose bytes decode (what the exporters will send).
    for (const b of consumer.batches) {
      assert.ok(b.wire, 'the pipeline got wire bytes');
      assert.equal(countSpans(b.data), b.spanCount);
    }
    assert.ok(consumer.batches.length > 100);
  });
});

describe('OTLP receivers with CORS configured', () => {
  let receivers: OtlpReceivers;
  let httpPort: number;
  before(async () => {
    ({ receivers, httpPort } = await startReceivers(new CollectingConsumer(), {
      cors: { allowedOrigins: ['https://*.example.com'], allowedHeaders: ['x-tenant'], maxAgeSeconds: 600 },
    }));
  });
  after(() => receivers.stop());

  it('answers the preflight of an allowed origin and ignores others', async () => {
    const ok = await postTraces(httpPort, '', { origin: 'https://app.example.com' }, '/v1/traces', 'OPTIONS');
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-tenant/);
    const other = await postTraces(httpPort, '', { ...PROTO, origin: 'https://evil.test' });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});

describe('OTLP receivers under backpressure', () => {
  it('refuses with RESOURCE_EXHAUSTED and 429 while the pipeline is stalled, within the memory budget, then takes every retried span', async () => {
    const consumer = new CollectingConsumer();
    // One and a half 200-span requests as admission-estimate.ts prices them: each fits, not all at once.
    const sample = await recordAndSend(200, undefined, { serviceName: 'grpc-0' });
    const limit = Math.ceil(
      1.5 * estimateProtobufRequest(ProtobufTraceSerializer.serializeRequest(sample) as Uint8Array),
    );
    const { receivers, metrics, grpcPort, httpPort } = await startReceivers(consumer, {
      memoryLimitBytes: limit,
    });
    try {
      consumer.stall();
      let maxUsed = 0;
      const sampler = setInterval(() => (maxUsed = Math.max(maxUsed, receivers.ingest.usedBytes())), 5);
      // The SDK's OTLP/HTTP exporters retry 429 after Retry-After. Its gRPC exporter (0.301) retries no gRPC
      // status at all (grpc-exporter-transport maps every error to "failure"), so the gRPC senders here do
      // what the Collector's OTLP exporter does: wait for the RetryInfo delay, then send again.
      const httpSenders = [0, 1].map((i) =>
        recordAndSend(200, sdkExporter('proto', { grpcPort, httpPort }), {
          serviceName: `http-${i}`,
          maxExportBatchSize: 100,
        }),
      );
      const grpcBodies = await Promise.all(
        [0, 1].map(async (i) => {
          const spans = await recordAndSend(200, undefined, { serviceName: `grpc-${i}` });
          return { spans, body: Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array) };
        }),
      );
      const grpcSenders = grpcBodies.map((b) => grpcExportHonouringRetryInfo(grpcPort, b.body));
      const deadline = Date.now() + 10_000;
      const refused = (transport: string) =>
        metrics.value('receiver_refused_spans_total', { transport, reason: 'memory_limit' });
      while (((await refused('grpc')) === 0 || (await refused('http')) === 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok((await refused('grpc')) > 0, 'gRPC senders were refused');
      assert.ok((await refused('http')) > 0, 'HTTP senders were refused');
      consumer.resume();
      const recorded = [...(await Promise.all(httpSenders)).flat(), ...grpcBodies.flatMap((b) => b.spans)];
      const grpcResults = await Promise.all(grpcSenders);
      clearInterval(sampler);
      // The budget takes one request at a time while the pipeline is stalled: whichever sender came first (one
      // of the gRPC senders, now and then) got in at its first attempt, so not every sender is refused.
      for (const g of grpcResults) assert.equal(g.error, null, 'gRPC senders succeeded after retrying');
      assert.ok(
        grpcResults.some((g) => g.attempts > 1),
        'a gRPC sender was refused, waited for RetryInfo, and was taken',
      );
      assert.ok(maxUsed <= limit, `held bytes ${maxUsed} stayed within the budget ${limit}`);
      const got = new Set(consumer.spans().map((s) => s.spanId));
      assert.equal(consumer.spanCount(), 800, 'no span arrived twice');
      for (const r of recorded) assert.ok(got.has(r.spanContext().spanId), 'every retried span arrived');
    } finally {
      consumer.resume();
      await receivers.stop();
    }
  });

  it('counts a request the pipeline holds once, not twice: two fit a budget of just under three', async () => {
    const consumer = new CollectingConsumer();
    const body = Buffer.from(
      ProtobufTraceSerializer.serializeRequest(await recordAndSend(5, undefined)) as Uint8Array,
    );
    const size = estimateProtobufRequest(body);
    const { receivers, httpPort } = await startReceivers(consumer, { memoryLimitBytes: 3 * size - 1 });
    try {
      consumer.stall();
      const first = postTraces(httpPort, body, PROTO);
      while (receivers.ingest.usedBytes() < size) await new Promise((r) => setTimeout(r, 5));
      const second = postTraces(httpPort, body, PROTO);
      while (receivers.ingest.usedBytes() < 2 * size) await new Promise((r) => setTimeout(r, 5));
      assert.equal(receivers.ingest.usedBytes(), 2 * size, 'two held requests count as two');
      assert.equal((await postTraces(httpPort, body, PROTO)).status, 429, 'the third does not fit');
      consumer.resume();
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
    } finally {
      consumer.resume();
      await receivers.stop();
    }
  });

  it('refuses for good (413, RESOURCE_EXHAUSTED without RetryInfo) a request whose estimate is over the whole budget', async () => {
    const consumer = new CollectingConsumer();
    const body = Buffer.from(
      ProtobufTraceSerializer.serializeRequest(await recordAndSend(5, undefined)) as Uint8Array,
    );
    const { receivers, metrics, httpPort, grpcPort } = await startReceivers(consumer, {
      memoryLimitBytes: estimateProtobufRequest(body) - 1,
    });
    try {
      const res = await postTraces(httpPort, body, PROTO);
      assert.equal(res.status, 413);
      assert.equal(res.headers.get('retry-after'), null);
      assert.match(res.body.toString('latin1'), /more than the whole memory budget .* send smaller batches/);
      const g = await grpcExport(grpcPort, body);
      assert.equal(g.error?.code, grpcStatus.RESOURCE_EXHAUSTED);
      assert.equal(retryDelayMs(g.error!), undefined, 'no RetryInfo: OTLP clients do not retry it');
      assert.equal(consumer.spanCount(), 0);
      assert.equal(await metrics.value('receiver_refused_spans_total', { reason: 'too_large' }), 10);
    } finally {
      await receivers.stop();
    }
  });

  it('tells gRPC clients when to retry: RetryInfo in grpc-status-details-bin', async () => {
    const consumer = new CollectingConsumer();
    const body = Buffer.from(
      ProtobufTraceSerializer.serializeRequest(await recordAndSend(5, undefined)) as Uint8Array,
    );
    const { receivers, grpcPort } = await startReceivers(consumer, {
      memoryLimitBytes: estimateProtobufRequest(body),
    });
    try {
      consumer.stall();
      const held = grpcExport(grpcPort, body);
      while (receivers.ingest.usedBytes() === 0) await new Promise((r) => setTimeout(r, 5));
      const g = await grpcExport(grpcPort, body);
      assert.equal(g.error?.code, grpcStatus.RESOURCE_EXHAUSTED);
      assert.equal(retryDelayMs(g.error!), 1000);
      assert.equal(g.error?.metadata.get('grpc-retry-pushback-ms')[0], '1000');
      consumer.resume();
      assert.equal((await held).error, null);
    } finally {
      consumer.resume();
      await receivers.stop();
    }
  });

  it('keeps resident memory bounded while a flood of requests meets a stalled pipeline', async () => {
    const consumer = new CollectingConsumer();
    const limit = 4 * 1024 * 1024;
    const { receivers, metrics, httpPort } = await startReceivers(consumer, { memoryLimitBytes: limit });
    try {
      consumer.stall();
      const body = Buffer.from(
        ProtobufTraceSerializer.serializeRequest(await recordAndSend(400, undefined)) as Uint8Array,
      );
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let maxRss = rssBefore;
      const statuses: number[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 400) {
          next++;
          try {
            const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, {
              method: 'POST',
              headers: PROTO,
              body,
              signal: AbortSignal.timeout(1000),
            });
            statuses.push(res.status);
            await res.arrayBuffer();
          } catch {
            statuses.push(0); // held by the stalled pipeline: the client gave up waiting
          }
          maxRss = Math.max(maxRss, process.memoryUsage().rss);
          assert.ok(receivers.ingest.usedBytes() <= limit, 'the budget holds');
        }
      };
      await Promise.all(Array.from({ length: 10 }, worker));
      const refusedCount = statuses.filter((s) => s === 429).length;
      assert.ok(
        refusedCount > 350,
        `most of the flood was refused with 429 (${refusedCount} of ${statuses.length})`,
      );
      assert.ok(
        (await metrics.value('receiver_refused_spans_total', { reason: 'memory_limit' })) >=
          refusedCount * 400,
      );
      const growthMiB = (maxRss - rssBefore) / 1048576;
      const offeredMiB = (400 * body.length) / 1048576;
      assert.ok(
        growthMiB < 100,
        `resident memory grew by ${growthMiB.toFixed(0)} MiB with ${offeredMiB.toFixed(0)} MiB offered`,
      );
    } finally {
      consumer.resume();
      await receivers.stop();
    }
  });
});
