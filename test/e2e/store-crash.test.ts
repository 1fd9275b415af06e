import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodeTraceRequest } from '../../src/otlp/index.js';
import { flattenTraceData } from '../../src/storage/index.js';
import { spawnStoreChild, storedSpanCounts } from '../helpers/spawn-store-child.js';
import { startTestStore } from '../helpers/store-harness.js';
import { makeTraces } from '../helpers/store-spans.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-crash-'));
let child: ChildProcess | undefined;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const overrides = { block: { max_spans: 3000, max_age: '1h' } };

async function startChild(): Promise<{ http: number }> {
  const started = await spawnStoreChild(dir, overrides);
  child = started.child;
  return started.ports;
}

void test('after kill -9 and a restart, every acknowledged span is in storage exactly once', async () => {
  const { http } = await startChild();
  const acked = new Set<string>();
  let seed = 1;
  let stop = false;
  // Four agents sending 200-span batches as fast as the store acknowledges them.
  const sender = async () => {
    while (!stop) {
      const data = makeTraces({ traces: 20, spansPerTrace: 10, seed: seed++ });
      try {
        const res = await fetch(`http://127.0.0.1:${http}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-protobuf' },
          body: encodeTraceRequest(data),
        });
        await res.arrayBuffer();
        if (res.status === 200) for (const r of flattenTraceData(data)) acked.add(r.span.spanId);
      } catch {
        return; // the store is gone: this request was never acknowledged
      }
    }
  };
  const senders = [sender(), sender(), sender(), sender()];
  // Kill once several blocks were cut (3,000 spans each) and more spans sit in the WAL only.
  while (acked.size < 12_500) await new Promise((r) => setTimeout(r, 5));
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child!.kill('SIGKILL');
  stop = true;
  await Promise.all(senders);
  await exited;
  assert.ok(acked.size >= 12_500);

  const h = await startTestStore({ dir, overrides });
  try {
    await h.store.pipeline.forceFlush();
    const counts = await storedSpanCounts(h.objects);
    const missing = [...acked].filter((id) => !counts.has(id));
    assert.equal(missing.length, 0, `${missing.length} acknowledged spans missing`);
    const twice = [...counts].filter(([, n]) => n > 1);
    assert.equal(twice.length, 0, `${twice.length} spans stored more than once`);
  } finally {
    await h.dispose();
  }
});
