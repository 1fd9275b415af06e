/**
 * OTLP/HTTP requests Node cannot read are answered as Node answers them, and counted: one that does not arrive
 * within the receiver's request timeout (408, reason `timeout`, as the gRPC receiver counts its own), one that is
 * not HTTP a parser can read (400, reason `invalid`). Before, Node answered them itself and nothing counted them.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { encodeTraceRequest } from '../src/otlp/index.js';
import type { OtlpReceivers } from '../src/receiver/index.js';
import type { Metrics } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { NOT_HTTP, rawExchange } from './helpers/raw-http.js';
import { postTraces, startReceivers } from './helpers/receivers.js';
import { makeTraces } from './helpers/store-spans.js';

const TIMEOUT_MS = 400;

/** rawExchange on a new TCP connection to the receiver, timed from the connect to the close. */
async function timedExchange(port: number, bytes: string): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  const text = await rawExchange(() => connect(port, '127.0.0.1'), bytes);
  return { text, ms: Date.now() - started };
}

describe('OTLP/HTTP requests Node cannot read', () => {
  let receivers: OtlpReceivers;
  let metrics: Metrics;
  let port: number;
  const consumer = new CollectingConsumer();

  before(async () => {
    let httpPort: number;
    ({ receivers, metrics, httpPort } = await startReceivers(consumer, { requestTimeoutMs: TIMEOUT_MS }));
    port = httpPort;
  });
  after(() => receivers.stop());

  it('a body that stops arriving is answered 408 at the request timeout, counted, and the receiver goes on', async () => {
    const head = `POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 1000\r\n\r\n`;
    const { text, ms } = await timedExchange(port, `${head}${'x'.repeat(10)}`);
    assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(text, /request timeout \(400 ms\)/);
    // Checked every tenth of the timeout (connectionsCheckingInterval), not every 30 s.
    assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS * 5, `answered after ${ms} ms`);
    assert.equal(
      await metrics.value('receiver_refused_requests_total', { transport: 'http', reason: 'timeout' }),
      1,
    );
    assert.equal(consumer.spanCount(), 0);
    const ok = await postTraces(port, encodeTraceRequest(makeTraces({ traces: 1, spansPerTrace: 2 })), {
      'content-type': 'application/x-protobuf',
    });
    assert.equal(ok.status, 200);
    assert.equal(consumer.spanCount(), 2);
  });

  it('bytes that are not an HTTP request are answered 400, naming the parser error, and counted invalid', async () => {
    const { text } = await timedExchange(port, NOT_HTTP);
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /not an HTTP\/1\.1 request this server can read \(HPE_/);
    assert.equal(
      await metrics.value('receiver_refused_requests_total', { transport: 'http', reason: 'invalid' }),
      1,
    );
  });
});
