/**
 * The agent validates its config and its sampling policies in short-lived worker processes (issue 13: zod, yaml
 * and the schemas never load in the agent's process). What comes back must be what the in-process validation gives: the
 * same config, the same errors with the same codes and text, the same policy blocks, warnings and problems, and
 * for the policy sources the same metrics and events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agentConfigSchema, readCommandConfig } from '../src/config/index.js';
import {
  callWorker,
  callWorkerSync,
  readCommandConfigOnWorker,
  WorkerCallError,
} from '../src/config/runtime.js';
import { SentinelError } from '../src/errors.js';
import { CentralPolicySource } from '../src/sampling/central-policy-source.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { loadPolicyFile } from '../src/sampling/policy-file-source.js';
import { formatPolicyProblems, type PolicyProblem } from '../src/sampling/policy-problems.js';
import {
  startPolicyValidation,
  validatePolicyText,
  validatePolicyTextSync,
} from '../src/sampling/policy-validation.js';
import { Metrics } from '../src/telemetry/index.js';
import { capturingLogger } from './helpers/capturing-logger.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-config-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What `fn` throws. */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail('expected an error');
}

void describe('callWorkerSync: one call into a worker process that exits', () => {
  void test('returns what the module answers and throws what it throws, with its name and code', () => {
    assert.deepEqual(callWorkerSync(import.meta.url, 'fixtures/worker-call/echo', { value: [1, 'two'] }), {
      echo: [1, 'two'],
    });
    const err = thrown(() =>
      callWorkerSync(import.meta.url, 'fixtures/worker-call/echo', { throw: 'no such' }),
    );
    assert.ok(err instanceof WorkerCallError);
    assert.equal(err.name, 'RangeError');
    assert.equal(err.code, 'ERR_TEST');
    assert.equal(err.message, 'no such');
  });

  void test('a node that cannot be started is "did not answer" with the reason, not a TypeError (session 13)', async () => {
    const execPath = process.execPath;
    process.execPath = join(dir, 'no-such-node');
    try {
      const err = thrown(() => callWorkerSync(import.meta.url, 'fixtures/worker-call/echo', { value: 1 }));
      assert.match(err.message, /^the fixtures\/worker-call\/echo process did not answer \(.*ENOENT/);
      await assert.rejects(
        callWorker(import.meta.url, 'fixtures/worker-call/echo', { value: 1 }),
        /did not answer/,
      );
    } finally {
      process.execPath = execPath;
    }
  });

  void test('callWorker answers the same without blocking', async () => {
    const echo = callWorker(import.meta.url, 'fixtures/worker-call/echo', { value: { a: [1n] } });
    let ticked = false;
    setImmediate(() => (ticked = true));
    assert.deepEqual(await echo, { echo: { a: [1n] } });
    assert.ok(ticked, 'the event loop went on meanwhile');
    await assert.rejects(
      callWorker(import.meta.url, 'fixtures/worker-call/echo', { throw: 'no such' }),
      (err: unknown) =>
        err instanceof WorkerCallError && err.name === 'RangeError' && err.code === 'ERR_TEST',
    );
    await assert.rejects(
      callWorker(import.meta.url, 'fixtures/worker-call/missing', {}),
      (err: unknown) => err instanceof WorkerCallError && /Cannot find module .*missing/.test(err.message),
    );
  });

  void test('an answer that cannot be cloned is an error, not a wait', () => {
    const err = thrown(() =>
      callWorkerSync(import.meta.url, 'fixtures/worker-call/echo', { uncloneable: true }),
    );
    assert.ok(err instanceof WorkerCallError, String(err));
    assert.match(err.message, /could not be cloned/);
  });

  void test('a worker that exits without an answer is an error naming how it ended', async () => {
    const err = thrown(() => callWorkerSync(import.meta.url, 'fixtures/worker-call/echo', { exit: 3 }));
    assert.match(err.message, /^the fixtures\/worker-call\/echo process did not answer \(exit code 3\)/);
    await assert.rejects(
      callWorker(import.meta.url, 'fixtures/worker-call/echo', { exit: 3 }),
      /^Error: the fixtures\/worker-call\/echo process did not answer \(exit code 3\)/,
    );
  });

  void test('a module that cannot load is an error, not a wait', () => {
    const started = Date.now();
    const err = thrown(() => callWorkerSync(import.meta.url, 'fixtures/worker-call/missing', {}));
    assert.ok(err instanceof WorkerCallError, String(err));
    assert.match(err.message, /missing/);
    assert.ok(Date.now() - started < 20_000);
  });
});

void describe("the agent's config, read on the config worker", () => {
  const env = { SENTINEL_ADMIN__ENDPOINT: '127.0.0.1:9999', SENTINEL_EXPORTERS__0__TYPE: 'debug' };

  void test('is the config read in-process, frozen', () => {
    const file = join(dir, 'agent.yaml');
    writeFileSync(
      file,
      'sampling: { decision_wait: 2s, policy_snapshot: "policies: []" }\nlog: { level: debug }\n',
    );
    const argv = ['--config', file];
    const onWorker = readCommandConfigOnWorker('agent', argv, env);
    const inProcess = readCommandConfig('agent', argv, agentConfigSchema(), env);
    assert.equal(onWorker.kind, 'run');
    assert.deepEqual(onWorker, inProcess);
    assert.ok(onWorker.kind === 'run' && Object.isFrozen(onWorker.config.sampling), 'frozen');
  });

  void test("runs a follow-up in the worker's process with the validated config, and hands its answer over before returning", () => {
    const file = join(dir, 'agent-follow.yaml');
    writeFileSync(file, 'log: { level: debug }\n');
    let got: { pid: number; endpoint: string } | undefined;
    const followUp = {
      url: new URL('./fixtures/worker-call/follow-up.ts', import.meta.url).href,
      take: (v: unknown) => (got = v as typeof got),
    };
    const command = readCommandConfigOnWorker('agent', ['--config', file], env, followUp);
    assert.equal(command.kind, 'run');
    assert.equal(got?.endpoint, '127.0.0.1:9999', 'the validated config, env overrides applied');
    assert.notEqual(got?.pid, process.pid, 'run in the worker');
    // No follow-up for an exit (help): nothing to validate after.
    got = undefined;
    assert.equal(readCommandConfigOnWorker('agent', ['--help'], env, followUp).kind, 'exit');
    assert.equal(got, undefined);
    // A follow-up that fails costs the config nothing: it comes back, and the follow-up's answer is undefined.
    writeFileSync(file, 'log: { level: warn }\n');
    got = { pid: 0, endpoint: 'not called' };
    const failed = readCommandConfigOnWorker('agent', ['--config', file], env, followUp);
    assert.equal(failed.kind === 'run' && failed.config.log.level, 'warn');
    assert.equal(got, undefined);
  });

  void test("validates the start policy with the config, so the policy source's start starts no second process (session 13)", () => {
    const snapshot = readFileSync(
      join('test', 'fixtures', 'policies', 'errors-and-twenty-percent.yaml'),
      'utf8',
    );
    const file = join(dir, 'agent-snapshot.yaml');
    writeFileSync(file, `sampling:\n  policy_snapshot: ${JSON.stringify(snapshot)}\n`);
    const command = readCommandConfigOnWorker('agent', ['--config', file], env, startPolicyValidation());
    assert.equal(command.kind, 'run');
    const execPath = process.execPath;
    // With no node to start, only an answer already here can come back.
    process.execPath = join(dir, 'no-such-node');
    try {
      assert.deepEqual(validatePolicyTextSync(snapshot), parsePolicyText(snapshot));
      assert.throws(() => validatePolicyTextSync(`${snapshot}\n# changed\n`), /did not answer/);
    } finally {
      process.execPath = execPath;
    }
    // A policy file wins over the snapshot, as in choosePolicySource.
    const policyFile = join(dir, 'start-policy.yaml');
    writeFileSync(
      policyFile,
      'policies:\n  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n',
    );
    writeFileSync(
      file,
      `sampling:\n  policy_file: ${policyFile}\n  policy_snapshot: ${JSON.stringify(snapshot)}\n`,
    );
    readCommandConfigOnWorker('agent', ['--config', file], env, startPolicyValidation());
    process.execPath = join(dir, 'no-such-node');
    try {
      const text = readFileSync(policyFile, 'utf8');
      assert.deepEqual(validatePolicyTextSync(text), parsePolicyText(text));
    } finally {
      process.execPath = execPath;
    }
  });

  void test('an invalid or unreadable config, or an unknown option, throws the same error with the same code', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'sampling: { num_traces: -1 }\nlog: { level: loud }\n');
    const notYaml = join(dir, 'not-yaml.yaml');
    writeFileSync(notYaml, 'sampling: [\n');
    for (const argv of [
      ['--config', bad],
      ['--config', notYaml],
      ['--config', join(dir, 'missing.yaml')],
      ['--config', 'env:NOT_SET'],
      ['--bogus'],
    ]) {
      const onWorker = thrown(() => readCommandConfigOnWorker('agent', argv, env));
      const inProcess = thrown(() => readCommandConfig('agent', argv, agentConfigSchema(), env));
      assert.equal(onWorker.message, inProcess.message);
      assert.equal(onWorker.code, inProcess.code);
      assert.equal(onWorker instanceof SentinelError, inProcess instanceof SentinelError, argv.join(' '));
    }
  });
});

/** Policy texts that cover every answer: blocks of each kind, warnings, and problems of each kind. */
function policyTexts(): string[] {
  const fixtures = join('test', 'fixtures', 'policies');
  return [
    readFileSync(join(fixtures, 'scenario.yaml'), 'utf8'),
    readFileSync(join(fixtures, 'collector-readme', 'practical-example.yaml'), 'utf8'),
    readFileSync(join(fixtures, 'collector-readme', 'composite.yaml'), 'utf8'),
    'policies:\n  - name: broken\n    type: [always_sample\n',
    'policies:\n  - name: fancy\n    type: ottl_condition\n    ottl_condition: {span: []}\n',
    'policies:\n  - {name: a, type: latency, status_code: {status_codes: [ERROR]}}\n',
    'policies:\n  - {name: re, type: string_attribute, string_attribute: {key: k, values: ["("], enabled_regex_matching: true}}\n',
    'decision_wait: 10s\npolicies:\n  - {name: b, type: bytes_limiting, bytes_limiting: {bytes_per_second: 100}}\n',
    'policies:\n  - {name: w, type: log_severity, log_severity: {min_severity: WARN}}\nlogs:\n  policies:\n    - {name: s, type: severity, severity: {min: ERROR}}\n',
    '- just a list\n',
  ];
}

void describe('policies, validated on the policy worker', () => {
  void test('the answer is what parsePolicyText gives in-process: blocks, warnings, problems', async () => {
    const texts = policyTexts();
    let ok = 0;
    // One at a time: each is a node process (under tsx, half a second of CPU), beside other test files.
    for (const [i, text] of texts.entries()) {
      const inProcess = parsePolicyText(text);
      if (inProcess.ok) ok++;
      const answer = i % 2 === 0 ? await validatePolicyText(text) : validatePolicyTextSync(text);
      assert.deepEqual(answer, inProcess, text);
    }
    assert.ok(ok > 2 && ok < texts.length, 'good and bad texts both');
  });

  void test('the last text validated is answered again without a worker (a snapshot, then the same central policy)', async () => {
    const text = 'policies:\n  - {name: again, type: always_sample}\n';
    const first = validatePolicyTextSync(text);
    assert.equal(await validatePolicyText(text), first, 'the same answer, not a new one');
    const [a, b] = await Promise.all([
      validatePolicyText(`${text}# 2\n`),
      validatePolicyText(`${text}# 2\n`),
    ]);
    assert.equal(a, b, 'one worker for a text asked twice while it runs');
    assert.notEqual(validatePolicyTextSync(text), first, 'another text came between');
  });

  void test('a bad policy_file at start throws the problems parsePolicyText finds, with the code', () => {
    const text = 'policies:\n  - {name: a, type: latency, latency: {threshold_ms: -1}}\n';
    const file = join(dir, 'bad-policy.yaml');
    writeFileSync(file, text);
    const parsed = parsePolicyText(text);
    assert.ok(!parsed.ok);
    const err = thrown(() => loadPolicyFile(file));
    assert.ok(err instanceof SentinelError && err.code === 'SENTINEL_ERR_POLICY_INVALID');
    assert.equal(err.message, `invalid sampling policy file:\n${formatPolicyProblems(file, parsed.errors)}`);
  });

  void describe('a central policy', () => {
    let served = '';
    let server: Server;
    let url = '';
    before(async () => {
      server = createServer((req, res) => res.writeHead(200, { etag: `"${served.length}"` }).end(served));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    void test('refused: the same problems, logged, counted; then a good one applies', async () => {
      const { logger, lines } = capturingLogger('info');
      const metrics = new Metrics();
      const source = new CentralPolicySource({
        url,
        pollIntervalMs: 60_000,
        snapshot: 'policies:\n  - {name: snapshot, type: always_sample}\n',
        logger,
        metrics,
      });
      try {
        served =
          'policies:\n  - {name: fancy, type: ottl_condition}\n  - {name: late, type: latency, latency: {}, bogus: 1}\n';
        const parsed = parsePolicyText(served);
        assert.ok(!parsed.ok);
        const refused = new Promise<PolicyProblem[]>((r) => source.once('reloadFailed', r));
        assert.equal(await source.poll(), 'failed');
        assert.deepEqual(await refused, parsed.errors);
        assert.deepEqual(source.current().names, ['snapshot']);
        assert.equal(await metrics.value('policy_reload_failures_total'), 1);
        assert.deepEqual(
          lines.filter((l) => l['level'] === 50).map((l) => l['msg']),
          parsed.errors.map((p) => `central policy refused, keeping the policy snapshot: ${p.message}`),
        );

        served = 'policies:\n  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n';
        assert.equal(await source.poll(), 'reloaded');
        assert.deepEqual(source.current().names, ['errors']);
        assert.equal(await metrics.value('policy_reloads_total'), 1);
        assert.equal(await metrics.value('policy_from_snapshot'), 0);
      } finally {
        source.close();
      }
    });
  });
});
