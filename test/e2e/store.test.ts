import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { SpanKind, SpanStatusCode, context, trace, type Link } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { decodeTraceRequestJson } from '../../src/otlp/index.js';
import { flattenTraceData, type StoredSpan } from '../../src/storage/index.js';
import { BLOCK_COLUMNS } from '../../src/storage/block-columns.js';
import { readBlockBytes } from '../../src/storage/block-reader.js';
import { expectedResource, expectedSpan, richAttributes, sdkExporter } from '../helpers/sdk.js';
import { startTestStore } from '../helpers/store-harness.js';

/**
 * Records `count` spans (root + child traces) through a real tracer and sends them with `exporter`, keeping
 * what was exported. Every 10th root carries every attribute type; roots have an event and a link, every
 * 7th child an error. (Leaner than helpers/sdk.ts recordAndSend, so 100,000 spans fit the time budget.)
 */
async function sendThroughSdk(
  count: number,
  target: SpanExporter,
  serviceName: string,
): Promise<ReadableSpan[]> {
  const kept: ReadableSpan[] = [];
  // One export at a time (the exporters cap concurrent exports), keeping the spans of each that succeeded.
  let chain: Promise<void> = Promise.resolve();
  const exporter: SpanExporter = {
    export: (spans, done) => {
      chain = chain.then(
        () =>
          new Promise<void>((resolve) => {
            target.export(spans, (result) => {
              if (result.code === 0) kept.push(...spans);
              done(result);
              resolve();
            });
          }),
      );
    },
    shutdown: () => target.shutdown(),
    forceFlush: () => target.forceFlush?.() ?? Promise.resolve(),
  };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': serviceName,
      'service.version': '1.2.3',
      'host.cores': 2,
    }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        maxExportBatchSize: 1000,
        maxQueueSize: count + 10,
        scheduledDelayMillis: 20,
        exportTimeoutMillis: 60_000,
      }),
    ],
  });
  const tracer = provider.getTracer('sentinel-test', '0.0.1', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
  });
  let previous: Link | undefined;
  for (let made = 0; made < count; made += 2) {
    const root = tracer.startSpan(`GET /items/${made % 5}`, {
      kind: SpanKind.SERVER,
      attributes:
        made % 20 === 0
          ? richAttributes(made)
          : { 'http.request.method': 'GET', 'http.response.status_code': 200 },
      ...(previous ? { links: [previous] } : {}),
    });
    root.addEvent('cache.miss', { 'cache.key': `k${made}` });
    const child = tracer.startSpan(
      'SELECT items',
      { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } },
      trace.setSpan(context.active(), root),
    );
    if ((made / 2) % 7 === 0) child.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock detected' });
    child.end();
    root.setStatus({ code: SpanStatusCode.OK });
    root.end();
    previous = { context: root.spanContext(), attributes: { 'link.reason': 'previous request' } };
    // Let the batch processor and the exporter run while recording.
    if (made % 2000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await provider.forceFlush();
  await provider.shutdown();
  return kept;
}

// The official SDK exporters -> sentinel store -> Parquet blocks -> query API and independent readers.
void describe('end to end: 100,000 spans from the SDK exporters through the store', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  const sent: ReadableSpan[] = [];
  const stored = new Map<string, StoredSpan>();

  before(async () => {
    h = await startTestStore({
      overrides: {
        block: { max_spans: 25_000, max_age: '1h' },
        query: { endpoint: '127.0.0.1:0', refresh_interval: '1h' },
      },
    });
    const ports = { grpcPort: h.store.ports.grpc, httpPort: h.store.ports.http };
    // A third through each official exporter, all three at once (as many agents would).
    const batches = await Promise.all([
      sendThroughSdk(34_000, sdkExporter('grpc', ports), 'checkout'),
      sendThroughSdk(33_000, sdkExporter('proto', ports), 'cart'),
      sendThroughSdk(33_000, sdkExporter('json', ports), 'payment'),
    ]);
    for (const b of batches) sent.push(...b);
    await h.store.pipeline.forceFlush();
    for (const meta of await h.store.catalog.blocks({ fresh: true })) {
      const body = await h.objects.get(meta.parquetKey);
      for (const r of await readBlockBytes(body!, meta.parquetKey)) {
        assert.ok(!stored.has(r.span.spanId), `span ${r.span.spanId} stored twice`);
        stored.set(r.span.spanId, r);
      }
    }
  });
  after(() => h.dispose());

  void test('every span the SDK sent is in a block, with every field equal', () => {
    assert.equal(sent.length, 100_000);
    assert.equal(stored.size, 100_000);
    for (const s of sent) {
      const row = stored.get(s.spanContext().spanId);
      assert.ok(row, `span ${s.spanContext().spanId} missing`);
      assert.deepStrictEqual(row.span, expectedSpan(s));
      assert.deepStrictEqual(row.resource.attributes, expectedResource(s));
      assert.equal(row.scope.name, 'sentinel-test');
      assert.equal(row.scope.version, '0.0.1');
      assert.equal(row.scopeSchemaUrl, 'https://opentelemetry.io/schemas/1.24.0');
    }
  });

  void test('traces come back by id through the query API with every field equal', async () => {
    const byTrace = new Map<string, ReadableSpan[]>();
    for (const s of sent) {
      const id = s.spanContext().traceId;
      byTrace.set(id, [...(byTrace.get(id) ?? []), s]);
    }
    const ids = [...byTrace.keys()];
    // Every 250th trace (200 lookups), through the HTTP API as Grafana would ask.
    for (let i = 0; i < ids.length; i += 250) {
      const id = ids[i]!;
      const res = await h.query(`/api/traces/${id}`);
      assert.equal(res.status, 200);
      const data = decodeTraceRequestJson(
        JSON.stringify({ resourceSpans: (res.body as { batches: unknown }).batches }),
      );
      const rows = flattenTraceData(data);
      const want = byTrace.get(id)!;
      assert.equal(rows.length, want.length);
      for (const s of want) {
        const got = rows.find((r) => r.span.spanId === s.spanContext().spanId);
        assert.deepStrictEqual(got?.span, expectedSpan(s));
        assert.deepStrictEqual(got?.resource.attributes, expectedResource(s));
      }
    }
  });

  void test('an independent reader (hyparquet) reads every block with the documented columns', async () => {
    const files = findParquet(join(h.dir, 'data', 'blocks'));
    assert.ok(files.length > 0);
    const services = new Map<string, number>();
    let errors = 0;
    for (const f of files) {
      const bytes = readFileSync(f);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const names = new Set(parquetMetadata(buffer).schema.map((el) => el.name));
      for (const c of BLOCK_COLUMNS) assert.ok(names.has(c), `${f} has column ${c}`);
      const objects = (await parquetReadObjects({
        file: buffer,
        columns: ['ServiceName', 'StatusCode', 'SpanAttributes'],
        compressors: { GZIP: (input: Uint8Array) => gunzipSync(input) },
      })) as Array<Record<string, unknown>>;
      for (const o of objects) {
        const svc = String(o['ServiceName']);
        services.set(svc, (services.get(svc) ?? 0) + 1);
        if (
          o['StatusCode'] === 'Error' &&
          String(o['SpanAttributes']).includes('"db.system"') &&
          String(o['SpanAttributes']).includes('postgresql')
        )
          errors++;
      }
    }
    assert.deepEqual([...services.entries()].sort(), [
      ['cart', 33_000],
      ['checkout', 34_000],
      ['payment', 33_000],
    ]);
    const expectedErrors = sent.filter((s) => s.status.code === 2).length;
    assert.equal(errors, expectedErrors);
  });
});

function findParquet(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? findParquet(join(dir, e.name)) : e.name.endsWith('.parquet') ? [join(dir, e.name)] : [],
  );
}
