/**
 * `sentinel agent` in a child process with a persistent queue, its store down: the agent is killed with
 * kill -9 while spans wait in queue.dir, the store comes back, the agent is started again on the same
 * queue.dir, and every span it acknowledged reaches storage (duplicates allowed, the store de-duplicates).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeRecord } from '../../src/export/queue-record.js';
import { parseBlockKey } from '../../src/storage/index.js';
import { readBlockBytes } from '../../src/storage/block-reader.js';
import { startSentinel, type SentinelChild } from '../helpers/child.js';
import { recordAndSend, sdkExporter } from '../helpers/sdk.js';
import { startTestStore } from '../helpers/store-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-export-restart-'));
const storeDir = join(dir, 'store');
const queueDir = join(dir, 'queue');
const children: SentinelChild[] = [];
const disposers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const d of disposers) await d();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spans in committed queue records, read the way a restarted agent reads them. */
function queuedSpans(): number {
  let n = 0;
  const sub = join(queueDir, 'store');
  let names: string[];
  try {
    names = readdirSync(sub);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.endsWith('.batch')) continue;
    try {
      const rec = decodeRecord(readFileSync(join(sub, name)));
      if (typeof rec !== 'string') n += rec.header.spanCount;
    } catch {
      // deleted between readdir and read
    }
  }
  return n;
}

async function startAgent(config: string): Promise<{ grpc: number; http: number; admin: number }> {
  const agent = startSentinel(['agent', '--config', config], { POD_NAME: '', POD_NAMESPACE: '' });
  children.push(agent);
  const started = await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
  return started['ports'] as { grpc: number; http: number; admin: number };
}

void test('spans queued on disk survive kill -9 of the agent and reach the store after a restart', async () => {
  // The store's port is taken, then the store goes away: the agent starts into an outage.
  let h = await startTestStore({ dir: storeDir });
  const storePort = h.store.ports.grpc;
  await h.store.shutdown();

  const config = join(dir, 'agent.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  otlp:',
      '    grpc: { endpoint: 127.0.0.1:0 }',
      '    http: { endpoint: 127.0.0.1:0 }',
      'admin: { endpoint: 127.0.0.1:0 }',
      'log: { level: info }',
      'exporters:',
      '  - type: otlp',
      '    name: store',
      `    endpoint: http://127.0.0.1:${storePort}`,
      '    protocol: grpc',
      '    batch: { send_batch_size: 500, timeout: 100ms }',
      '    retry: { initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 10m }',
      `    queue: { dir: ${JSON.stringify(queueDir)} }`,
      '',
    ].join('\n'),
  );
  const first = await startAgent(config);
  const sent = await recordAndSend(3000, sdkExporter('grpc', { grpcPort: first.grpc, httpPort: first.http }));
  assert.equal(sent.length, 3000);
  // Every acknowledged span is in a committed record before the kill.
  const deadline = Date.now() + 30_000;
  while (queuedSpans() < sent.length) {
    assert.ok(Date.now() < deadline, `only ${queuedSpans()} of ${sent.length} spans reached queue.dir`);
    await sleep(20);
  }
  const victim = children[0]!;
  victim.child.kill('SIGKILL');
  assert.equal(await victim.exited, null);

  h = await startTestStore({
    dir: storeDir,
    overrides: {
      receivers: {
        otlp: { grpc: { endpoint: `127.0.0.1:${storePort}` }, http: { endpoint: '127.0.0.1:0' } },
      },
    },
  });
  disposers.push(() => h.dispose());
  await startAgent(config);
  const second = children[1]!;
  const replay = await second.waitForLog(
    (l) => l['msg'] === 'export queue: replaying batches left by the previous run',
  );
  assert.equal(replay['spans'], sent.length);
  const drainDeadline = Date.now() + 60_000;
  while (queuedSpans() > 0) {
    assert.ok(Date.now() < drainDeadline, `${queuedSpans()} spans still queued`);
    await sleep(50);
  }
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0);
  await h.store.shutdown();

  const counts = new Map<string, number>();
  for (const o of await h.objects.list('blocks/')) {
    if (parseBlockKey(o.key)?.kind !== 'parquet') continue;
    for (const r of await readBlockBytes((await h.objects.get(o.key))!, o.key))
      counts.set(r.span.spanId, (counts.get(r.span.spanId) ?? 0) + 1);
  }
  const missing = sent.filter((s) => !counts.has(s.spanContext().spanId));
  assert.equal(missing.length, 0, `${missing.length} of ${sent.length} spans missing after the restart`);
});
