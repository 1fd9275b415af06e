import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { encodeTraceRequest } from '../../src/otlp/index.js';
import { flattenTraceData, parseBlockKey } from '../../src/storage/index.js';
import { readBlockBytes } from '../../src/storage/block-reader.js';
import { TestS3 } from '../helpers/s3rver.js';
import { startTestStore } from '../helpers/store-harness.js';
import { makeTraces } from '../helpers/store-spans.js';

const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 30_000);
const s3 = new TestS3('outage');
after(() => s3.dispose());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

void test('S3 stopped for 30 s under load: no acknowledged span is lost, uploads resume, the retry metric shows it', async () => {
  await s3.start();
  const objects = s3.objectStore('traces');
  const h = await startTestStore({
    objectStore: objects,
    overrides: {
      block: { max_age: '500ms' },
      // Short backoff so uploads resume within a second of S3 coming back.
      upload_retry: { initial_interval: '100ms', max_interval: '1s' },
    },
  });
  const acked = new Set<string>();
  let refused = 0;
  let seed = 1;
  let stop = false;
  // One agent sending a 100-span batch every 50 ms for the whole test.
  const sender = (async () => {
    while (!stop) {
      const data = makeTraces({ traces: 10, spansPerTrace: 10, seed: seed++ });
      const res = await fetch(`http://127.0.0.1:${h.store.ports.http}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: encodeTraceRequest(data),
      });
      await res.arrayBuffer();
      if (res.status === 200) for (const r of flattenTraceData(data)) acked.add(r.span.spanId);
      else refused++;
      await sleep(50);
    }
  })();
  try {
    // Load for a while, until blocks are being uploaded (the first one also starts the encoder thread).
    await sleep(1000);
    for (let i = 0; i < 400 && (await h.metrics.value('store_blocks_written_total')) === 0; i++)
      await sleep(50);
    assert.ok(
      (await h.metrics.value('store_blocks_written_total')) > 0,
      'blocks were uploaded before the outage',
    );
    await s3.stop();
    await sleep(OUTAGE_MS);
    const retries = await h.metrics.value('store_upload_retries_total');
    assert.ok(retries > 0, 'uploads were retried during the outage');
    assert.ok(h.store.pipeline.pendingSpans() > 0, 'the WAL held the spans during the outage');
    const ackedDuringOutage = acked.size;
    await s3.start();
    await sleep(2000);
    stop = true;
    await sender;
    assert.ok(acked.size > ackedDuringOutage, 'spans kept being acknowledged after S3 came back');
    await h.store.pipeline.forceFlush();
    assert.equal(h.store.pipeline.pendingSpans(), 0);

    // Everything acknowledged is in S3, read back through the S3 API.
    const stored = new Set<string>();
    for (const o of await objects.list('blocks/')) {
      if (parseBlockKey(o.key)?.kind !== 'parquet') continue;
      for (const r of await readBlockBytes((await objects.get(o.key))!, o.key)) stored.add(r.span.spanId);
    }
    const missing = [...acked].filter((id) => !stored.has(id));
    assert.equal(missing.length, 0, `${missing.length} of ${acked.size} acknowledged spans missing`);
    assert.ok(acked.size > (OUTAGE_MS >= 30_000 ? 10_000 : 100), `spans acknowledged: ${acked.size}`);
    assert.equal(refused, 0);
  } finally {
    stop = true;
    await sender.catch(() => {});
    await h.dispose();
    objects.destroy();
  }
});
