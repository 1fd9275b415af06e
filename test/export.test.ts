/**
 * The export stage without the rest of the agent: batching, retry pacing on an injected clock, outcome
 * mapping of the OTLP exporters against real sockets, and the storage exporter.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import {
  Metadata,
  Server as GrpcServer,
  ServerCredentials,
  status as grpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { after, describe, it } from 'node:test';
import { type SpanExporter } from '../src/export/index.js';
import { BatchProcessor, splitBySpans } from '../src/export/batch-processor.js';
import { ExporterConsumer } from '../src/export/exporter-consumer.js';
import { grpcTarget, OtlpGrpcExporter } from '../src/export/otlp-grpc-exporter.js';
import { OtlpHttpExporter } from '../src/export/otlp-http-exporter.js';
import { RetryingExporter } from '../src/export/retrying-exporter.js';
import { SUCCESS, type ExportResult } from '../src/export/span-exporter.js';
import { retryAfterMs } from '../src/export/retry-info.js';
import type { OtlpExporterOptions } from '../src/export/otlp-options.js';
import { StorageExporter } from '../src/export/storage-exporter.js';
import {
  countSpans,
  decodeTraceRequest,
  encodedBatch,
  encodeTraceRequest,
  encodeTraceResponse,
  type TraceBatch,
  type TraceData,
} from '../src/otlp/index.js';
import { encodeRpcStatus } from '../src/receiver/rpc-status.js';
import { traceServiceDefinition } from './helpers/grpc-trace-service.js';
import { readTraceFromBlock, BLOCKS_PREFIX } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { agentConfigSchema, validateConfig } from '../src/config/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeCertificate } from './fixtures/injector/tls.js';
import { fakeDns } from './helpers/fake-dns.js';
import { makeTraces } from './helpers/store-spans.js';
import { ManualClock } from '../src/clock.js';
import { capturingLogger } from './helpers/capturing-logger.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-export-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

function batchOf(traces: number, seed: number, spansPerTrace = 2): TraceBatch {
  const data = makeTraces({ traces, spansPerTrace, seed, startMs: Date.UTC(2026, 0, 1) + seed * 1000 });
  const spanCount = countSpans(data);
  return { data, spanCount, bytes: spanCount * 500 };
}

/** Lets pending promise callbacks and I/O run. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Recorded {
  at: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** An OTLP/HTTP backend on 127.0.0.1 answering with `answer(callIndex)`. */
async function httpBackend(
  answer: (call: number) => { status: number; headers?: Record<string, string>; body?: string | Buffer },
  clock?: ManualClock,
): Promise<{ url: string; calls: Recorded[] }> {
  const calls: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ at: clock?.now() ?? Date.now(), headers: req.headers, body: Buffer.concat(chunks) });
      const a = answer(calls.length - 1);
      res.writeHead(a.status, a.headers ?? {}).end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

function otlpOptions(endpoint: string, extra: Partial<OtlpExporterOptions> = {}): OtlpExporterOptions {
  return {
    name: 'otlp/test',
    endpoint,
    compression: 'none',
    headers: {},
    bearerTokenFile: '',
    timeoutMs: 5000,
    tls: { caFile: '', insecureSkipVerify: false },
    ...extra,
  };
}

/** A batch processor whose batches are collected in `sent` (defaults: 1,000 spans, no max, 1 s). */
function collectingBatcher(opts: Partial<ConstructorParameters<typeof BatchProcessor>[0]> = {}): {
  bp: BatchProcessor;
  sent: TraceBatch[];
} {
  const sent: TraceBatch[] = [];
  const bp = new BatchProcessor({
    sendBatchSize: 1000,
    sendBatchMaxSize: 0,
    timeoutMs: 1000,
    clock: new ManualClock(),
    send: async (b) => void sent.push(b),
    ...opts,
  });
  return { bp, sent };
}

describe('BatchProcessor', () => {
  it('sends a batch once send_batch_size spans are pending, and not before', async () => {
    const clock = new ManualClock();
    const { bp, sent } = collectingBatcher({ sendBatchSize: 100, clock });
    await bp.add(batchOf(20, 1)); // 40 spans
    assert.equal(sent.length, 0);
    assert.equal(bp.pendingBytes(), 40 * 500);
    await bp.add(batchOf(30, 2)); // 100 spans
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.spanCount, 100);
    assert.equal(countSpans(sent[0]!.data), 100);
    assert.equal(bp.pendingBytes(), 0);
  });

  it('sends whatever arrived when the timeout passes, measured from the first span', async () => {
    const clock = new ManualClock();
    const { bp, sent } = collectingBatcher({ clock });
    await bp.add(batchOf(5, 3));
    clock.advance(600);
    await bp.add(batchOf(5, 4));
    clock.advance(399);
    await settle();
    assert.equal(sent.length, 0, 'not before the timeout');
    clock.advance(1);
    await settle();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.spanCount, 20);
  });

  it('splits what is pending into batches of at most send_batch_max_size spans, losing none', async () => {
    const { bp, sent } = collectingBatcher({ sendBatchSize: 50, sendBatchMaxSize: 30 });
    const input = batchOf(50, 5); // 100 spans in one request
    await bp.add(input);
    assert.deepEqual(
      sent.map((b) => b.spanCount),
      [30, 30, 30, 10],
    );
    for (const b of sent) assert.equal(countSpans(b.data), b.spanCount);
    const ids = sent.flatMap((b) =>
      b.data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId))),
    );
    const want = input.data.resourceSpans.flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId)),
    );
    assert.deepEqual(ids.sort(), want.sort());
    assert.equal(
      sent.reduce((n, b) => n + b.bytes, 0) >= input.bytes,
      true,
      'the memory estimate is shared out, not lost',
    );
  });

  it('appends encoded requests as they come: the batch is their bytes one after another', async () => {
    const { bp, sent } = collectingBatcher();
    const parts = [1, 2, 3, 4].map((seed) => encodeTraceRequest(batchOf(5 * seed, seed).data));
    for (const p of parts) await bp.add(encodedBatch(p, countSpans(decodeTraceRequest(p))));
    // A part handed in is copied at once: changing it afterwards changes nothing sent.
    parts[0]!.fill(0);
    await bp.flush();
    assert.equal(sent.length, 1);
    const want = Buffer.concat(parts.map((p, i) => (i === 0 ? encodeTraceRequest(batchOf(5, 1).data) : p)));
    assert.deepEqual(Buffer.from(sent[0]!.encoded!), want);
    assert.equal(sent[0]!.spanCount, 100);
  });

  it('a small encoded batch after a large one leaves as bytes of its own, not in the large buffer', async () => {
    const { bp, sent } = collectingBatcher({ sendBatchSize: 100_000 });
    const large = encodeTraceRequest(batchOf(2000, 7).data);
    await bp.add(encodedBatch(large, 4000));
    await bp.flush();
    const small = encodeTraceRequest(batchOf(2, 8).data);
    await bp.add(encodedBatch(small, 4));
    await bp.flush();
    const [a, b] = sent.map((x) => x.encoded!);
    assert.deepEqual(Buffer.from(a!), Buffer.from(large));
    assert.deepEqual(Buffer.from(b!), Buffer.from(small));
    assert.ok(
      b!.buffer.byteLength < (2 * large.length) / 10,
      `${b!.buffer.byteLength} bytes behind a small batch`,
    );
  });

  it('keeps the order of encoded and decoded batches mixed', async () => {
    const { bp, sent } = collectingBatcher();
    const inputs = [batchOf(2, 9), batchOf(3, 10), batchOf(4, 11)];
    await bp.add(encodedBatch(encodeTraceRequest(inputs[0]!.data), 4));
    await bp.add(inputs[1]!);
    await bp.add(encodedBatch(encodeTraceRequest(inputs[2]!.data), 8));
    await bp.flush();
    const ids = (d: TraceData) =>
      d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((x) => x.spanId)));
    assert.deepEqual(
      ids(sent[0]!.data),
      inputs.flatMap((i) => ids(i.data)),
    );
  });

  it('keeps every span under its own resource and scope when splitting', () => {
    const data = batchOf(10, 6, 3).data;
    for (const part of splitBySpans(data, 7)) {
      for (const rs of part.data.resourceSpans) {
        const original = data.resourceSpans.find((o) => o.resource === rs.resource);
        assert.ok(original, 'the resource is the original one');
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            assert.ok(original.scopeSpans.some((o) => o.scope === ss.scope && o.spans.includes(s)));
      }
    }
  });
});

class ScriptedExporter implements SpanExporter {
  readonly name = 'scripted';
  calls = 0;
  constructor(private readonly script: (call: number) => ExportResult) {}
  async export(): Promise<ExportResult> {
    return this.script(this.calls++);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

describe('RetryingExporter', () => {
  it('backs off exponentially with jitter inside [interval/2, 3*interval/2], capped at max_interval', () => {
    let r = 0;
    const values = [0, 0.999999];
    const retrying = new RetryingExporter(new ScriptedExporter(() => SUCCESS), {
      initialIntervalMs: 1000,
      maxIntervalMs: 5000,
      random: () => values[r++ % 2]!,
    });
    const waits = Array.from({ length: 12 }, (_, i) => retrying.backoffMs(Math.floor(i / 2)));
    for (let i = 0; i < waits.length; i += 2) {
      const interval = Math.min(5000, 1000 * 1.5 ** (i / 2));
      assert.ok(Math.abs(waits[i]! - interval / 2) < 1e-6);
      assert.ok(Math.abs(waits[i + 1]! - (interval * 3) / 2) < 1e-2);
    }
  });

  it('retries only retryable outcomes: a permanent failure is returned after one call', async () => {
    const metrics = new Metrics();
    const inner = new ScriptedExporter(() => ({ kind: 'failure', error: new Error('bad data') }));
    const retrying = new RetryingExporter(inner, { clock: new ManualClock(), metrics });
    const result = await retrying.export({ resourceSpans: [] }, 1);
    assert.equal(result.kind, 'failure');
    assert.equal(inner.calls, 1);
    assert.equal(await metrics.value('exporter_retries_total'), 0);
  });

  it('gives up with a failure once max_elapsed_time would be passed, counting the retries', async () => {
    const metrics = new Metrics();
    const clock = new ManualClock();
    const inner = new ScriptedExporter(() => ({ kind: 'retryable', error: new Error('down') }));
    const retrying = new RetryingExporter(inner, {
      clock,
      metrics,
      initialIntervalMs: 1000,
      maxIntervalMs: 1000,
      maxElapsedTimeMs: 10_000,
      randomizationFactor: 0,
    });
    const pending = retrying.export({ resourceSpans: [] }, 1);
    for (let i = 0; i < 20; i++) {
      await settle();
      clock.advance(1000);
    }
    const result = await pending;
    assert.equal(result.kind, 'failure');
    assert.equal(result.kind === 'failure' && result.retriesExhausted, true);
    assert.equal(inner.calls, 11, 'calls at 0, 1, ..., 10 s');
    assert.equal(await metrics.value('exporter_retries_total', { exporter: 'scripted' }), 10);
  });

  it('does not call a backend that answered 429 with Retry-After: 2 again before 2 s have passed', async () => {
    const clock = new ManualClock();
    const backend = await httpBackend(
      (call) => (call === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 }),
      clock,
    );
    const retrying = new RetryingExporter(new OtlpHttpExporter(otlpOptions(backend.url)), {
      clock,
      // The backoff alone would retry after 100 ms: the server's 2 s must win.
      initialIntervalMs: 100,
      randomizationFactor: 0,
    });
    cleanups.push(() => retrying.shutdown());
    const pending = retrying.export(batchOf(3, 7).data, 6);
    await until(() => clock.pendingSleeps === 1, 'the retry wait');
    assert.equal(backend.calls.length, 1);
    clock.advance(1999);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(backend.calls.length, 1, 'not called again at 1.999 s');
    clock.advance(1);
    assert.deepEqual(await pending, SUCCESS);
    assert.equal(backend.calls.length, 2);
    assert.ok(backend.calls[1]!.at - backend.calls[0]!.at >= 2000);
  });

  it('reads Retry-After as delay-seconds or an HTTP-date', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(
      retryAfterMs('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
      5000,
    );
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs(undefined), undefined);
  });
});

describe('OTLP/HTTP exporter', () => {
  it('posts gzip protobuf with the configured headers and the bearer token, re-read when its file changes', async () => {
    const backend = await httpBackend(() => ({ status: 200 }));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first-token\n');
    const exporter = new OtlpHttpExporter(
      otlpOptions(backend.url, {
        compression: 'gzip',
        headers: { 'X-Tenant': 'shop' },
        bearerTokenFile: tokenFile,
      }),
    );
    cleanups.push(() => exporter.shutdown());
    const data = batchOf(4, 8).data;
    assert.deepEqual(await exporter.export(data), SUCCESS);
    const first = backend.calls[0]!;
    assert.equal(first.headers['content-type'], 'application/x-protobuf');
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal(first.headers['x-tenant'], 'shop');
    assert.equal(first.headers['authorization'], 'Bearer first-token');
    assert.equal(countSpans(decodeTraceRequest(gunzipSync(first.body))), 8);
    // The gzip header's XFL byte (RFC 1952): 4 = the fastest compression (session 13: level 1, the CPU is the pod's).
    assert.equal(first.body[8], 4);

    writeFileSync(tokenFile, 'rotated-token-with-another-length\n');
    await exporter.export(data);
    assert.equal(backend.calls[1]!.headers['authorization'], 'Bearer rotated-token-with-another-length');
  });

  it('maps 429, 502, 503, 504 and refused connections to retryable, 400 and other statuses to permanent', async () => {
    const statuses = [429, 502, 503, 504, 400, 401, 404, 500];
    const backend = await httpBackend((call) => ({ status: statuses[call]!, body: 'because' }));
    const exporter = new OtlpHttpExporter(otlpOptions(backend.url));
    cleanups.push(() => exporter.shutdown());
    const kinds: string[] = [];
    for (let i = 0; i < statuses.length; i++) kinds.push((await exporter.export(batchOf(1, 9).data)).kind);
    assert.deepEqual(kinds, [
      'retryable',
      'retryable',
      'retryable',
      'retryable',
      'failure',
      'failure',
      'failure',
      'failure',
    ]);
    const closed = new OtlpHttpExporter(otlpOptions('http://127.0.0.1:1'));
    assert.equal((await closed.export(batchOf(1, 9).data)).kind, 'retryable');
    await closed.shutdown();
  });
});

describe('OTLP/gRPC exporter', () => {
  it('reads its target, the host for TLS (SNI) and whether to use TLS from the endpoint', () => {
    assert.deepEqual(grpcTarget('https://sentinel-store.sentinel.svc.cluster.local.:4317'), {
      target: 'sentinel-store.sentinel.svc.cluster.local.:4317',
      host: 'sentinel-store.sentinel.svc.cluster.local.',
      secure: true,
    });
    assert.deepEqual(grpcTarget('http://collector:4317/'), {
      target: 'collector:4317',
      host: 'collector',
      secure: false,
    });
    assert.deepEqual(grpcTarget('[::1]:4317'), { target: '[::1]:4317', host: '[::1]', secure: false });
  });

  async function grpcBackend(
    answer: (call: number) => { code: number; metadata?: Metadata } | null,
  ): Promise<{ endpoint: string; bodies: Buffer[] }> {
    const bodies: Buffer[] = [];
    const server = new GrpcServer();
    server.addService(traceServiceDefinition, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        bodies.push(call.request);
        const a = answer(bodies.length - 1);
        if (!a) cb(null, Buffer.alloc(0));
        else cb({ code: a.code, details: 'scripted', metadata: a.metadata ?? new Metadata() });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    cleanups.push(() => void server.forceShutdown());
    return { endpoint: `http://127.0.0.1:${port}`, bodies };
  }

  it('delivers the request and maps codes: RESOURCE_EXHAUSTED with RetryInfo is retryable after its delay, INVALID_ARGUMENT permanent', async () => {
    const withRetryInfo = new Metadata();
    withRetryInfo.set('grpc-status-details-bin', encodeRpcStatus(8, 'slow down', 3));
    const pushback = new Metadata();
    pushback.set('grpc-retry-pushback-ms', '1500');
    const answers = [
      null,
      { code: grpcStatus.RESOURCE_EXHAUSTED, metadata: withRetryInfo },
      { code: grpcStatus.RESOURCE_EXHAUSTED },
      { code: grpcStatus.UNAVAILABLE },
      { code: grpcStatus.UNAVAILABLE, metadata: pushback },
      { code: grpcStatus.DEADLINE_EXCEEDED },
      { code: grpcStatus.ABORTED },
      { code: grpcStatus.INVALID_ARGUMENT },
    ];
    const backend = await grpcBackend((call) => answers[call]!);
    const exporter = new OtlpGrpcExporter(otlpOptions(backend.endpoint, { compression: 'gzip' }));
    cleanups.push(() => exporter.shutdown());
    const data = batchOf(3, 10).data;
    const results: ExportResult[] = [];
    for (let i = 0; i < answers.length; i++) results.push(await exporter.export(data));
    assert.equal(countSpans(decodeTraceRequest(backend.bodies[0]!)), 6);
    assert.deepEqual(
      results.map((r) => r.kind),
      ['success', 'retryable', 'failure', 'retryable', 'retryable', 'retryable', 'retryable', 'failure'],
    );
    const r1 = results[1]!;
    assert.equal(r1.kind === 'retryable' ? r1.after : undefined, 3000);
    const r3 = results[3]!;
    assert.equal(r3.kind === 'retryable' ? r3.after : 'not retryable', undefined);
    const r4 = results[4]!;
    assert.equal(r4.kind === 'retryable' ? r4.after : undefined, 1500);
  });
});

describe('ExporterConsumer', () => {
  it('drops a batch the backend rejects with HTTP 400, counts its spans and logs the reason', async () => {
    const backend = await httpBackend(() => ({ status: 400, body: 'span 3: trace_id must be 16 bytes' }));
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const stage = new ExporterConsumer(new OtlpHttpExporter(otlpOptions(backend.url)), metrics, logger, {
      batch: { sendBatchSize: 10, timeoutMs: 0 },
      clock: new ManualClock(),
    });
    cleanups.push(() => stage.shutdown());
    await stage.consume(batchOf(5, 11));
    await until(
      () => lines.some((l) => l['msg'] === 'dropped a batch the exporter rejected'),
      'the log line',
    );
    assert.equal(backend.calls.length, 1, 'a permanent rejection is not retried');
    assert.equal(
      await metrics.value('exporter_failed_spans_total', { exporter: 'otlp/test', reason: 'permanent' }),
      10,
    );
    assert.equal(await metrics.value('exporter_sent_spans_total'), 0);
    const line = lines.find((l) => l['msg'] === 'dropped a batch the exporter rejected')!;
    assert.match(String(line['err']), /HTTP 400 .*trace_id must be 16 bytes/);
    assert.equal(line['spans'], 10);
  });

  it('counts the spans a backend rejects inside an accepted request (partial success) as failed, the rest as sent', async () => {
    const partial = encodeTraceResponse({ rejectedSpans: 3, errorMessage: '3 spans have an empty name' });
    const backend = await httpBackend(() => ({
      status: 200,
      headers: { 'content-type': 'application/x-protobuf' },
      body: partial,
    }));
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const stage = new ExporterConsumer(new OtlpHttpExporter(otlpOptions(backend.url)), metrics, logger, {
      batch: { sendBatchSize: 10, timeoutMs: 0 },
      clock: new ManualClock(),
    });
    cleanups.push(() => stage.shutdown());
    await stage.consume(batchOf(5, 12));
    await until(() => lines.some((l) => /partial success/.test(String(l['msg']))), 'the log line');
    assert.equal(await metrics.value('exporter_sent_spans_total', { exporter: 'otlp/test' }), 7);
    assert.equal(
      await metrics.value('exporter_failed_spans_total', { exporter: 'otlp/test', reason: 'rejected' }),
      3,
    );
    assert.match(String(lines.find((l) => /partial success/.test(String(l['msg'])))!['err']), /empty name/);
  });

  it('fails to start with a clear error when queue.dir cannot be created', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const stage = new ExporterConsumer(new ScriptedExporter(() => SUCCESS), new Metrics(), silentLogger(), {
      queue: { dir: join(blocker, 'queue') },
    });
    await assert.rejects(stage.start(), {
      code: 'SENTINEL_ERR_CONFIG_INVALID',
      message: /exporter scripted: queue\.dir .*a-file\/queue cannot be used/,
    });
  });

  it('refuses with SENTINEL_ERR_QUEUE_FULL once the queue is at max_bytes, and takes spans again once it drains', async () => {
    let open = false;
    const inner = new ScriptedExporter(() =>
      open ? SUCCESS : { kind: 'retryable', error: new Error('backend down') },
    );
    const clock = new ManualClock();
    const stage = new ExporterConsumer(inner, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1, timeoutMs: 0 },
      queue: { maxBytes: 3 * 2 * 500, numConsumers: 1 },
      retry: { initialIntervalMs: 1000, randomizationFactor: 0, maxElapsedTimeMs: 0 },
      clock,
    });
    cleanups.push(() => stage.shutdown());
    for (let i = 0; i < 3; i++) await stage.consume(batchOf(1, 20 + i));
    await assert.rejects(stage.consume(batchOf(1, 30)), { code: 'SENTINEL_ERR_QUEUE_FULL' });
    assert.equal(stage.bufferedBytes(), 3 * 1000, 'a memory queue counts against the memory budget');
    open = true;
    await until(() => clock.pendingSleeps > 0, 'the retry wait');
    clock.advance(1000);
    await until(() => stage.queuedBatches() === 0 && stage.bufferedBytes() === 0, 'the drain');
    await stage.consume(batchOf(1, 31));
  });

  it('an exporter that throws keeps its batch queued and is tried again after 1 s of the injected clock', async () => {
    const inner = new ScriptedExporter((call) => {
      if (call === 0) throw new Error('a bug in the exporter');
      return SUCCESS;
    });
    const clock = new ManualClock();
    const stage = new ExporterConsumer(inner, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1, timeoutMs: 0 },
      queue: { numConsumers: 1 },
      clock,
    });
    cleanups.push(() => stage.shutdown());
    await stage.consume(batchOf(1, 40));
    await until(() => inner.calls === 1 && clock.pendingSleeps === 1, 'the pause after the throw');
    clock.advance(999);
    await settle();
    assert.equal(inner.calls, 1, 'not tried again before 1 s has passed on the clock');
    clock.advance(1);
    await until(() => inner.calls === 2 && stage.queuedBatches() === 0, 'the second try');
  });

  it('retries a retryable outcome until the backend comes back, delivering every span once', async () => {
    const seen: TraceData[] = [];
    let up = false;
    const inner: SpanExporter = {
      name: 'flaky',
      async export(data) {
        if (!up) return { kind: 'retryable', error: new Error('down') };
        seen.push(data);
        return SUCCESS;
      },
      async forceFlush() {},
      async shutdown() {},
    };
    const metrics = new Metrics();
    const clock = new ManualClock();
    const stage = new ExporterConsumer(inner, metrics, silentLogger(), {
      batch: { sendBatchSize: 4, timeoutMs: 1000 },
      retry: { initialIntervalMs: 1000, maxIntervalMs: 30_000 },
      clock,
    });
    cleanups.push(() => stage.shutdown());
    for (let i = 0; i < 10; i++) await stage.consume(batchOf(1, 40 + i));
    // 60 s of outage on the injected clock.
    for (let t = 0; t < 60; t++) {
      await settle();
      clock.advance(1000);
    }
    up = true;
    for (let t = 0; t < 60 && (await metrics.value('exporter_sent_spans_total')) < 20; t++) {
      await settle();
      clock.advance(1000);
    }
    assert.equal(await metrics.value('exporter_sent_spans_total', { exporter: 'flaky' }), 20);
    assert.equal(
      seen.reduce((n, d) => n + countSpans(d), 0),
      20,
    );
    assert.ok((await metrics.value('exporter_retries_total', { exporter: 'flaky' })) > 0);
  });
});

describe('exporters config', () => {
  it('refuses two exporters with the same name, which would share metrics and a queue directory', () => {
    assert.throws(
      () =>
        validateConfig(
          agentConfigSchema(),
          {
            exporters: [
              { type: 'otlp', name: 'store', endpoint: 'http://a:4317' },
              { type: 'otlp', name: 'store', endpoint: 'http://b:4317' },
            ],
          },
          'test',
        ),
      { code: 'SENTINEL_ERR_CONFIG_INVALID', message: /exporters\.1\.name: .*"store" twice/ },
    );
    const ok = validateConfig(
      agentConfigSchema(),
      { exporters: [{ type: 'debug' }, { type: 'debug' }] },
      'test',
    );
    assert.equal(ok.exporters.length, 2);
  });
});

describe('StorageExporter', () => {
  it('answers retryable when an upload fails, leaving no Parquet object without its meta', async () => {
    const root = join(dir, 'failing-meta');
    const local = new LocalObjectStore(root, `file://${root}`);
    let failMeta = true;
    const flaky = Object.assign(Object.create(local) as LocalObjectStore, {
      put: async (key: string, body: Uint8Array) => {
        if (failMeta && key.endsWith('.json')) throw new Error('connection reset');
        return local.put(key, body);
      },
    });
    const exporter = new StorageExporter(flaky, 'storage/flaky');
    const data = batchOf(2, 51).data;
    const result = await exporter.export(data);
    assert.equal(result.kind, 'retryable');
    assert.deepEqual(await local.list(BLOCKS_PREFIX), [], 'the orphan Parquet object was deleted');
    failMeta = false;
    assert.deepEqual(await exporter.export(data), SUCCESS);
    assert.equal((await local.list(BLOCKS_PREFIX)).length, 2);
  });

  it('writes each batch as a block that reads back whole', async () => {
    const store = new LocalObjectStore(join(dir, 'blocks'), `file://${join(dir, 'blocks')}`);
    const exporter = new StorageExporter(store, 'storage/0');
    const batch = batchOf(3, 50, 4);
    assert.deepEqual(await exporter.export(batch.data), SUCCESS);
    const keys = (await store.list(BLOCKS_PREFIX)).map((o) => o.key);
    assert.equal(keys.filter((k) => k.endsWith('.parquet')).length, 1);
    const traceId = batch.data.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
    const metaKey = keys.find((k) => k.endsWith('.json'))!;
    const meta = JSON.parse(Buffer.from((await store.get(metaKey))!).toString('utf8')) as never;
    const rows = await readTraceFromBlock(store, meta, traceId);
    assert.equal(rows.length, 4);
  });

  it("encodes an encoded batch (the agent's byte path) into a block on the worker thread", async () => {
    const store = new LocalObjectStore(join(dir, 'blocks-wire'), `file://${join(dir, 'blocks-wire')}`);
    const exporter = new StorageExporter(store, 'storage/wire', silentLogger());
    cleanups.push(() => exporter.shutdown());
    const batch = batchOf(3, 52, 4);
    assert.deepEqual(await exporter.exportEncoded(encodeTraceRequest(batch.data), 12), SUCCESS);
    const keys = (await store.list(BLOCKS_PREFIX)).map((o) => o.key);
    const metaKey = keys.find((k) => k.endsWith('.json'))!;
    const meta = JSON.parse(Buffer.from((await store.get(metaKey))!).toString('utf8')) as { spans: number };
    const traceId = batch.data.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
    assert.equal((await readTraceFromBlock(store, meta as never, traceId)).length, 4);
  });
});

describe('OTLP exporters over TLS', () => {
  it('trust a server whose certificate is in tls.ca_file, over HTTP and gRPC, and not without it', async () => {
    const cert = makeCertificate('sentinel-store');
    cleanups.push(() => rmSync(cert.dir, { recursive: true, force: true }));
    const https = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => https.close(() => r())));
    const httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
    const tls = { caFile: cert.certFile, insecureSkipVerify: false };
    const data = batchOf(2, 60).data;

    const trusted = new OtlpHttpExporter(otlpOptions(httpsUrl, { tls }));
    const untrusted = new OtlpHttpExporter(otlpOptions(httpsUrl));
    cleanups.push(() => trusted.shutdown());
    cleanups.push(() => untrusted.shutdown());
    assert.deepEqual(await trusted.export(data), SUCCESS);
    assert.notEqual((await untrusted.export(data)).kind, 'success');

    const server = new GrpcServer();
    server.addService(traceServiceDefinition, {
      Export: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) =>
        cb(null, Buffer.alloc(0)),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        ServerCredentials.createSsl(null, [{ cert_chain: cert.cert, private_key: cert.key }]),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    cleanups.push(() => void server.forceShutdown());
    const grpcTrusted = new OtlpGrpcExporter(otlpOptions(`https://127.0.0.1:${port}`, { tls }));
    const grpcUntrusted = new OtlpGrpcExporter(otlpOptions(`https://127.0.0.1:${port}`, { timeoutMs: 2000 }));
    cleanups.push(() => grpcTrusted.shutdown());
    cleanups.push(() => grpcUntrusted.shutdown());
    assert.deepEqual(await grpcTrusted.export(data), SUCCESS);
    assert.notEqual((await grpcUntrusted.export(data)).kind, 'success');
  });

  it('reach an absolute name (the chart’s, with a trailing dot): DNS is asked the name with the dot, SNI and the certificate check use it without', async () => {
    const dns = fakeDns({ 'localhost.': '127.0.0.1' });
    cleanups.push(() => dns.restore());
    // The certificate names localhost (no dot), as a store's names its Service.
    const cert = makeCertificate('localhost');
    cleanups.push(() => rmSync(cert.dir, { recursive: true, force: true }));
    const tls = { caFile: cert.certFile, insecureSkipVerify: false };
    const data = batchOf(2, 61).data;

    // Each server records the SNI of every TLS connection it accepts.
    const names: Array<string | false | null> = [];
    const listen = async (server: TlsServer): Promise<number> => {
      server.on('secureConnection', (socket: TLSSocket) => names.push(socket.servername));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      return (server.address() as AddressInfo).port;
    };
    const exportsThrough = async (exporter: OtlpHttpExporter | OtlpGrpcExporter, what: string) => {
      cleanups.push(() => exporter.shutdown());
      names.length = 0;
      const asked = dns.asked.length;
      assert.deepEqual(await exporter.export(data), SUCCESS, what);
      assert.deepEqual(names, ['localhost'], `${what}: SNI without the dot`);
      assert.ok(dns.asked.length > asked, `${what}: DNS asked for localhost.`);
    };

    const https = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    const httpsPort = await listen(https);
    await exportsThrough(
      new OtlpHttpExporter(otlpOptions(`https://localhost.:${httpsPort}`, { tls })),
      'HTTP',
    );

    // gRPC: a plaintext server behind a TLS front.
    const server = new GrpcServer();
    server.addService(traceServiceDefinition, {
      Export: (_call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) =>
        cb(null, Buffer.alloc(0)),
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    cleanups.push(() => void server.forceShutdown());
    const front = createTlsServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ['h2'] }, (socket) => {
      const backend = connectTcp(grpcPort, '127.0.0.1');
      socket.pipe(backend).pipe(socket);
      socket.on('error', () => backend.destroy());
      backend.on('error', () => socket.destroy());
    });
    const frontPort = await listen(front);
    await exportsThrough(
      new OtlpGrpcExporter(otlpOptions(`https://localhost.:${frontPort}`, { tls })),
      'gRPC',
    );
  });
});
