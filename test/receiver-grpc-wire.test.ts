/**
 * The OTLP/gRPC receiver speaks gRPC's wire protocol on node:http2 itself (issue 13, session 9): what grpc-js's
 * server did for it is checked here against grpc-js's own client, and against raw HTTP/2 for what a well-behaved
 * client never sends.
 */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { Client, credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { encodeTraceRequest, EXPORT_METHODS, TRACE_EXPORT_METHOD } from '../src/otlp/index.js';
import { grpcTimeoutMs, percentEncode } from '../src/receiver/grpc-receiver.js';
import { FileTls, type OtlpReceivers } from '../src/receiver/index.js';
import type { Metrics } from '../src/telemetry/index.js';
import { makeCertificate } from './fixtures/injector/tls.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { makeTraces } from './helpers/store-spans.js';
import { grpcExport, startReceivers } from './helpers/receivers.js';

const valid = encodeTraceRequest(makeTraces({ traces: 2, spansPerTrace: 3 }));

/** One gRPC frame: flag, 4-byte length, message. */
function frame(message: Uint8Array, flag = 0, declared = message.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(declared, 1);
  return Buffer.concat([head, message]);
}

/** A raw OTLP/gRPC trace Export call on `session`, with `headers` beside the ones every call carries. */
function exportCall(session: ClientHttp2Session, headers: Record<string, string>) {
  return session.request({
    ':method': 'POST',
    ':path': TRACE_EXPORT_METHOD,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
}

/** A raw HTTP/2 request: what came back in headers and trailers (a Trailers-Only answer has only headers). */
async function raw(
  port: number,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; data: Buffer }> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const req = exportCall(session, headers);
      let head: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => (head = h));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('close', () => resolve({ headers: head, trailers, data: Buffer.concat(chunks) }));
      req.on('error', reject);
      req.end(body);
    });
  } finally {
    session.close();
  }
}

const statusOf = (r: { headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders }) =>
  Number(r.trailers['grpc-status'] ?? r.headers['grpc-status']);

describe('OTLP/gRPC on node:http2', () => {
  let receivers: OtlpReceivers;
  let metrics: Metrics;
  let port: number;
  const consumer = new CollectingConsumer();
  const refused = (reason: string) =>
    metrics.value('receiver_refused_requests_total', { transport: 'grpc', reason });

  before(async () => {
    let grpcPort: number;
    ({ receivers, metrics, grpcPort } = await startReceivers(consumer, { maxRequestBytes: 64 * 1024 }));
    port = grpcPort;
  });
  after(() => receivers.stop());

  it('answers a raw call as gRPC does: headers, one framed response, grpc-status 0 in trailers', async () => {
    const r = await raw(port, {}, frame(valid));
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.data[0], 0);
    assert.equal(r.data.readUInt32BE(1), r.data.length - 5);
  });

  it('takes deflate as well as gzip (grpc-js client, per-message compression)', async () => {
    const before = consumer.spanCount();
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
      'grpc.default_compression_algorithm': 1,
    });
    const error = await new Promise<ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        TRACE_EXPORT_METHOD,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(valid),
        new Metadata(),
        (e) => {
          client.close();
          resolve(e);
        },
      ),
    );
    assert.equal(error, null);
    assert.equal(consumer.spanCount() - before, 6);
    const r = await raw(port, { 'grpc-encoding': 'deflate' }, frame(deflateSync(valid), 1));
    assert.equal(statusOf(r), 0);
  });

  it('refuses a message flagged compressed without grpc-encoding, and an unknown grpc-encoding', async () => {
    const none = await raw(port, {}, frame(deflateSync(valid), 1));
    assert.equal(statusOf(none), grpcStatus.INVALID_ARGUMENT);
    assert.match(decodeURIComponent(String(none.headers['grpc-message'])), /without grpc-encoding/);
    const snappy = await raw(port, { 'grpc-encoding': 'snappy' }, frame(valid, 1));
    assert.equal(statusOf(snappy), grpcStatus.UNIMPLEMENTED);
    assert.equal(snappy.headers['grpc-accept-encoding'], 'identity,deflate,gzip');
    assert.match(String(snappy.headers['grpc-message']), /snappy.*expected identity,deflate,gzip/);
    assert.ok((await refused('unsupported_media_type')) >= 1);
  });

  it('refuses a truncated message, a second message and a bad flag with INVALID_ARGUMENT, counted', async () => {
    const counted = await refused('decode_error');
    const truncated = await raw(port, {}, frame(valid, 0, valid.length + 10));
    assert.equal(statusOf(truncated), grpcStatus.INVALID_ARGUMENT);
    assert.match(
      decodeURIComponent(String(truncated.headers['grpc-message'])),
      /ended inside its gRPC message/,
    );
    const empty = await raw(port, {}, undefined);
    assert.equal(statusOf(empty), grpcStatus.INVALID_ARGUMENT);
    const two = await raw(port, {}, Buffer.concat([frame(valid), frame(valid)]));
    assert.equal(statusOf(two), grpcStatus.INVALID_ARGUMENT);
    assert.match(decodeURIComponent(String(two.headers['grpc-message'])), /one gRPC message/);
    const flag = await raw(port, {}, frame(valid, 7));
    assert.equal(statusOf(flag), grpcStatus.INVALID_ARGUMENT);
    assert.equal((await refused('decode_error')) - counted, 4);
    assert.equal((await grpcExport(port, valid)).error, null, 'still serving');
  });

  it('refuses a message whose declared length is over the limit before reading it, and keeps serving', async () => {
    const r = await raw(port, {}, frame(Buffer.alloc(1000), 0, 10 * 1024 * 1024));
    assert.equal(statusOf(r), grpcStatus.RESOURCE_EXHAUSTED);
    assert.match(decodeURIComponent(String(r.headers['grpc-message'])), /max_request_bytes/);
    assert.equal((await grpcExport(port, valid)).error, null);
  });

  it('answers an unknown method with UNIMPLEMENTED and a request that is not gRPC with HTTP 415', async () => {
    const unknown = await raw(port, { ':path': '/foo.Bar/Baz' }, frame(valid));
    assert.equal(statusOf(unknown), grpcStatus.UNIMPLEMENTED);
    assert.match(String(unknown.headers['grpc-message']), /unknown method \/foo.Bar\/Baz/);
    // Logs are not taken by this pipeline (no consumeLogs): not served either.
    const logs = await raw(port, { ':path': EXPORT_METHODS.logs }, frame(valid));
    assert.equal(statusOf(logs), grpcStatus.UNIMPLEMENTED);
    const json = await raw(port, { 'content-type': 'application/json' }, Buffer.from('{}'));
    assert.equal(json.headers[':status'], 415);
  });

  it('survives a client that resets its stream mid-message', async () => {
    const session = connect(`http://127.0.0.1:${port}`);
    const req = session.request({
      ':method': 'POST',
      ':path': TRACE_EXPORT_METHOD,
      'content-type': 'application/grpc',
    });
    req.on('error', () => undefined);
    req.write(frame(valid).subarray(0, 20));
    await new Promise((r) => setTimeout(r, 20));
    req.close(h2.NGHTTP2_CANCEL);
    await new Promise((r) => setTimeout(r, 20));
    session.destroy();
    assert.equal((await grpcExport(port, valid)).error, null);
  });

  it('percent-encodes grpc-message as the gRPC protocol says, and grpc-js decodes it back', async () => {
    assert.equal(percentEncode('plain ascii: ok'), 'plain ascii: ok');
    assert.equal(percentEncode('100% é\n'), '100%25 %C3%A9%0A');
    const message = 'token für "ünïcode" 100%\nrefused';
    const { receivers: r, grpcPort } = await startReceivers(new CollectingConsumer(), {
      authorize: () => ({ ok: false, status: 401, code: 'SENTINEL_ERR_UNAUTHENTICATED', message }),
    });
    try {
      const g = await grpcExport(grpcPort, valid);
      assert.equal(g.error?.code, grpcStatus.UNAUTHENTICATED);
      assert.equal(g.error?.details, message);
    } finally {
      await r.stop();
    }
  });

  it('lets a call in flight finish when stopped, and refuses connections after', async () => {
    const slow = new CollectingConsumer();
    slow.stall();
    const { receivers: r, grpcPort } = await startReceivers(slow);
    const call = grpcExport(grpcPort, valid);
    while (slow.bufferedBytes() === 0) await new Promise((res) => setTimeout(res, 5));
    const stopped = r.stop();
    setTimeout(() => slow.resume(), 50);
    assert.equal((await call).error, null);
    await stopped;
    const late = await grpcExport(grpcPort, valid);
    assert.equal(late.error?.code, grpcStatus.UNAVAILABLE);
  });
});

describe('OTLP/gRPC over TLS with client certificates', () => {
  const server = makeCertificate('sentinel-store');
  const next = makeCertificate('sentinel-store-rotated');
  const client = makeCertificate('agent');
  const dir = server.dir;
  let receivers: OtlpReceivers;
  let port: number;
  let tls: FileTls;

  before(async () => {
    tls = new FileTls({
      certFile: server.certFile,
      keyFile: server.keyFile,
      clientCaFile: client.certFile,
      pollIntervalMs: 20,
    });
    let grpcPort: number;
    ({ receivers, grpcPort } = await startReceivers(new CollectingConsumer(), { tls }));
    port = grpcPort;
  });
  after(async () => {
    await receivers.stop();
    tls.close();
    for (const d of [dir, next.dir, client.dir]) rmSync(d, { recursive: true, force: true });
  });

  const call = (ca: Buffer, withClientCert: boolean) => {
    const c = new Client(
      `127.0.0.1:${port}`,
      credentials.createSsl(ca, withClientCert ? client.key : null, withClientCert ? client.cert : null),
    );
    return new Promise<ServiceError | null>((resolve) => {
      const md = new Metadata();
      c.makeUnaryRequest(
        TRACE_EXPORT_METHOD,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(valid),
        md,
        { deadline: Date.now() + 5000 },
        (e) => {
          c.close();
          resolve(e);
        },
      );
    });
  };

  it('serves a client with a certificate from the client CA, and refuses one without at the handshake', async () => {
    assert.equal(await call(server.cert, true), null);
    assert.equal((await call(server.cert, false))?.code, grpcStatus.UNAVAILABLE);
  });

  it('serves a rotated certificate to new connections without a restart', async () => {
    copyFileSync(next.keyFile, server.keyFile);
    writeFileSync(server.certFile, next.cert);
    const deadline = Date.now() + 5000;
    let error: ServiceError | null = await call(next.cert, true);
    while (error && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      error = await call(next.cert, true);
    }
    assert.equal(error, null, 'the rotated certificate is served');
  });
});

describe('OTLP/gRPC: a call whose message does not arrive', () => {
  const TIMEOUT_MS = 400;
  let receivers: OtlpReceivers;
  let metrics: Metrics;
  let port: number;
  const consumer = new CollectingConsumer();

  before(async () => {
    let grpcPort: number;
    ({ receivers, metrics, grpcPort } = await startReceivers(consumer, { requestTimeoutMs: TIMEOUT_MS }));
    port = grpcPort;
  });
  after(() => receivers.stop());

  /** Sends `bytes` on a call and never ends it; resolves with what came back once the server closed the stream. */
  function stall(session: ClientHttp2Session, bytes: Buffer, headers: Record<string, string> = {}) {
    return new Promise<{ headers: IncomingHttpHeaders; ms: number }>((resolve, reject) => {
      const started = Date.now();
      const req = exportCall(session, headers);
      let head: IncomingHttpHeaders = {};
      req.on('response', (h) => (head = h));
      req.on('error', reject);
      req.on('close', () => resolve({ headers: head, ms: Date.now() - started }));
      req.resume();
      req.write(bytes);
    });
  }

  it('answers DEADLINE_EXCEEDED after the request timeout, counted as timeout, and lets its bytes go', async () => {
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const r = await stall(session, frame(valid, 0).subarray(0, 15));
      assert.equal(Number(r.headers['grpc-status']), grpcStatus.DEADLINE_EXCEEDED);
      assert.ok(r.ms >= TIMEOUT_MS - 50, `answered after ${r.ms} ms`);
      assert.equal(
        decodeURIComponent(String(r.headers['grpc-message'])),
        `the request's message did not arrive within the receiver's request timeout (${TIMEOUT_MS} ms): 15 of ${valid.length} bytes came`,
      );
      assert.equal(
        await metrics.value('receiver_refused_requests_total', { transport: 'grpc', reason: 'timeout' }),
        1,
      );
      // The connection goes on serving.
      const ok = await grpcExport(port, valid);
      assert.equal(ok.error, null);
    } finally {
      session.close();
    }
  });

  it("answers at the call's own deadline (grpc-timeout) when it is the sooner", async () => {
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const r = await stall(session, frame(valid, 0).subarray(0, 3), { 'grpc-timeout': '100m' });
      assert.equal(Number(r.headers['grpc-status']), grpcStatus.DEADLINE_EXCEEDED);
      assert.ok(r.ms < TIMEOUT_MS, `answered after ${r.ms} ms, before the receiver's own ${TIMEOUT_MS} ms`);
      assert.match(
        decodeURIComponent(String(r.headers['grpc-message'])),
        /within the call's deadline \(grpc-timeout 100 ms\): 3 of an unknown number of bytes came/,
      );
    } finally {
      session.close();
    }
  });

  it('holds the bytes that came, not the length a prefix declares (40 calls declaring 4 MiB each)', async () => {
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(4 * 1024 * 1024 - 1, 1);
      const before = process.memoryUsage().arrayBuffers;
      const calls = Array.from({ length: 40 }, () => stall(session, head));
      await new Promise((r) => setTimeout(r, TIMEOUT_MS / 2));
      const held = process.memoryUsage().arrayBuffers - before;
      // Allocated at the declared length, 40 calls held 160 MiB until they timed out.
      assert.ok(held < 16 * 1024 * 1024, `${(held / 1048576).toFixed(1)} MiB held by 40 stalled calls`);
      for (const r of await Promise.all(calls))
        assert.equal(Number(r.headers['grpc-status']), grpcStatus.DEADLINE_EXCEEDED);
    } finally {
      session.close();
    }
  });

  it('reads grpc-timeout as gRPC writes it: up to 8 digits and one of H M S m u n', () => {
    assert.equal(grpcTimeoutMs('2H'), 7_200_000);
    assert.equal(grpcTimeoutMs('1M'), 60_000);
    assert.equal(grpcTimeoutMs('5S'), 5000);
    assert.equal(grpcTimeoutMs('250m'), 250);
    assert.equal(grpcTimeoutMs('1500u'), 1.5);
    assert.equal(grpcTimeoutMs('99999999n'), 99.999999);
    for (const bad of [undefined, '', '100', '123456789S', '1s', '-1S', '1.5S'])
      assert.equal(grpcTimeoutMs(bad), undefined);
  });
});
