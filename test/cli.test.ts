import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';

function sentinel(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    env: { ...process.env, SENTINEL_CONFIG: '', ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the sentinel command', () => {
  it('lists its commands with --help and refuses an unknown one with exit code 2', () => {
    const help = sentinel(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /agent\s+the sidecar/);
    const unknown = sentinel(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('prints the effective agent config, environment overrides applied, and exits 0', () => {
    const r = sentinel(['agent', '--print-config'], { SENTINEL_ADMIN__ENDPOINT: '127.0.0.1:9999' });
    assert.equal(r.status, 0, r.stderr);
    const config = parseYaml(r.stdout) as {
      admin: { endpoint: string };
      receivers: { otlp: { grpc: { endpoint: string } } };
    };
    assert.equal(config.admin.endpoint, '127.0.0.1:9999');
    assert.equal(config.receivers.otlp.grpc.endpoint, '127.0.0.1:4317');
  });

  it('exits 1 with the coded message when the config is invalid', () => {
    const r = sentinel(['agent', '--print-config'], { SENTINEL_SHUTDOWN_TIMEOUT: 'soon' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SENTINEL_ERR_CONFIG_INVALID: invalid config/);
    assert.match(r.stderr, /shutdown_timeout: expected a duration like "10s", got "soon"/);
  });
});
