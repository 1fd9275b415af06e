import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Clock } from '../../src/clock.js';
import { storeConfigSchema, validateConfig, type StoreConfig } from '../../src/config/index.js';
import type { ResolveHost } from '../../src/http/index.js';
import { countSpans, type TraceData } from '../../src/otlp/index.js';
import { type ObjectStore } from '../../src/storage/index.js';
import { CountingObjectStore } from '../../src/storage/object-store.js';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import { startStore, type RunningStore } from '../../src/store/store.js';
import { Metrics, silentLogger, type Logger } from '../../src/telemetry/index.js';

/** A store config for tests: every listener on 127.0.0.1 port 0, WAL and data in a temp directory. */
export function testStoreConfig(dir: string, overrides: Record<string, unknown> = {}): StoreConfig {
  const raw: Record<string, unknown> = {
    receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
    admin: { endpoint: '127.0.0.1:0' },
    query: { endpoint: '127.0.0.1:0', refresh_interval: '0s' },
    storage: { url: `file://${join(dir, 'data')}` },
    wal_dir: join(dir, 'wal'),
    compaction: { enabled: false, interval: '0s' },
    log: { level: 'silent' },
    ...overrides,
  };
  return validateConfig(storeConfigSchema(), raw, 'test');
}

/** A started store over a counting local directory (unless another object store is given). */
export async function startTestStore(
  options: {
    dir?: string;
    overrides?: Record<string, unknown>;
    objectStore?: ObjectStore;
    logger?: Logger;
    clock?: Clock;
    /** Resolves `query.peers.dns`. */
    resolve?: ResolveHost;
  } = {},
): Promise<{
  store: RunningStore;
  dir: string;
  objects: CountingObjectStore;
  metrics: Metrics;
  query: (path: string, headers?: Record<string, string>) => Promise<{ status: number; body: unknown }>;
  dispose: () => Promise<void>;
}> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sentinel-store-'));
  const config = testStoreConfig(dir, options.overrides);
  const objects = new CountingObjectStore(options.objectStore ?? new LocalObjectStore(join(dir, 'data')));
  const metrics = new Metrics();
  const store = await startStore(config, {
    // SENTINEL_TEST_LOG=debug shows the store's log on stderr while debugging a test.
    logger:
      options.logger ??
      (process.env['SENTINEL_TEST_LOG']
        ? pino({ level: process.env['SENTINEL_TEST_LOG'] }, process.stderr)
        : silentLogger()),
    metrics,
    objectStore: objects,
    filePollIntervalMs: 20,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  const query = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${store.ports.query}${path}`, { headers });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body };
  };
  return {
    store,
    dir,
    objects,
    metrics,
    query,
    dispose: async () => {
      await store.abort();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Hands `data` to the store's pipeline as the receivers would. */
export function consume(store: RunningStore, data: TraceData): Promise<void> {
  return store.pipeline.consume({ data, spanCount: countSpans(data), bytes: 1000 });
}

export { capturingLogger } from './capturing-logger.js';
