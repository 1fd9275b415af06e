/**
 * Issue 16: logs follow their trace. Log records with a trace id wait with it in the sampler's buffer (and
 * budget), are kept or dropped with it carrying its weight, are held and released with its spans by the
 * decision feed, follow the decision cache when late; records that follow no trace are decided by the policy
 * file's `logs:` section. Requests are written by the SDK's own protobuf serializer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findAttribute } from '../src/otlp/index.js';
import type { Span } from '../src/otlp/index.js';
import { runPolicyCommand } from '../src/sampling/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { compilePolicy, keepAllPolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import type { SamplingPolicy } from '../src/sampling/sampling-policy.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeSpan, spanBatch } from './helpers/edge-spans.js';
import { ERRORS_PLUS_10 } from './helpers/logs-scenario.js';
import { SeededIds } from './helpers/seeded-ids.js';
import { logsBatch, LogsCollectingConsumer, type LogSpec } from './helpers/sdk-logs.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/clock.js';

function policyOf(text: string): SamplingPolicy {
  const parsed = parsePolicyText(text);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return compilePolicy(parsed.config);
}

let spanNo = 0;
function span(traceId: string, error = false): Span {
  spanNo++;
  return makeSpan({
    traceId,
    spanId: spanNo.toString(16).padStart(16, '0'),
    status: { code: error ? 2 : 0, message: '' },
  });
}

function setup(policyText: string, opts: { completion?: boolean; maxBufferedBytes?: number } = {}) {
  const clock = new ManualClock();
  const out = new LogsCollectingConsumer();
  const metrics = new Metrics();
  const sampler = new TailSampler({
    next: out,
    policySource: staticPolicySource(policyOf(policyText)),
    metrics,
    logger: silentLogger(),
    decisionWaitMs: 1000,
    maxTraces: 100_000,
    maxBufferedBytes: opts.maxBufferedBytes ?? 1 << 30,
    clock,
    ...(opts.completion ? { completion: { windowMs: 30_000, maxBytes: 1 << 30 } } : {}),
  });
  return { clock, out, metrics, sampler };
}

const P = policyOf(ERRORS_PLUS_10);
const ids = new SeededIds(16);
/** Trace ids the 10 % hash keeps, and ids it drops. */
function idsBy(keep: boolean, n: number): string[] {
  const found: string[] = [];
  while (found.length < n) {
    const id = ids.generateTraceId();
    const t = { traceId: id, firstSeenMs: 0, spans: [span(id)], origins: [], bytes: 0 };
    if (P.decide(t, 0).keep === keep) found.push(id);
  }
  return found;
}
const KEPT = idsBy(true, 4);
const DROPPED = idsBy(false, 10);

const weightOf = (s: Span) => {
  const v = findAttribute(s.attributes, 'sampling.weight');
  return v?.kind === 'double' ? v.value : undefined;
};

const logsOf = (traceId: string, n: number, extra: Partial<LogSpec> = {}): LogSpec[] =>
  Array.from({ length: n }, (_, k) => ({ traceId, severityNumber: 9, body: `line ${k}`, ...extra }));

describe('logs wait with their trace', () => {
  test('records are kept with a kept trace, carrying its weight, and dropped with a dropped one', async () => {
    const { clock, out, sampler, metrics } = setup(ERRORS_PLUS_10);
    const [kept, dropped] = [KEPT[0]!, DROPPED[0]!];
    await sampler.consume(spanBatch([span(kept), span(dropped)]));
    const before = sampler.bufferedBytes();
    await sampler.consumeLogs(logsBatch([...logsOf(kept, 3), ...logsOf(dropped, 2)]));
    assert.ok(sampler.bufferedBytes() > before, 'the records count in the buffer bytes');
    assert.equal(out.logs().length, 0, 'nothing leaves before the decision');
    clock.advance(1000);
    await sampler.drain();
    const logs = out.logs();
    assert.deepEqual(
      logs.map((l) => l.traceId),
      [kept, kept, kept],
    );
    for (const l of logs) assert.ok(Math.abs(l.weight! - 10) < 1e-9, 'weight 1/p of the 10 % policy');
    assert.deepEqual(
      logs.map((l) => l.body),
      ['line 0', 'line 1', 'line 2'],
    );
    assert.equal(weightOf(out.spans()[0]!), logs[0]!.weight, 'the spans carry the same weight');
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'trace' }), 3);
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'dropped', reason: 'trace' }), 2);
    assert.equal(sampler.bufferedBytes(), 0);
  });

  test('a record that comes before its spans opens the trace, and the spans join it', async () => {
    const { clock, out, sampler, metrics } = setup(ERRORS_PLUS_10);
    const id = DROPPED[1]!;
    await sampler.consumeLogs(logsBatch(logsOf(id, 2)));
    // The gauge is read when scraped.
    assert.equal(await metrics.value('sampling_buffered_logs'), 2);
    clock.advance(500);
    await sampler.consume(spanBatch([span(id, true)])); // an error: kept by rule
    clock.advance(500);
    await sampler.drain();
    assert.equal(out.spans().length, 1);
    assert.equal(await metrics.value('sampling_buffered_logs'), 0);
    assert.deepEqual(
      out.logs().map((l) => [l.traceId, l.weight]),
      [
        [id, 1],
        [id, 1],
      ],
    );
  });

  test('a record after its trace was decided follows the decision cache', async () => {
    const { clock, out, sampler, metrics } = setup(ERRORS_PLUS_10);
    const [kept, dropped] = [KEPT[1]!, DROPPED[2]!];
    await sampler.consume(spanBatch([span(kept), span(dropped)]));
    clock.advance(1000);
    await sampler.consumeLogs(logsBatch([...logsOf(kept, 1), ...logsOf(dropped, 1)]));
    await sampler.drain();
    assert.deepEqual(
      out.logs().map((l) => l.traceId),
      [kept],
    );
    assert.ok(Math.abs(out.logs()[0]!.weight! - 10) < 1e-9);
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'late' }), 1);
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'dropped', reason: 'late' }), 1);
  });

  test('records whose trace never comes as spans are orphaned and decided by the logs policy', async () => {
    const { clock, out, sampler, metrics } = setup(
      ERRORS_PLUS_10 +
        `logs:\n  policies:\n    - { name: warnings, type: severity, severity: { min: WARN } }\n`,
    );
    const id = DROPPED[3]!;
    await sampler.consumeLogs(
      logsBatch([
        { traceId: id, severityNumber: 9, body: 'info' },
        { traceId: id, severityNumber: 13, body: 'warn' },
      ]),
    );
    clock.advance(1000);
    await sampler.drain();
    assert.deepEqual(
      out.logs().map((l) => [l.body, l.weight]),
      [['warn', 1]],
    );
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'orphaned' }), 1);
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'dropped', reason: 'orphaned' }), 1);
    assert.equal(
      await metrics.value('sampling_decisions_total', { policy: '_none', decision: 'not_sampled' }),
      0,
    );
  });

  test('records without a trace id are kept as they came, or sampled by the logs policy', async () => {
    const plain = setup(ERRORS_PLUS_10);
    await plain.sampler.consumeLogs(logsBatch([{ body: 'a' }, { body: 'b', severityNumber: 5 }]));
    await plain.sampler.drain();
    assert.deepEqual(
      plain.out.logs().map((l) => [l.body, l.weight]),
      [
        ['a', undefined],
        ['b', undefined],
      ],
    );

    const { out, sampler, metrics } = setup(
      ERRORS_PLUS_10 +
        `logs:
  policies:
    - { name: warnings, type: severity, severity: { min: WARN } }
    - name: payments
      type: match
      match: { match_type: regexp, bodies: ['^payment '], record_attributes: [{ key: tenant, value: acme }] }
    - { name: some-info, type: probabilistic, probabilistic: { sampling_percentage: 25 } }
`,
    );
    const specs: LogSpec[] = [
      { body: 'disk almost full', severityNumber: 13 },
      { body: 'payment accepted', severityNumber: 9, attributes: { tenant: 'acme' } },
      { body: 'payment accepted', severityNumber: 9, attributes: { tenant: 'other' } },
      ...Array.from({ length: 2000 }, (_, k) => ({ body: `info ${k}`, severityNumber: 9, timeMs: 1e12 + k })),
    ];
    await sampler.consumeLogs(logsBatch(specs));
    await sampler.drain();
    const logs = out.logs();
    assert.deepEqual(
      logs.slice(0, 2).map((l) => [l.body, l.weight]),
      [
        ['disk almost full', 1],
        ['payment accepted', 1],
      ],
    );
    const info = logs.slice(2);
    assert.ok(info.every((l) => l.body.startsWith('info ') && Math.abs(l.weight! - 4) < 1e-9));
    // 2,002 info records at 25 %: the weighted count estimates them.
    const estimate = info.reduce((n, l) => n + l.weight!, 0);
    assert.ok(Math.abs(estimate - 2001) / 2001 < 0.1, `estimated ${estimate} of 2001`);
    assert.equal(
      await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'no_trace_id' }),
      logs.length,
    );
  });

  test('with no policy file every record passes through as it came', async () => {
    const out = new LogsCollectingConsumer();
    const sampler = new TailSampler({
      next: out,
      policySource: staticPolicySource(keepAllPolicy),
      metrics: new Metrics(),
      logger: silentLogger(),
      decisionWaitMs: 1000,
      maxTraces: 10,
      maxBufferedBytes: 1 << 20,
    });
    const batch = logsBatch(logsOf(KEPT[0]!, 2));
    await sampler.consumeLogs(batch);
    assert.equal(out.logBatches[0], batch);
  });

  test('records count in max_buffered_bytes: past it the oldest trace is decided early, its logs with it', async () => {
    const { out, sampler, metrics } = setup(ERRORS_PLUS_10, { maxBufferedBytes: 20_000 });
    const id = KEPT[2]!;
    await sampler.consume(spanBatch([span(id)]));
    await sampler.consumeLogs(logsBatch(logsOf(id, 200, { body: 'x'.repeat(100) })));
    await sampler.drain();
    assert.equal(await metrics.value('sampling_early_decisions_total', { reason: 'memory' }), 1);
    assert.equal(out.logs().length, 200);
  });
});

describe('logs and the decision feed', () => {
  test('records of a dropped trace are held with its spans and released with them', async () => {
    const { clock, out, sampler, metrics } = setup(ERRORS_PLUS_10, { completion: true });
    const id = DROPPED[4]!;
    await sampler.consume(spanBatch([span(id), span(id)]));
    await sampler.consumeLogs(logsBatch(logsOf(id, 3)));
    clock.advance(1000);
    await sampler.consumeLogs(logsBatch(logsOf(id, 1, { body: 'late' }))); // late: waits with the held trace
    await sampler.drain();
    assert.equal(out.logs().length, 0);
    assert.equal(sampler.stats().held.spans, 2, 'held records are not counted as spans');

    assert.equal(sampler.release([id]), 2);
    await sampler.drain();
    const logs = out.logs();
    assert.equal(logs.length, 4);
    for (const l of logs) {
      assert.equal(l.weight, 1);
      assert.equal(l.attributes['sampling.completed'], true);
    }
    assert.equal(await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'released' }), 4);
    // After the release, late records follow the completed decision.
    await sampler.consumeLogs(logsBatch(logsOf(id, 1, { body: 'later' })));
    await sampler.drain();
    assert.equal(out.logs().length, 5);
    assert.equal(out.logs()[4]!.attributes['sampling.completed'], true);
  });

  test('records of a trace the feed named while it waited are kept as completed', async () => {
    const { clock, out, sampler } = setup(ERRORS_PLUS_10, { completion: true });
    const [withSpans, logsOnly] = [DROPPED[5]!, DROPPED[6]!];
    await sampler.consume(spanBatch([span(withSpans)]));
    await sampler.consumeLogs(logsBatch([...logsOf(withSpans, 1), ...logsOf(logsOnly, 1)]));
    sampler.release([withSpans, logsOnly]);
    clock.advance(1000);
    await sampler.drain();
    assert.deepEqual(
      out
        .logs()
        .map((l) => [l.traceId, l.attributes['sampling.completed']])
        .sort(),
      [
        [withSpans, true],
        [logsOnly, true],
      ].sort(),
    );
  });
});

const LOG_SEVERITY = `
  - name: warnings
    type: log_severity
    log_severity: { min_severity: WARN }
`;

describe('log_severity: logs can keep their trace', () => {
  test('a trace with no error span but a WARN log is kept with its spans and logs; dropped without the policy', async () => {
    for (const withPolicy of [true, false]) {
      const { clock, out, sampler } = setup(ERRORS_PLUS_10 + (withPolicy ? LOG_SEVERITY : ''));
      const id = DROPPED[7]!;
      await sampler.consume(spanBatch([span(id), span(id)]));
      await sampler.consumeLogs(
        logsBatch([
          { traceId: id, severityNumber: 9, body: 'start' },
          { traceId: id, severityNumber: 13, severityText: 'WARN', body: 'retrying payment' },
        ]),
      );
      clock.advance(1000);
      await sampler.drain();
      assert.equal(out.spans().length, withPolicy ? 2 : 0);
      assert.equal(out.logs().length, withPolicy ? 2 : 0);
      if (withPolicy) for (const l of out.logs()) assert.equal(l.weight, 1, 'a rule keep');
    }
  });

  test('body and attribute matches narrow it; an INFO-only trace is not kept', async () => {
    const { clock, out, sampler } = setup(
      ERRORS_PLUS_10 +
        `  - name: timeouts
    type: log_severity
    log_severity: { min_severity: warn, match_type: regexp, bodies: [timeout], record_attributes: [{ key: tenant, value: acme }] }
`,
    );
    const [hit, wrongBody, infoOnly] = [DROPPED[7]!, DROPPED[8]!, DROPPED[9]!];
    await sampler.consume(spanBatch([span(hit), span(wrongBody), span(infoOnly)]));
    await sampler.consumeLogs(
      logsBatch([
        { traceId: hit, severityNumber: 17, body: 'upstream timeout', attributes: { tenant: 'acme' } },
        { traceId: wrongBody, severityNumber: 17, body: 'refused', attributes: { tenant: 'acme' } },
        { traceId: infoOnly, severityNumber: 9, body: 'timeout', attributes: { tenant: 'acme' } },
      ]),
    );
    clock.advance(1000);
    await sampler.drain();
    assert.deepEqual(
      out.spans().map((s) => s.traceId),
      [hit],
    );
  });
});

describe('the logs policy section is validated', () => {
  const errorsOf = (text: string) => {
    const r = parsePolicyText(text);
    return r.ok ? [] : r.errors.map((e) => e.message);
  };
  test('bad input gets clear errors naming the policy and the key', async () => {
    const bad = errorsOf(
      ERRORS_PLUS_10 +
        `logs:
  policies:
    - { name: a, type: severity, severity: { min: LOUD } }
    - { name: b, type: sample_some }
    - { name: c, type: match, match: { match_type: regexp, bodies: ['(unclosed'] } }
    - { name: d, type: probabilistic }
    - { name: e, type: severity, severity: { min: 3 }, match: { bodies: [x] } }
`,
    );
    const text = bad.join('\n');
    assert.match(
      text,
      /policy "a": severity\.min: expected a severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.*got "LOUD"/,
    );
    assert.match(
      text,
      /policy "b": type: expected one of "always_sample" \| "severity" \| "match" \| "probabilistic"/,
    );
    assert.match(text, /policy "c": match\.bodies\[0\]: expected a regular expression, got "\(unclosed"/);
    assert.match(text, /policy "d": type: type probabilistic needs a probabilistic: block/);
    assert.match(
      text,
      /policy "e": match: a match: block belongs to type match, but this policy has type severity/,
    );
    assert.ok(
      bad.every((m) => /\(line \d+, column \d+\)$/.test(m)),
      text,
    );

    assert.match(
      errorsOf(
        ERRORS_PLUS_10 + `  - { name: w, type: log_severity, log_severity: { min_severity: 30 } }\n`,
      ).join('\n'),
      /policy "w": log_severity\.min_severity: expected a severity.*got 30/,
    );

    const dir = await mkdtemp(join(tmpdir(), 'logs-policy-'));
    const file = join(dir, 'policy.yaml');
    await writeFile(
      file,
      ERRORS_PLUS_10 + `logs:\n  policies:\n    - { name: a, type: severity, severity: { minimum: WARN } }\n`,
    );
    const io = { out: '', err: '' };
    const code = await runPolicyCommand(['check', file], {
      stdout: { write: (s: string) => (io.out += s) },
      stderr: { write: (s: string) => (io.err += s) },
    });
    assert.equal(code, 1);
    assert.match(io.err, /policy\.yaml:\d+:\d+: policy "a": severity\.minimum: unknown key/);

    await writeFile(
      file,
      ERRORS_PLUS_10 +
        LOG_SEVERITY +
        `logs:\n  policies:\n    - { name: warn-up, type: severity, severity: { min: WARN } }\n`,
    );
    io.out = '';
    assert.equal(
      await runPolicyCommand(['check', file], {
        stdout: { write: (s: string) => (io.out += s) },
        stderr: { write: () => true },
      }),
      0,
    );
    assert.match(
      io.out,
      /ok, 3 policies: errors \(status_code\), ten-percent \(probabilistic\), warnings \(log_severity\); 1 logs policies: warn-up \(severity\)/,
    );
  });
});
