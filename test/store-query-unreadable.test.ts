/**
 * Requests Node cannot read, on the store's query API (session 13; the OTLP/HTTP receiver since session 12,
 * test/receiver-http-client-errors.test.ts; the injector's webhook in test/injector.test.ts): answered as Node
 * answers them (400 for bytes that are not HTTP/1.1, 431 for headers too large) and counted, which Node's own
 * answer was not. The server goes on serving.
 */
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
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
