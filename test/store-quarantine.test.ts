/**
 * Issue 18 part 2: a WAL segment whose block cannot be encoded is quarantined (moved aside with its reason,
 * counted, logged once, readable with `sentinel store quarantine`), the pipeline goes on with the next
 * segment, and a restart does not retry it. The bad segment here holds a span at 2^64-1 handed straight to the
 * pipeline (the receivers refuse such spans at the door since part 1; a replayed WAL from an older version,
 * or any other encoding failure, takes this path).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../src/cli.js';
import { decodeTraceRequestJson } from '../src/otlp/index.js';
import { runQuarantine } from '../src/store/quarantine.js';
import { capturingLogger, consume, startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

const tmp = mkdtempSync(join(tmpdir(), 'sentinel-quarantine-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('a WAL segment that cannot be encoded', () => {
  const dir = join(tmp, 'store');
  const bad = makeTraces({ traces: 2, spansPerTrace: 3, seed: 7 });
  bad.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano = 2n ** 64n - 1n;
  const good = makeTraces({ traces: 5, spansPerTrace: 3, seed: 8 });
  const goodTrace = good.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;

  it('is quarantined with its reason, counted, logged once, and the next segment is written', async () => {
    const { logger, lines } = capturingLogger();
    const h = await startTestStore({ dir, logger });
    try {
      await consume(h.store, bad);
      await h.store.pipeline.cut();
      await consume(h.store, good);
      await h.store.pipeline.forceFlush();
      assert.equal(await h.metrics.value('store_quarantined_segments_total'), 1);
      assert.equal(await h.metrics.value('store_quarantined_spans_total'), 6);
      assert.equal(await h.metrics.value('store_spans_written_total'), 15);
      const logged = lines.filter((l) => l['code'] === 'SENTINEL_ERR_WAL_QUARANTINED');
      assert.equal(logged.length, 1);
      assert.match(String(logged[0]!['err']), /out of range/);
      const res = await h.query(`/api/traces/${goodTrace}`);
      assert.equal(res.status, 200);
      assert.equal(h.store.pipeline.pendingSpans(), 0);
      assert.equal(h.store.pipeline.bufferedBytes(), 0);
    } finally {
      await h.store.shutdown();
    }
    const q = readdirSync(join(dir, 'wal', 'quarantine')).sort();
    assert.equal(q.length, 2);
    assert.ok(q[0]!.endsWith('.wal') && q[1] === `${q[0]}.json`);
    assert.deepEqual(
      readdirSync(join(dir, 'wal')).filter((f) => f.endsWith('.wal')),
      [],
      'no segment left to replay',
    );
  });

  it('is not retried after a restart', async () => {
    const h = await startTestStore({ dir });
    try {
      assert.equal(h.store.pipeline.pendingSpans(), 0);
      await h.store.pipeline.forceFlush();
      assert.equal(await h.metrics.value('store_quarantined_segments_total'), 0);
    } finally {
      await h.dispose();
    }
  });

  it('is listed and shown by `sentinel store quarantine`', async () => {
    const walDir = join(dir, 'wal');
    let out = '';
    assert.equal(await runQuarantine(['list', '--wal-dir', walDir], (t) => (out += t)), 0);
    const [line] = out.trim().split('\n');
    const [segment, at, spans, , error] = line!.split('\t');
    assert.match(segment!, /^\d{12}-\d+\.wal$/);
    assert.ok(!Number.isNaN(Date.parse(at!)));
    assert.equal(spans, '6 spans');
    assert.match(error!, /out of range/);
    let shown = '';
    assert.equal(await runQuarantine(['show', segment!, '--wal-dir', walDir], (t) => (shown += t)), 0);
    const [head, ...records] = shown.trim().split('\n');
    assert.match(head!, /^# \{"segment":/);
    assert.equal(records.length, 1);
    const back = decodeTraceRequestJson(records[0]!);
    assert.equal(back.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).length, 6);
    // Through the CLI entry point, and the errors it answers with.
    const stdout = process.stdout.write;
    let cliOut = '';
    process.stdout.write = ((t: string) => ((cliOut += t), true)) as typeof process.stdout.write;
    try {
      assert.equal(await main(['store', 'quarantine', 'list', '--json', '--wal-dir', walDir]), 0);
    } finally {
      process.stdout.write = stdout;
    }
    assert.equal((JSON.parse(cliOut) as { segment: string }[])[0]!.segment, segment);
    let err = '';
    assert.equal(
      await runQuarantine(['show', 'nope.wal', '--wal-dir', walDir], undefined, (t) => (err += t)),
      1,
    );
    assert.match(err, /no quarantined segment "nope.wal"/);
    assert.equal(await runQuarantine(['frobnicate', '--wal-dir', walDir], undefined, () => undefined), 2);
    assert.ok(existsSync(join(walDir, 'quarantine', segment!)));
  });
});
