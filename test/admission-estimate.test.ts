/**
 * Issue 18 part 4: admission prices a request by what decoding will build, not 10 bytes per wire byte. The
 * pre-scan counts exactly what the decoder builds; a 4 MB request of 130k id-only spans is priced above the agent's
 * 64 MiB budget (the old estimate said 39 MB, and six such requests took 873 MB) and refused for good, while the
 * same bytes of typical spans are taken.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeTraceRequest,
  encodeTraceRequest,
  encodeTraceRequestJson,
  type AnyValue,
  type KeyValue,
} from '../src/otlp/index.js';
import {
  estimateJsonRequest,
  estimateProtobufRequest,
  scanTraceRequest,
} from '../src/receiver/admission-estimate.js';
import { MODEL_BYTES_PER_WIRE_BYTE } from '../src/receiver/ingest.js';
import { shapes } from '../bench/_admission-shapes.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { postTraces, startReceivers } from './helpers/receivers.js';
import { makeTraces } from './helpers/store-spans.js';

const MIB = 1024 * 1024;
const PROTO = { 'content-type': 'application/x-protobuf' };

function countValues(v: AnyValue): { attributes: number; values: number } {
  if (v.kind === 'array') {
    return v.value.reduce(
      (n, e) => {
        const c = countValues(e);
        return { attributes: n.attributes + c.attributes, values: n.values + c.values };
      },
      { attributes: 0, values: 1 },
    );
  }
  if (v.kind === 'kvlist') {
    const c = countKvs(v.value);
    return { attributes: c.attributes, values: c.values + 1 };
  }
  return { attributes: 0, values: 1 };
}
function countKvs(kvs: readonly KeyValue[]): { attributes: number; values: number } {
  let attributes = kvs.length;
  let values = 0;
  for (const kv of kvs) {
    const c = countValues(kv.value);
    attributes += c.attributes;
    values += c.values;
  }
  return { attributes, values };
}

describe('admission estimate', () => {
  it('the pre-scan counts what the decoder builds, at every level', () => {
    const body = encodeTraceRequest(makeTraces({ traces: 20, spansPerTrace: 4, exotic: true }));
    const model = decodeTraceRequest(body);
    let spans = 0;
    let events = 0;
    let links = 0;
    let kv = { attributes: 0, values: 0 };
    const add = (c: { attributes: number; values: number }) =>
      (kv = { attributes: kv.attributes + c.attributes, values: kv.values + c.values });
    for (const rs of model.resourceSpans) {
      add(countKvs(rs.resource.attributes));
      for (const ss of rs.scopeSpans) {
        add(countKvs(ss.scope.attributes));
        for (const s of ss.spans) {
          spans++;
          add(countKvs(s.attributes));
          for (const e of s.events) {
            events++;
            add(countKvs(e.attributes));
          }
          for (const l of s.links) {
            links++;
            add(countKvs(l.attributes));
          }
        }
      }
    }
    const shape = scanTraceRequest(body)!;
    assert.equal(shape.spans, spans);
    assert.equal(shape.events, events);
    assert.equal(shape.links, links);
    assert.ok(events > 0 && links > 0);
    assert.equal(shape.attributes, kv.attributes);
    assert.equal(shape.values, kv.values);
    assert.equal(scanTraceRequest(body.subarray(0, body.length - 3)), undefined, 'a truncated body');
  });

  it('prices 130k id-only spans in 4 MB above the agent budget, typical spans of the same size below it', () => {
    const [ids] = shapes(3.9e6, ['id-only']);
    const [typical] = shapes(3.9e6, ['typical']);
    const idSpans = scanTraceRequest(ids!.body)!.spans;
    assert.ok(idSpans > 125_000, `${idSpans} spans`);
    assert.ok(ids!.body.length * MODEL_BYTES_PER_WIRE_BYTE < 64 * MIB, 'the old estimate took it');
    assert.ok(estimateProtobufRequest(ids!.body) > 64 * MIB);
    assert.ok(estimateProtobufRequest(typical!.body) < 64 * MIB);
    const json = Buffer.from(encodeTraceRequestJson(ids!.data));
    assert.ok(estimateJsonRequest(json) > 64 * MIB);
  });

  it('the agent budget refuses the id-only request for good and takes the typical one', async () => {
    const consumer = new CollectingConsumer();
    const { receivers, httpPort } = await startReceivers(consumer, { memoryLimitBytes: 64 * MIB });
    try {
      const [ids, typical] = shapes(3.9e6, ['id-only', 'typical']);
      const refused = await postTraces(httpPort, ids!.body, PROTO);
      assert.equal(refused.status, 413);
      assert.equal(consumer.spanCount(), 0);
      assert.equal((await postTraces(httpPort, typical!.body, PROTO)).status, 200);
    } finally {
      await receivers.stop();
    }
  });
});
