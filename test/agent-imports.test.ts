/**
 * The agent loads only what its config uses (issue 13): the S3 client, Parquet and the Kubernetes client are
 * imported when a config needs them. Each case starts `sentinel agent` in a child process with a module hook
 * (node:module register) that reports every package the process resolves, then stops it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { startSentinel } from './helpers/child.js';
import { HEAVY_PACKAGES, writeResolveHook } from './helpers/resolve-hook.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-agent-imports-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const register = writeResolveHook(dir);

/**
 * The packages (of HEAVY_PACKAGES and grpc-js) that an agent with `exporters` resolved by the time it was receiving
 * OTLP.
 */
async function heavyPackagesLoaded(name: string, exporters: string[]): Promise<string[]> {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    [
      'receivers: { otlp: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } }',
      'admin: { endpoint: 127.0.0.1:0 }',
      'exporters:',
      ...exporters,
      '',
    ].join('\n'),
  );
  let stderr = '';
  const agent = startSentinel(['agent', '--config', config], { POD_NAME: '', POD_NAMESPACE: '' }, [
    '--import',
    'tsx',
    '--import',
    register,
    'src/cli.ts',
  ]);
  agent.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  // Not zod: it loads only in the config and policy worker processes (issue 13), which run without the hook.
  assert.match(stderr, /resolved .*\/node_modules\/pino\//, 'the hook saw the packages the agent does load');
  return [...HEAVY_PACKAGES, '@grpc/grpc-js'].filter((p) => stderr.includes(`/node_modules/${p}/`));
}

void describe('the agent imports what its config uses', () => {
  void test('with an OTLP/HTTP exporter (the chart config) it loads neither Parquet, the S3 client, the Kubernetes client nor grpc-js', async () => {
    const loaded = await heavyPackagesLoaded('otlp', [
      '  - type: otlp',
      '    endpoint: http://127.0.0.1:1',
      '    protocol: http',
    ]);
    assert.deepEqual(loaded, []);
  });

  void test('with an OTLP/gRPC exporter it loads grpc-js, for the exporter alone (the receiver is node:http2)', async () => {
    const loaded = await heavyPackagesLoaded('otlp-grpc', [
      '  - type: otlp',
      '    endpoint: http://127.0.0.1:1',
      '    protocol: grpc',
    ]);
    assert.deepEqual(loaded, ['@grpc/grpc-js']);
  });

  void test('with a storage exporter on a directory it loads Parquet, and the S3 client only for s3:// at the first request', async () => {
    const loaded = await heavyPackagesLoaded('storage', [
      '  - type: storage',
      `    url: ${pathToFileURL(join(dir, 'data')).href}`,
    ]);
    assert.deepEqual(loaded, ['hyparquet', 'hyparquet-writer']);
  });
});
