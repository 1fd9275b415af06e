/**
 * The exporter queue in `queue.dir`: records survive a restart, a partly written or corrupt file is
 * skipped (logged, counted, never a crash), and a full queue makes the receivers refuse.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FanOutConsumer, type SpanExporter } from '../src/export/index.js';
import { decodeRecord, encodeRecord } from '../src/export/queue-record.js';
import { ExporterConsumer } from '../src/export/exporter-consumer.js';
import { ExportQueue } from '../src/export/export-queue.js';
import { InMemoryExporter } from '../src/export/memory-exporter.js';
import { SUCCESS, type ExportResult } from '../src/export/span-exporter.js';
import { countSpans, encodeTraceRequest, type TraceBatch, type TraceData } from '../src/otlp/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeTraces } from './helpers/store-spans.js';
import { startReceivers } from './helpers/receivers.js';
import { ManualClock } from '../src/clock.js';
import { capturingLogger } from './helpers/capturing-logger.js';

const root = mkdtempSync(join(tmpdir(), 'sentinel-export-queue-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

let seed = 1;
function batch(traces = 2): TraceBatch {
  const data = makeTraces({
    traces,
    spansPerTrace: 2,
    seed: seed++,
    startMs: Date.UTC(2026, 0, 1) + seed * 1000,
  });
  const spanCount = countSpans(data);
  return { data, spanCount, bytes: spanCount * 500 };
}

function spanIds(data: readonly TraceData[]): string[] {
  return data
    .flatMap((d) =>
      d.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId))),
    )
    .sort();
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An exporter that is down until `up` is set. */
class SwitchableExporter implements SpanExporter {
  readonly name = 'backend';
  up = false;
  readonly delivered: TraceData[] = [];
  async export(data: TraceData): Promise<ExportResult> {
    if (!this.up) return { kind: 'retryable', error: new Error('backend down') };
    this.delivered.push(data);
    return SUCCESS;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

describe('queue records', () => {
  it('round-trip, and a flipped bit or a short file is named, not decoded', () => {
    const payload = encodeTraceRequest(batch().data);
    const file = Buffer.concat(encodeRecord(payload, 4, 2000));
    const ok = decodeRecord(file);
    assert.ok(typeof ok !== 'string');
    assert.equal(ok.header.spanCount, 4);
    assert.equal(ok.header.modelBytes, 2000);
    assert.deepEqual(Buffer.from(ok.payload), Buffer.from(payload));
    const flipped = Buffer.from(file);
    flipped[flipped.length - 3]! ^= 0x10;
    assert.equal(decodeRecord(flipped), 'checksum mismatch');
    assert.match(String(decodeRecord(file.subarray(0, file.length - 5))), /length/);
    assert.equal(decodeRecord(Buffer.from('not a record at all, really')), 'bad magic');
  });
});

describe('persistent export queue', () => {
  it('keeps batches on disk while the backend is down and sends them after a restart with the same queue.dir', async () => {
    const dir = join(root, 'restart');
    const sent: TraceBatch[] = [];
    const down = new SwitchableExporter();
    const first = new ExporterConsumer(down, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 4, timeoutMs: 0 },
      queue: { dir, maxBytes: 64 * 1024 * 1024, numConsumers: 2 },
      retry: { initialIntervalMs: 1000, maxElapsedTimeMs: 0 },
      clock: new ManualClock(),
      drainTimeoutMs: 50,
    });
    await first.start();
    for (let i = 0; i < 5; i++) {
      const b = batch();
      sent.push(b);
      await first.consume(b);
    }
    assert.equal(readdirSync(join(dir, 'backend')).filter((f) => f.endsWith('.batch')).length, 5);
    assert.equal(
      first.bufferedBytes() <= 2 * 4 * 500,
      true,
      'disk-held batches are not memory (only those being sent)',
    );
    await first.shutdown(); // the batches stay on disk

    const up = new SwitchableExporter();
    up.up = true;
    const metrics = new Metrics();
    const second = new ExporterConsumer(up, metrics, silentLogger(), {
      batch: { sendBatchSize: 4, timeoutMs: 0 },
      queue: { dir, maxBytes: 64 * 1024 * 1024, numConsumers: 2 },
      clock: new ManualClock(),
    });
    cleanups.push(() => second.shutdown());
    await second.start();
    await until(() => up.delivered.length === 5, 'the replay');
    assert.deepEqual(spanIds(up.delivered), spanIds(sent.map((b) => b.data)));
    await until(() => readdirSync(join(dir, 'backend')).length === 0, 'the files to be deleted');
    assert.equal(await metrics.value('exporter_sent_spans_total', { exporter: 'backend' }), 20);
  });

  it('skips a truncated file, a file with a flipped bit and a never-committed temp file, with a log line and a count, and delivers the rest', async () => {
    const dir = join(root, 'corrupt');
    const down = new SwitchableExporter();
    const first = new ExporterConsumer(down, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1, timeoutMs: 0 },
      queue: { dir, maxBytes: 64 * 1024 * 1024, numConsumers: 1 },
      retry: { maxElapsedTimeMs: 0 },
      clock: new ManualClock(),
      drainTimeoutMs: 50,
    });
    const sent: TraceBatch[] = [];
    for (let i = 0; i < 4; i++) {
      const b = batch();
      sent.push(b);
      await first.consume(b);
    }
    await first.shutdown();
    const qdir = join(dir, 'backend');
    const files = readdirSync(qdir).sort();
    assert.equal(files.length, 4);
    // 1: cut short as if the machine died mid-write; 2: one bit flipped; plus a leftover temp file.
    const f1 = join(qdir, files[1]!);
    truncateSync(f1, readFileSync(f1).length - 7);
    const f2 = join(qdir, files[2]!);
    const bytes = readFileSync(f2);
    bytes[bytes.length - 10]! ^= 0x01;
    writeFileSync(f2, bytes);
    writeFileSync(join(qdir, '0000000000000099.tmp'), 'half a record');

    const up = new SwitchableExporter();
    up.up = true;
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const second = new ExporterConsumer(up, metrics, logger, {
      queue: { dir, maxBytes: 64 * 1024 * 1024, numConsumers: 1 },
      clock: new ManualClock(),
    });
    cleanups.push(() => second.shutdown());
    await second.start();
    await until(
      async () =>
        (await metrics.value('exporter_queue_corrupt_files_total')) === 3 && up.delivered.length === 2,
      'the replay',
    );
    assert.deepEqual(spanIds(up.delivered), spanIds([sent[0]!.data, sent[3]!.data]));
    const skipped = lines.filter(
      (l) => l['msg'] === 'export queue: skipped a partly written or corrupt queue file',
    );
    assert.equal(skipped.length, 3);
    assert.ok(skipped.some((l) => l['reason'] === 'checksum mismatch'));
    assert.ok(skipped.some((l) => /length/.test(String(l['reason']))));
    assert.equal(
      await metrics.value('exporter_failed_spans_total', { exporter: 'backend', reason: 'corrupt' }),
      sent[2]!.spanCount,
      'spans of a file whose header still read are counted as lost',
    );
  });

  it('counts the queue in batches and bytes on disk, and refuses at max_bytes', async () => {
    const dir = join(root, 'full');
    const metrics = new Metrics();
    const queue = new ExportQueue({ name: 'q', dir, maxBytes: 1, metrics, logger: silentLogger() });
    await queue.open();
    const b = batch();
    await queue.push(b.data, b.spanCount, b.bytes);
    assert.equal(queue.isFull(), true);
    assert.equal(queue.memoryBytes(), 0);
    assert.equal(await metrics.value('exporter_queue_batches', { exporter: 'q' }), 1);
    assert.ok((await metrics.value('exporter_queue_bytes', { exporter: 'q' })) > 20);
    queue.close();
  });

  it('hands a batch to a waiting sender with the bytes it just wrote and fsynced, without reading the file back', async () => {
    const dir = join(root, 'handoff');
    const queue = new ExportQueue({
      name: 'q',
      dir,
      maxBytes: 1 << 20,
      metrics: new Metrics(),
      logger: silentLogger(),
    });
    await queue.open();
    const waiting = queue.take();
    const request = encodeTraceRequest(batch().data);
    await queue.push(request, 4, 2000);
    const item = (await waiting)!;
    // Written, fsynced and renamed before push resolved: a kill -9 now still finds it.
    const file = item.file!;
    const record = decodeRecord(readFileSync(file));
    assert.ok(typeof record !== 'string', String(record));
    assert.equal(record.header.spanCount, 4);
    assert.deepEqual(Buffer.from(record.payload), Buffer.from(request));
    // The sender sends the bytes it was handed: the file on disk is not read again (spoiled here to show it).
    writeFileSync(file, 'spoiled');
    const loaded = await queue.load(item, true);
    assert.ok(typeof loaded !== 'string' && 'request' in loaded);
    assert.deepEqual(Buffer.from(loaded.request), Buffer.from(request));
    assert.equal(queue.memoryBytes(), 0, 'a record file is not memory in the queue');
    await queue.remove(item);
    assert.deepEqual(readdirSync(join(dir, 'q')), []);
    queue.close();
  });

  it('keeps no bytes of a record queued with no sender waiting, nor of one put back: they are read from their file', async () => {
    const dir = join(root, 'no-handoff');
    const metrics = new Metrics();
    const queue = new ExportQueue({ name: 'q', dir, maxBytes: 1 << 20, metrics, logger: silentLogger() });
    await queue.open();
    const request = encodeTraceRequest(batch().data);
    await queue.push(request, 4, 2000);
    const queued = (await queue.take())!;
    assert.equal(queued.written, undefined);
    writeFileSync(queued.file!, 'spoiled');
    assert.equal(typeof (await queue.load(queued, true)), 'string', 'read from the file, found corrupt');
    assert.equal(await metrics.value('exporter_queue_corrupt_files_total', { exporter: 'q' }), 1);

    const waiting = queue.take();
    await queue.push(request, 4, 2000);
    const handed = (await waiting)!;
    assert.ok(handed.written);
    queue.putBack(handed); // a send cut short by shutdown
    const again = (await queue.take())!;
    assert.equal(again.seq, handed.seq);
    assert.equal(again.written, undefined);
    const loaded = await queue.load(again, true);
    assert.ok(typeof loaded !== 'string' && 'request' in loaded);
    assert.deepEqual(Buffer.from(loaded.request), Buffer.from(request));
    queue.close();
  });

  it('hands a record put back after a failed send to a sender already waiting with its bytes, without reading the file back', async () => {
    const dir = join(root, 'put-back-handoff');
    const metrics = new Metrics();
    const queue = new ExportQueue({ name: 'q', dir, maxBytes: 1 << 20, metrics, logger: silentLogger() });
    await queue.open();
    const request = encodeTraceRequest(batch().data);
    const first = queue.take();
    await queue.push(request, 4, 2000);
    const handed = (await first)!;
    assert.ok(handed.written);
    const waiting = queue.take(); // a second sender, idle
    writeFileSync(handed.file!, 'spoiled'); // read back, it would be found corrupt
    queue.putBack(handed); // the first sender's exporter threw
    const again = (await waiting)!;
    assert.equal(again.seq, handed.seq);
    const loaded = await queue.load(again, true);
    assert.ok(typeof loaded !== 'string' && 'request' in loaded, String(loaded));
    assert.deepEqual(Buffer.from(loaded.request), Buffer.from(request));
    assert.equal(await metrics.value('exporter_queue_corrupt_files_total', { exporter: 'q' }), 0);
    assert.equal(queue.memoryBytes(), 0, 'a record file is not memory in the queue');
    assert.equal(queue.sizeBytes(), handed.sizeBytes, 'counted once against max_bytes');
    await queue.remove(again);
    assert.equal(queue.sizeBytes(), 0);
    queue.close();
  });

  it('sends a batch whose exporter threw from the bytes in memory on the next sender, counting them once while held', async () => {
    const dir = join(root, 'put-back-consumer');
    const qdir = join(dir, 'backend');
    const received: Uint8Array[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const exporter: SpanExporter = {
      name: 'backend',
      export: () => Promise.resolve(SUCCESS),
      exportEncoded: async (request) => {
        received.push(request);
        if (received.length > 1) {
          await released;
          return SUCCESS;
        }
        // Spoil the record, so a sender that read it back would find it corrupt.
        for (const f of readdirSync(qdir)) writeFileSync(join(qdir, f), 'spoiled');
        throw new Error('an exporter bug');
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const metrics = new Metrics();
    const clock = new ManualClock(); // the first sender's pause after the throw lasts until advanced
    const stage = new ExporterConsumer(exporter, metrics, silentLogger(), {
      batch: { sendBatchSize: 4, timeoutMs: 0 },
      queue: { dir, maxBytes: 1 << 20, numConsumers: 2 },
      retry: { maxElapsedTimeMs: 0 },
      clock,
      drainTimeoutMs: 50,
    });
    cleanups.push(() => {
      release();
      clock.advance(1000);
      return stage.shutdown();
    });
    await stage.start();
    const b = batch();
    await stage.consume(b);
    await until(() => received.length === 2, 'the second send');
    assert.deepEqual(Buffer.from(received[1]!), Buffer.from(received[0]!));
    assert.equal(await metrics.value('exporter_queue_corrupt_files_total', { exporter: 'backend' }), 0);
    assert.equal(stage.bufferedBytes(), received[0]!.byteLength, 'held by the sender sending it, not twice');
    release();
    await until(
      async () => (await metrics.value('exporter_sent_spans_total', { exporter: 'backend' })) === b.spanCount,
      'the delivery',
    );
    await until(() => readdirSync(qdir).length === 0, 'the file to be deleted');
  });
});

describe('backpressure', () => {
  it('makes the receivers answer 429 and RESOURCE_EXHAUSTED (with RetryInfo) when the export queue is full, never dropping accepted spans', async () => {
    const down = new SwitchableExporter();
    const stage = new ExporterConsumer(down, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1, timeoutMs: 0 },
      queue: { dir: join(root, 'backpressure'), maxBytes: 1, numConsumers: 1 },
      retry: { maxElapsedTimeMs: 0 },
      clock: new ManualClock(),
      drainTimeoutMs: 50,
    });
    await stage.start();
    const { receivers, metrics, httpPort, grpcPort } = await startReceivers(stage);
    cleanups.push(async () => {
      await receivers.stop();
      await stage.shutdown();
    });
    const post = (data: TraceData) =>
      fetch(`http://127.0.0.1:${httpPort}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: encodeTraceRequest(data),
      });
    const accepted = batch();
    assert.equal((await post(accepted.data)).status, 200);
    const refused = await post(batch().data);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    const { grpcExport, retryDelayMs } = await import('./helpers/receivers.js');
    const g = await grpcExport(grpcPort, encodeTraceRequest(batch().data));
    assert.equal(g.error?.code, 8);
    assert.equal(retryDelayMs(g.error!), 1000);
    assert.equal(await metrics.value('receiver_refused_spans_total', { reason: 'queue_full' }), 8);
    // The accepted spans are still queued, waiting for the backend.
    assert.equal(stage.queuedBatches() + (down.delivered.length === 0 ? 1 : 0) >= 1, true);
    down.up = true;
  });

  it('refuses a batch for every exporter when one exporter queue is full, so none gets it twice on the retry', async () => {
    const full = new ExporterConsumer(new SwitchableExporter(), new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1, timeoutMs: 0 },
      queue: { maxBytes: 1, numConsumers: 1 },
      retry: { maxElapsedTimeMs: 0 },
      clock: new ManualClock(),
      drainTimeoutMs: 10,
    });
    const other = new InMemoryExporter();
    const otherStage = new ExporterConsumer(other, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1, timeoutMs: 0 },
      clock: new ManualClock(),
    });
    const fanOut = new FanOutConsumer([full, otherStage]);
    cleanups.push(() => fanOut.shutdown());
    await fanOut.consume(batch());
    await until(() => other.spans().length === 4, 'the first batch at the healthy exporter');
    await assert.rejects(fanOut.consume(batch()), { code: 'SENTINEL_ERR_QUEUE_FULL' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(other.spans().length, 4, 'the refused batch reached no exporter');
  });

  it('delivers what an in-memory queue holds at shutdown when the backend is up', async () => {
    const exporter = new InMemoryExporter();
    const stage = new ExporterConsumer(exporter, new Metrics(), silentLogger(), {
      batch: { sendBatchSize: 1000, timeoutMs: 60_000 },
      clock: new ManualClock(),
    });
    const b = batch(10);
    await stage.consume(b);
    assert.equal(exporter.spans().length, 0, 'still batching');
    await stage.shutdown();
    assert.equal(exporter.spans().length, b.spanCount);
  });
});
