import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { recordAndSend, sdkExporter } from '../helpers/sdk.js';

/**
 * The README's first command: `npm start` builds and runs the agent on its embedded defaults.
 * It uses the fixed default ports 4317, 4318 and 8888, so nothing else may hold them during the run.
 */
function findFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? findFiles(join(dir, e.name), suffix)
      : e.name.endsWith(suffix)
        ? [join(dir, e.name)]
        : [],
  );
}

describe('npm start', () => {
  const repo = new URL('../..', import.meta.url).pathname;
  const startedAt = Date.now();
  const child = spawn('npm', ['start', '--silent'], {
    cwd: repo,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SENTINEL_CONFIG: '' },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  // 'close', not 'exit': npm may exit before the agent it started (which shares the pipes) has drained.
  const closed = once(child, 'close');
  after(async () => {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  });

  it('serves OTLP on 4317 and 4318 and /metrics on 8888, then drains on SIGTERM', async () => {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const ready = await fetch('http://127.0.0.1:8888/readyz').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      assert.ok(child.exitCode === null, `npm start exited early:\n${output.slice(-3000)}`);
      assert.ok(Date.now() < deadline, `not ready within 180 s:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const ports = { grpcPort: 4317, httpPort: 4318 };
    await recordAndSend(10, sdkExporter('grpc', ports));
    await recordAndSend(10, sdkExporter('proto', ports));
    const metrics = await (await fetch('http://127.0.0.1:8888/metrics')).text();
    assert.match(metrics, /sentinel_receiver_accepted_spans_total\{transport="grpc"\} 10/);
    assert.match(metrics, /sentinel_receiver_accepted_spans_total\{transport="http"\} 10/);
    assert.match(metrics, /process_resident_memory_bytes/);
    process.kill(-(child.pid as number), 'SIGTERM');
    await closed;
    assert.match(output, /"msg":"drained"/);
    // The embedded default exporter is storage at file://./data: the drained spans are in a block there.
    const blocks = findFiles(join(repo, 'data', 'blocks'), '.parquet').filter(
      (f) => statSync(f).mtimeMs >= startedAt,
    );
    assert.ok(blocks.length > 0, 'a Parquet block was written under ./data/blocks');
  });
});
