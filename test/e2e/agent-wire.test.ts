/**
 * Issue 13: spans cross the agent as the bytes they came in. An agent with every trace kept and a capturing
 * exporter that takes encoded requests (as the OTLP exporters do): what leaves is compared with what entered,
 * byte for byte.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from '../helpers/agent-config.js';
import { type SpanExporter } from '../../src/export/index.js';
import { SUCCESS, type ExportResult } from '../../src/export/span-exporter.js';
import {
  decodeTraceRequest,
  encodeAttribute,
  encodeTraceRequest,
  scanTraceRequest,
  stringAttribute,
  type TraceData,
} from '../../src/otlp/index.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { grpcExport, postTraces } from '../helpers/receivers.js';
import { recordAndSend } from '../helpers/sdk.js';
import { makeTraces } from '../helpers/store-spans.js';
import { lenField, UNKNOWN_FIELD as UNKNOWN } from '../helpers/wire.js';

/** Keeps the encoded requests it is given; never decodes. */
class EncodedCapture implements SpanExporter {
  readonly name = 'capture';
  readonly requests: Buffer[] = [];
  decoded = 0;
  private waiters: Array<() => void> = [];
  async export(_data: TraceData): Promise<ExportResult> {
    this.decoded++;
    return SUCCESS;
  }
  async exportEncoded(request: Uint8Array): Promise<ExportResult> {
    this.requests.push(Buffer.from(request));
    for (const w of this.waiters.splice(0)) w();
    return SUCCESS;
  }
  async next(): Promise<Buffer> {
    const have = this.requests.length;
    while (this.requests.length === have) await new Promise<void>((r) => this.waiters.push(r));
    return this.requests[this.requests.length - 1] as Buffer;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** What the agent appends to every span it keeps with no policy file: `sampling.weight` = 1. */
const WEIGHT_ONE = encodeAttribute('sampling.weight', { kind: 'double', value: 1 });

void describe('the agent keeps spans as wire bytes (issue 13)', () => {
  let agent: RunningAgent;
  const capture = new EncodedCapture();

  before(async () => {
    const config = testAgentConfig({
      enrich: { cluster_name: 'test-cluster' },
      exporters: [{ type: 'debug', batch: { timeout: '10ms' } }],
    });
    agent = await startAgent(config, {
      logger: silentLogger(),
      metrics: new Metrics(),
      exporters: [capture],
      env: { POD_NAME: 'checkout-7d9f8b-x2x4q', POD_NAMESPACE: 'shop', NODE_NAME: 'node-1' },
    });
  });
  after(() => agent.shutdown());

  test('a span that enters as protobuf leaves byte for byte as it came, plus sampling.weight', async () => {
    const data = makeTraces({ traces: 4, spansPerTrace: 3, seed: 21, exotic: true });
    // An incoming sampling.weight is replaced (tested in test/sampling.test.ts); here every byte must stay.
    for (const rs of data.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const s of ss.spans) s.attributes = s.attributes.filter((a) => a.key !== 'sampling.weight');
    const request = encodeTraceRequest(data);
    const sent = scanTraceRequest(request).spans;
    const { error } = await grpcExport(agent.ports.grpc, request);
    assert.equal(error, null);
    const out = scanTraceRequest(await capture.next()).spans;
    assert.equal(out.count, sent.count);
    const leaving = new Map<string, Buffer>();
    for (let i = 0; i < out.count; i++) leaving.set(out.span(i).toString('hex'), out.span(i));
    for (let i = 0; i < sent.count; i++) {
      const expected = Buffer.concat([sent.span(i), WEIGHT_ONE]);
      assert.ok(leaving.has(expected.toString('hex')), `span ${i}: its bytes, then the weight`);
    }
    // The resource is the app's bytes with the pod's attributes after them.
    const inRes = Buffer.from(sent.scope(0).resource.resource);
    const outRes = Array.from({ length: out.count }, (_, i) => out.scope(i).resource).find((r) =>
      Buffer.from(r.resource).subarray(0, inRes.length).equals(inRes),
    );
    assert.ok(outRes, 'the app resource bytes come first, as they were');
    // The app's own keys win (it set k8s.pod.name itself); the pod's other attributes are added after them.
    const appKeys = new Set(sent.scope(0).resource.attributes.map((kv) => kv.key));
    assert.equal(
      stringAttribute(outRes.attributes, 'k8s.pod.name'),
      stringAttribute(sent.scope(0).resource.attributes, 'k8s.pod.name'),
    );
    const added = outRes.attributes.slice(sent.scope(0).resource.attributes.length);
    assert.ok(
      added.every((kv) => !appKeys.has(kv.key)),
      'only keys the app did not set',
    );
    assert.equal(stringAttribute(added, 'k8s.cluster.name'), 'test-cluster');
    assert.equal(capture.decoded, 0, 'nothing on the way decoded the request');
  });

  test('an unknown field in a Span, a Resource and the request survives to the exporter', async () => {
    const plain = scanTraceRequest(
      encodeTraceRequest(makeTraces({ traces: 1, spansPerTrace: 1, seed: 5 })),
    ).spans;
    const span = Buffer.concat([plain.span(0), UNKNOWN]);
    const resource = Buffer.concat([Buffer.from(plain.scope(0).resource.resource), UNKNOWN]);
    const scopeSpans = Buffer.concat([Buffer.from(plain.scope(0).header), lenField(2, span)]);
    const resourceSpans = Buffer.concat([lenField(1, resource), lenField(2, scopeSpans), UNKNOWN]);
    const request = Buffer.concat([lenField(1, resourceSpans), UNKNOWN]);

    const { error } = await grpcExport(agent.ports.grpc, request);
    assert.equal(error, null);
    const outBytes = await capture.next();
    const out = scanTraceRequest(outBytes).spans;
    assert.ok(out.span(0).equals(Buffer.concat([span, WEIGHT_ONE])), 'the span, unknown field and all');
    assert.ok(Buffer.from(out.scope(0).resource.resource).subarray(0, resource.length).equals(resource));
    assert.ok(Buffer.from(out.scope(0).resource.extra).equals(UNKNOWN), "the ResourceSpans' unknown field");
    assert.ok(outBytes.subarray(outBytes.length - UNKNOWN.length).equals(UNKNOWN), "the request's");
    // And the model still reads it.
    assert.equal(decodeTraceRequest(outBytes).resourceSpans[0]?.scopeSpans[0]?.spans.length, 1);
  });

  test('OTLP/JSON input leaves as the same protobuf the SDK protobuf serializer writes', async () => {
    const recorded = await recordAndSend(30, undefined);
    const json = Buffer.from(JsonTraceSerializer.serializeRequest(recorded) as Uint8Array);
    const proto = scanTraceRequest(
      Buffer.from(ProtobufTraceSerializer.serializeRequest(recorded) as Uint8Array),
    );
    const res = await postTraces(agent.ports.http, json, { 'content-type': 'application/json' });
    assert.equal(res.status, 200);
    const out = scanTraceRequest(await capture.next()).spans;
    assert.equal(out.count, proto.spans.count);
    const leaving = new Set<string>();
    for (let i = 0; i < out.count; i++) leaving.add(out.span(i).toString('hex'));
    for (let i = 0; i < proto.spans.count; i++) {
      const expected = Buffer.concat([proto.spans.span(i), WEIGHT_ONE]);
      assert.ok(leaving.has(expected.toString('hex')), `span ${i} as the SDK's protobuf, plus the weight`);
    }
    assert.ok(Buffer.from(out.scope(0).header).equals(Buffer.from(proto.spans.scope(0).header)), 'scope');
  });
});
