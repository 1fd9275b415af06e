/**
 * Hot reload of the policy file, mounted the way the kubelet mounts a ConfigMap: the file is a symlink
 * through `..data`, which is swapped atomically to a new timestamped directory on every update.
 */
import assert from 'node:assert/strict';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SentinelError } from '../src/errors.js';
import type { TraceBatch } from '../src/otlp/index.js';
import { createTailSampler } from '../src/sampling/index.js';
import { PolicyFileSource } from '../src/sampling/policy-file-source.js';
import { validatePolicyTextSync } from '../src/sampling/policy-validation.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import type { PolicyProblem } from '../src/sampling/policy-problems.js';
import type { SamplingPolicy } from '../src/sampling/sampling-policy.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { ConfigMapVolume as SharedConfigMapVolume } from './helpers/config-map-volume.js';
import { makeSpan } from './helpers/edge-spans.js';
import { ManualClock } from '../src/clock.js';
import { capturingLogger } from './helpers/capturing-logger.js';

const KEEP_ALL = 'policies:\n  - name: keep-everything\n    type: always_sample\n';
const ERRORS_ONLY =
  'policies:\n  - name: errors-only\n    type: status_code\n    status_code: {status_codes: [ERROR]}\n';
const BAD_SYNTAX = 'policies:\n  - name: broken\n    type: [always_sample\n';
const BAD_TYPE = 'policies:\n  - name: fancy\n    type: ottl_condition\n    ottl_condition: {span: []}\n';

const dirs: string[] = [];
const closers: Array<() => void> = [];
after(() => {
  for (const c of closers) c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A ConfigMap volume whose directory is removed after the tests. */
class ConfigMapVolume extends SharedConfigMapVolume {
  constructor(text: string) {
    super(text);
    dirs.push(this.dir);
  }
}

/** Resolves with the event's payload, or rejects if it does not come within `ms` (real time). */
function nextEvent<T>(source: PolicyFileSource, event: 'reload' | 'reloadFailed', ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    source.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

function oneSpanBatch(traceId: string, error: boolean): TraceBatch {
  const span = makeSpan({
    traceId,
    spanId: '00000000000000aa',
    flags: 0,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    status: { code: error ? 2 : 0, message: '' },
  });
  return {
    data: {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          schemaUrl: '',
          scopeSpans: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              spans: [span],
              schemaUrl: '',
            },
          ],
        },
      ],
    },
    spanCount: 1,
    bytes: 100,
  };
}

void describe('policy hot reload', () => {
  void test('a bad file never changes behaviour; a good one applies within 2 s to traces not yet decided', async () => {
    const volume = new ConfigMapVolume(KEEP_ALL);
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger('info');
    const source = new PolicyFileSource({ file: volume.file, logger, metrics, pollIntervalMs: 500 }).start();
    closers.push(() => source.close());
    const clock = new ManualClock();
    const out = new CollectingConsumer();
    const sampler = new TailSampler({
      next: out,
      policySource: source,
      metrics,
      logger: silentLogger(),
      decisionWaitMs: 10_000,
      maxTraces: 1000,
      maxBufferedBytes: 1 << 20,
      clock,
    });
    const first = source.current();

    // Two bad versions in a row: a syntax error and an unsupported type.
    const failed1 = nextEvent<PolicyProblem[]>(source, 'reloadFailed', 2000);
    volume.update(BAD_SYNTAX);
    const problems1 = await failed1;
    const syntaxLine = problems1[0]?.line ?? 0;
    assert.ok(syntaxLine >= 3, 'the syntax error is reported with its line (where the parser noticed it)');
    const failed2 = nextEvent<PolicyProblem[]>(source, 'reloadFailed', 2000);
    volume.update(BAD_TYPE);
    const problems2 = await failed2;
    assert.equal(problems2[0]?.policy, 'fancy');
    assert.equal(source.current(), first, 'the last good policy stays in force');
    assert.equal(await metrics.value('policy_reload_failures_total'), 2);
    const logged = lines.filter((l) => l['level'] === 50);
    assert.ok(
      logged.some((l) => l['line'] === 3 && typeof l['column'] === 'number'),
      'logged with line and column',
    );
    assert.ok(logged.some((l) => String(l['msg']).includes('ottl_condition')));

    // Behaviour is unchanged: a non-error trace is still kept.
    await sampler.consume(oneSpanBatch('0af7651916cd43dd8448eb211c80319c', false));
    clock.advance(10_000);
    await sampler.drain();
    assert.equal(out.spanCount(), 1);

    // A trace waits in the buffer; the good file arrives before its decision and decides it.
    await sampler.consume(oneSpanBatch('4bf92f3577b34da6a3ce929d0e0e4736', false));
    await sampler.consume(oneSpanBatch('5bf92f3577b34da6a3ce929d0e0e4736', true));
    const reloaded = nextEvent<SamplingPolicy>(source, 'reload', 2000);
    volume.update(ERRORS_ONLY);
    const policy = await reloaded;
    assert.deepEqual(policy.names, ['errors-only']);
    assert.equal(source.current(), policy);
    assert.equal(await metrics.value('policy_reloads_total'), 1);
    clock.advance(10_000);
    await sampler.drain();
    assert.deepEqual(
      out.spans().map((s) => s.traceId),
      ['0af7651916cd43dd8448eb211c80319c', '5bf92f3577b34da6a3ce929d0e0e4736'],
      'the waiting non-error trace is dropped under the new policy; the error trace is kept',
    );
    await sampler.shutdown();
  });

  void test('the stat fallback alone picks up a change on the next poll of the injected clock', () => {
    const volume = new ConfigMapVolume(KEEP_ALL);
    const clock = new ManualClock();
    const metrics = new Metrics();
    // Not started: no fs.watch; only the poll on the injected clock.
    const source = new PolicyFileSource({
      file: volume.file,
      logger: silentLogger(),
      metrics,
      clock,
      pollIntervalMs: 1000,
    });
    closers.push(() => source.close());
    assert.equal(source.check(), 'unchanged');
    volume.update(ERRORS_ONLY);
    assert.equal(source.check(), 'reloaded');
    assert.deepEqual(source.current().names, ['errors-only']);
    volume.update(ERRORS_ONLY);
    assert.equal(source.check(), 'unchanged', 'same text in a new version changes nothing');
    // The file disappearing (a broken mount) is a failure that keeps the policy.
    unlinkSync(join(volume.dir, '..data'));
    assert.equal(source.check(), 'failed');
    assert.deepEqual(source.current().names, ['errors-only']);
  });

  void test('a change that could not be validated (its process failed) is counted, and read again at the next check', () => {
    const volume = new ConfigMapVolume(KEEP_ALL);
    const metrics = new Metrics();
    let calls = 0;
    const source = new PolicyFileSource({
      file: volume.file,
      logger: silentLogger(),
      metrics,
      clock: new ManualClock(),
      validate: (text) => {
        calls++;
        if (calls === 2) throw new Error('the policy-worker process did not answer (signal SIGKILL)');
        return validatePolicyTextSync(text);
      },
    });
    closers.push(() => source.close());
    volume.update(ERRORS_ONLY);
    assert.equal(source.check(), 'failed');
    assert.deepEqual(source.current().names, ['keep-everything']);
    assert.equal(calls, 2);
    // The file did not change again, yet it is read and validated again: nothing was judged.
    assert.equal(source.check(), 'reloaded');
    assert.deepEqual(source.current().names, ['errors-only']);
    assert.equal(calls, 3);
    assert.equal(source.check(), 'unchanged');
  });

  void test('a change made while a background check validates is checked when that one ends', async () => {
    const volume = new ConfigMapVolume(KEEP_ALL);
    const metrics = new Metrics();
    const texts: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const source = new PolicyFileSource({
      file: volume.file,
      logger: silentLogger(),
      metrics,
      clock: new ManualClock(),
      validateAsync: async (text) => {
        texts.push(text);
        if (texts.length === 1) await gate;
        return validatePolicyTextSync(text);
      },
    });
    closers.push(() => source.close());
    volume.update(BAD_TYPE);
    const first = source.checkInBackground();
    volume.update(ERRORS_ONLY);
    assert.equal(source.checkInBackground(), first, 'one check at a time');
    release();
    assert.equal(await first, 'reloaded');
    assert.deepEqual(texts, [BAD_TYPE, ERRORS_ONLY]);
    assert.deepEqual(source.current().names, ['errors-only']);
    assert.equal(await metrics.value('policy_reload_failures_total'), 1);
  });

  void test('polling alone, on the injected clock, applies a change at the next poll, without blocking', async () => {
    const volume = new ConfigMapVolume(KEEP_ALL);
    const clock = new ManualClock();
    const source = new PolicyFileSource({
      file: volume.file,
      logger: silentLogger(),
      metrics: new Metrics(),
      clock,
      pollIntervalMs: 1000,
      watch: false,
    }).start();
    closers.push(() => source.close());
    volume.update(ERRORS_ONLY);
    clock.advance(999);
    assert.deepEqual(source.current().names, ['keep-everything'], 'not before the poll');
    const reloaded = nextEvent<SamplingPolicy>(source, 'reload', 10_000);
    clock.advance(1);
    // The poll read the file and handed it to the validating process: this thread did not wait for it.
    assert.deepEqual(source.current().names, ['keep-everything']);
    assert.deepEqual((await reloaded).names, ['errors-only']);
    assert.deepEqual(source.current().names, ['errors-only']);
    source.close();
    assert.equal(clock.pendingTimers(), 0, 'close stops polling');
  });

  void test('a bad file at start is an error with its code; an empty policy_file keeps everything', async () => {
    const volume = new ConfigMapVolume(BAD_TYPE);
    assert.throws(
      () => new PolicyFileSource({ file: volume.file, logger: silentLogger(), metrics: new Metrics() }),
      (err: unknown) =>
        err instanceof SentinelError &&
        err.code === 'SENTINEL_ERR_POLICY_INVALID' &&
        /fancy/.test(err.message),
    );
    assert.throws(
      () =>
        new PolicyFileSource({
          file: join(volume.dir, 'missing.yaml'),
          logger: silentLogger(),
          metrics: new Metrics(),
        }),
      (err: unknown) => err instanceof SentinelError && err.code === 'SENTINEL_ERR_POLICY_READ',
    );
    const out = new CollectingConsumer();
    const sampler = createTailSampler(
      {
        policy_file: '',
        central_policy: { url: '', poll_interval: 30_000, bearer_token_file: '', tls: { ca_file: '' } },
        policy_snapshot: '',
        decision_wait: 10_000,
        num_traces: 100,
        max_buffered_bytes: 1 << 20,
        decision_cache: { sampled_cache_size: 10, non_sampled_cache_size: 10 },
        completion: {
          enabled: false,
          window: 30_000,
          max_bytes: 1 << 20,
          poll_interval: 1000,
          stores: [],
          stores_dns: '',
          bearer_token_file: '',
          tls: { ca_file: '', insecure_skip_verify: false },
        },
      },
      { next: out, metrics: new Metrics(), logger: silentLogger() },
    );
    await sampler.consume(oneSpanBatch('0af7651916cd43dd8448eb211c80319c', false));
    assert.equal(out.spanCount(), 1);
    await sampler.shutdown();
  });
});
