/**
 * The request primitive of the agent's HTTP clients (src/http/client-request.ts): the deadline, an answer over
 * the limit truncated or refused, network errors, against real servers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import {
  HttpRequestError,
  KeepAliveAgents,
  sendRequest,
  type HttpRequestFailure,
} from '../src/http/client-request.js';
import { makeCertificate } from './fixtures/injector/tls.js';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Served {
  readonly url: URL;
  /** Request bodies and their content-length headers, in order. */
  readonly requests: Array<{ body: Buffer; contentLength: string | undefined }>;
  /** Connections accepted so far. */
  connections: number;
}

/** A plain HTTP server on port 0 that reads each request whole and hands it to `answer`. */
async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      served.requests.push({ body: Buffer.concat(chunks), contentLength: req.headers['content-length'] });
      answer(req, res);
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    served.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const served: Served = {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/path`),
    requests: [],
    connections: 0,
  };
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return served;
}

function agents(options: ConstructorParameters<typeof KeepAliveAgents>[0] = { rejectUnauthorized: true }) {
  const a = new KeepAliveAgents(options);
  cleanups.push(() => a.destroy());
  return a;
}

/** The reason a request failed with (it must fail with an HttpRequestError). */
async function failure(p: Promise<unknown>): Promise<{ reason: HttpRequestFailure; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HttpRequestError, `an HttpRequestError, got ${String(err)}`);
    return { reason: err.reason, message: err.message };
  }
  assert.fail('the request succeeded');
}

const send = { method: 'POST', headers: {}, timeoutMs: 5000, maxResponseBytes: 1024 } as const;

void describe('sendRequest (src/http, issue 17)', () => {
  void test('sends the body with its content-length and reads an answer of many chunks whole', async () => {
    const s = await serve((_req, res) => {
      res.write('a'.repeat(300));
      setImmediate(() => res.end('b'.repeat(300)));
    });
    const res = await sendRequest(s.url, {
      ...send,
      agents: agents(),
      headers: { 'x-tenant': 'shop' },
      body: Buffer.from('hello'),
      overLimit: 'refuse',
    });
    assert.equal(res.status, 200);
    assert.equal(res.truncated, false);
    assert.equal(res.body.toString(), 'a'.repeat(300) + 'b'.repeat(300));
    assert.deepEqual(s.requests, [{ body: Buffer.from('hello'), contentLength: '5' }]);
  });

  void test('an answer over the limit is truncated to its first bytes and the connection is kept alive', async () => {
    const s = await serve((_req, res) => {
      res.write(Buffer.alloc(1000, 'x'));
      setImmediate(() => res.end(Buffer.alloc(1000, 'y')));
    });
    const a = agents();
    for (let i = 0; i < 2; i++) {
      const res = await sendRequest(s.url, { ...send, agents: a, overLimit: 'truncate' });
      assert.equal(res.truncated, true);
      assert.equal(res.body.length, 1024);
      assert.equal(res.body.toString(), 'x'.repeat(1000) + 'y'.repeat(24));
    }
    assert.equal(s.connections, 1, 'the rest was read away, so the second request reused the connection');
  });

  void test('an answer over the limit is refused as too_large when told to, and its connection closed', async () => {
    const s = await serve((_req, res) => res.end(Buffer.alloc(2000, 'x')));
    const a = agents();
    const refused = await failure(sendRequest(s.url, { ...send, agents: a, overLimit: 'refuse' }));
    assert.deepEqual(refused, { reason: 'too_large', message: `POST ${s.url.href}: answer too large` });
    // An answer of exactly the limit is not over it.
    const exact = await serve((_req, res) => res.end(Buffer.alloc(1024, 'x')));
    const res = await sendRequest(exact.url, { ...send, agents: a, overLimit: 'refuse' });
    assert.equal(res.body.length, 1024);
    assert.equal(res.truncated, false);
    await failure(sendRequest(s.url, { ...send, agents: a, overLimit: 'refuse' }));
    assert.equal(s.connections, 2, 'a refused answer does not leave its connection for the next request');
  });

  void test('a server that does not answer within timeoutMs fails the request with reason timeout', async () => {
    const s = await serve(() => {});
    const started = Date.now();
    const silent = await failure(
      sendRequest(s.url, { ...send, agents: agents(), timeoutMs: 100, overLimit: 'truncate' }),
    );
    assert.deepEqual(silent, { reason: 'timeout', message: `POST ${s.url.href}: no answer in 100 ms` });
    assert.ok(Date.now() - started < 5000);
  });

  void test('a server that stops mid-answer fails the request with reason timeout too', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('abc');
    });
    const stalled = await failure(
      sendRequest(s.url, { ...send, agents: agents(), timeoutMs: 100, overLimit: 'truncate' }),
    );
    assert.equal(stalled.reason, 'timeout');
  });

  void test('a refused connection fails with reason network, naming the method and URL', async () => {
    const url = new URL('http://127.0.0.1:1/x');
    const refused = await failure(
      sendRequest(url, { ...send, method: 'GET', agents: agents(), overLimit: 'refuse' }),
    );
    assert.equal(refused.reason, 'network');
    assert.match(refused.message, /^GET http:\/\/127\.0\.0\.1:1\/x: .*ECONNREFUSED/);
  });

  void test('over https: the CA of the agents verifies the server, and the request or the agents name it for SNI', async () => {
    const cert = makeCertificate('localhost');
    cleanups.push(() => rmSync(cert.dir, { recursive: true, force: true }));
    const names: Array<string | false | null> = [];
    const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.on('secureConnection', (socket: TLSSocket) => names.push(socket.servername));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`);

    const trusting = agents({ ca: cert.cert, rejectUnauthorized: true });
    const res = await sendRequest(url, {
      ...send,
      agents: trusting,
      overLimit: 'refuse',
      servername: 'localhost',
    });
    assert.equal(res.body.toString(), 'ok');
    // The agents' own name wins over a request's (the exporter's: one host for all its requests).
    const named = agents({ ca: cert.cert, rejectUnauthorized: true, servername: 'localhost' });
    await sendRequest(url, { ...send, agents: named, overLimit: 'refuse', servername: 'other.example' });
    assert.deepEqual(names, ['localhost', 'localhost']);

    const untrusting = agents();
    assert.equal(
      (await failure(sendRequest(url, { ...send, agents: untrusting, overLimit: 'refuse' }))).reason,
      'network',
    );
  });
});
