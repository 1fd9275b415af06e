import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentConfigSchema, loadConfig, parseDurationMs, parseSizeBytes } from '../src/config/index.js';
import { isSentinelError } from '../src/errors.js';

function tempFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sentinel-config-')), 'config.yaml');
  writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isSentinelError(err), `a SentinelError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be refused');
}

describe('config loading', () => {
  it('runs exactly the contract defaults with no file at all', () => {
    const c = loadConfig(agentConfigSchema(), { env: {} });
    assert.equal(c.receivers.otlp.grpc.endpoint, '127.0.0.1:4317');
    assert.equal(c.receivers.otlp.http.endpoint, '127.0.0.1:4318');
    assert.equal(c.receivers.otlp.max_request_bytes, 4 * 1024 * 1024);
    assert.equal(c.memory_limit_mib, 64);
    assert.equal(c.admin.endpoint, '0.0.0.0:8888');
    assert.equal(c.shutdown_timeout, 20_000);
    assert.equal(c.sampling.policy_file, '');
    assert.equal(c.sampling.decision_wait, 10_000);
    assert.deepEqual(
      c.exporters.map((e) => [e.type, 'url' in e ? e.url : '']),
      [['storage', 'file://./data']],
    );
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.receivers.otlp), 'the result is frozen');
  });

  it('applies the file over defaults and SENTINEL_* variables over the file', () => {
    const file = tempFile(
      'admin: { endpoint: 127.0.0.1:9000 }\nlog: { level: debug }\nsampling: { decision_wait: 2s }\n',
    );
    const c = loadConfig(agentConfigSchema(), {
      file,
      env: {
        SENTINEL_ADMIN__ENDPOINT: '0.0.0.0:9999',
        SENTINEL_RECEIVERS__OTLP__MAX_REQUEST_BYTES: '8MiB',
        SENTINEL_EXPORTERS__0__TYPE: 'debug',
        SENTINEL_CONFIG: file,
      },
    });
    assert.equal(c.admin.endpoint, '0.0.0.0:9999');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.sampling.decision_wait, 2000);
    assert.equal(c.receivers.otlp.max_request_bytes, 8 * 1024 * 1024);
    assert.equal(c.exporters[0]?.type, 'debug');
  });

  it('names the key, what was expected and what was found', () => {
    const msg = configError(() =>
      loadConfig(agentConfigSchema(), {
        env: {
          SENTINEL_SAMPLING__DECISION_WAIT: 'ten',
          SENTINEL_MEMORY_LIMIT_MIB: 'lots',
          SENTINEL_NOPE: '1',
        },
      }),
    );
    assert.match(msg, /sampling\.decision_wait: expected a duration like "10s", got "ten"/);
    assert.match(msg, /memory_limit_mib: expected number, got "lots"/);
    assert.match(msg, /nope: unknown key/);
  });

  it('rejects unknown keys, bad endpoints and bad sizes in a file', () => {
    const msg = configError(() =>
      loadConfig(agentConfigSchema(), {
        file: tempFile(
          'receivers:\n  otlp:\n    grpc: { endpoint: localhost }\n    max_request_bytes: 4 lightyears\n    colour: blue\n',
        ),
      }),
    );
    assert.match(msg, /receivers\.otlp\.grpc\.endpoint: expected "host:port", got "localhost"/);
    assert.match(
      msg,
      /receivers\.otlp\.max_request_bytes: expected a size like 4096 or "64MiB", got "4 lightyears"/,
    );
    assert.match(msg, /receivers\.otlp\.colour: unknown key/);
  });

  it('reports YAML syntax errors with the line and unreadable files by name', () => {
    const yamlMsg = configError(() =>
      loadConfig(agentConfigSchema(), { file: tempFile('admin:\n  endpoint: [unclosed\n') }),
    );
    assert.match(yamlMsg, /not valid YAML at line \d+/);
    const missing = configError(() =>
      loadConfig(agentConfigSchema(), { file: '/nonexistent/sentinel.yaml' }),
    );
    assert.match(missing, /cannot read config file \/nonexistent\/sentinel\.yaml/);
  });

  it('reads the whole config from an environment variable with --config env:NAME (the injector hands it so)', () => {
    const env = {
      SENTINEL_AGENT_CONFIG: 'admin:\n  endpoint: 0.0.0.0:9999\nlog: { level: debug }\n',
      SENTINEL_LOG__LEVEL: 'warn',
    };
    const c = loadConfig(agentConfigSchema(), { file: 'env:SENTINEL_AGENT_CONFIG', env });
    assert.equal(c.admin.endpoint, '0.0.0.0:9999');
    // Other SENTINEL_* variables still override it; the config variable itself is not read as a key.
    assert.equal(c.log.level, 'warn');
    const unset = configError(() => loadConfig(agentConfigSchema(), { file: 'env:SENTINEL_NOPE', env: {} }));
    assert.match(unset, /environment variable SENTINEL_NOPE: it is not set/);
    const bad = configError(() =>
      loadConfig(agentConfigSchema(), { file: 'env:CFG', env: { CFG: 'admin: [unclosed\n' } }),
    );
    assert.match(bad, /environment variable CFG is not valid YAML at line \d+/);
    const invalid = configError(() =>
      loadConfig(agentConfigSchema(), { file: 'env:CFG', env: { CFG: 'admin: { endpoint: nowhere }' } }),
    );
    assert.match(invalid, /invalid config \(env:CFG\):\n {2}admin\.endpoint/);
  });

  it('parses the contract duration and size forms', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('10s'), 10_000);
    assert.equal(parseDurationMs('5m'), 300_000);
    assert.equal(parseDurationMs('336h'), 336 * 3_600_000);
    assert.equal(parseDurationMs('1h30m'), 5_400_000);
    assert.equal(parseDurationMs('ten'), undefined);
    assert.equal(parseSizeBytes('64MiB'), 64 * 1024 * 1024);
    assert.equal(parseSizeBytes(4096), 4096);
    assert.equal(parseSizeBytes('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseSizeBytes('-1'), undefined);
  });
});
