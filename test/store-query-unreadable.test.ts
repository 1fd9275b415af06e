/**
 * Requests Node cannot read, on the store's query API (session 13; the OTLP/HTTP receiver since session 12,
 * test/receiver-http-client-errors.test.ts; the injector's webhook in test/injector.test.ts): answered as Node
 * answers them (400 for bytes that are not HTTP/1.1, 431 for headers too large) and counted, which Node's own
 * answer was not. The server goes on serving.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { answerUnreadableRequests } from '../src/http/index.js';
import { NOT_HTTP, rawExchange } from './helpers/raw-http.js';
import { startTestStore } from './helpers/store-harness.js';

const HUGE_HEADER = `GET /ready HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`;

describe("the store's query API", () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  before(async () => {
    h = await startTestStore();
  });
  after(() => h.dispose());

  it('answers bytes that are not HTTP with 400, headers too large with 431, counts both, and serves on', async () => {
    const port = h.store.ports.query;
    const bad = await rawExchange(() => connectTcp(port, '127.0.0.1'), NOT_HTTP);
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(bad, /not an HTTP\/1\.1 request this server can read \(HPE_/);
    const big = await rawExchange(() => connectTcp(port, '127.0.0.1'), HUGE_HEADER);
    assert.match(big, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.equal(
      await h.metrics.value('store_query_requests_total', { route: 'unreadable', status: '400' }),
      1,
    );
    assert.equal(
      await h.metrics.value('store_query_requests_total', { route: 'unreadable', status: '431' }),
      1,
    );
    assert.equal((await h.query('/ready')).status, 200);
  });
});

describe('answerUnreadableRequests', () => {
  /** A server with Node's two timeouts whose clientError listener is the one under test. */
  const serverWith = (
    headersTimeout: number,
    requestTimeout: number,
    what: string,
    count: (...a: unknown[]) => void,
  ): EventEmitter => {
    const server = Object.assign(new EventEmitter(), { headersTimeout, requestTimeout });
    answerUnreadableRequests(server as unknown as Server, what, count);
    return server;
  };

  /** A socket that has written nothing yet, and what is written to it. */
  const socket = () => {
    const written: Buffer[] = [];
    const d = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk);
        cb();
      },
    });
    return { d: Object.assign(d, { bytesWritten: 0 }), text: () => Buffer.concat(written).toString('utf8') };
  };

  it("names both of Node's timeouts when they differ (Node raises one error for either), and counts a 408", () => {
    const s = socket();
    const counted: unknown[] = [];
    const err = Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    serverWith(10_000, 30_000, 'webhook', (...a) => counted.push(a)).emit('clientError', err, s.d);
    assert.match(s.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(s.text(), /the webhook's request timeout \(headers 10000 ms, whole request 30000 ms\)/);
    assert.deepEqual(counted, [['timeout', 408]]);
  });

  it('lets go of a connection that failed otherwise (a reset), uncounted', () => {
    const s = socket();
    let counted = 0;
    const err = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    serverWith(1, 1, 'x', () => counted++).emit('clientError', err, s.d);
    assert.equal(s.d.destroyed, true);
    assert.equal(s.text(), '');
    assert.equal(counted, 0);
  });
});
