import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseBlockKey, type ObjectStore } from '../../src/storage/index.js';
import { readBlockBytes } from '../../src/storage/block-reader.js';

/**
 * Starts helpers/store-child.ts (a store in its own process, to be killed with SIGKILL) over `dir` with the
 * test config plus `overrides`; resolves with the child and its ports once it listens.
 */
export function spawnStoreChild(
  dir: string,
  overrides: Record<string, unknown>,
): Promise<{ child: ChildProcess; ports: { http: number; grpc: number } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'store-child.ts')], {
    env: {
      ...process.env,
      SENTINEL_TEST_STORE_DIR: dir,
      SENTINEL_TEST_STORE_OVERRIDES: JSON.stringify(overrides),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line)
        resolve({ child, ports: JSON.parse(line) as { http: number; grpc: number } });
    });
    child.once('exit', (code) => reject(new Error(`the store child exited with ${code}`)));
  });
}

/** How many times each span id is stored in the Parquet blocks of `objects`. */
export async function storedSpanCounts(objects: ObjectStore): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const o of await objects.list('blocks/')) {
    if (parseBlockKey(o.key)?.kind !== 'parquet') continue;
    for (const r of await readBlockBytes((await objects.get(o.key))!, o.key)) {
      counts.set(r.span.spanId, (counts.get(r.span.spanId) ?? 0) + 1);
    }
  }
  return counts;
}
