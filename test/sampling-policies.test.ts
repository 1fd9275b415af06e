/**
 * Policy files written as the OpenTelemetry Collector's tail_sampling README documents them
 * (test/fixtures/policies/collector-readme) parse and behave as documented there; validation errors name
 * the policy, the key, line and column; `sentinel policy check` exits 0 or 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { AnyValue, KeyValue, Resource, Span } from '../src/otlp/index.js';
import { runPolicyCommand } from '../src/sampling/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { compilePolicy } from '../src/sampling/sampling-policy.js';
import type { BufferedTrace } from '../src/sampling/buffered-trace.js';
import type { SamplingPolicy, TraceDecision } from '../src/sampling/sampling-policy.js';
import { makeSpan } from './helpers/edge-spans.js';

const fixture = (name: string) => new URL(`./fixtures/policies/collector-readme/${name}`, import.meta.url);
const readFixture = (name: string) => readFileSync(fixture(name), 'utf8');

function load(name: string): SamplingPolicy {
  const parsed = parsePolicyText(readFixture(name));
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return compilePolicy(parsed.config);
}

const MS = 1_000_000n;
let counter = 0;

/** Random-looking trace ids, as SDKs make them. */
function randomId(words = 4): string {
  let s = '';
  for (let i = 0; i < words; i++) {
    let t = (counter++ * 0x9e3779b1 + 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    s += ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  }
  return s;
}

const v = {
  s: (value: string): AnyValue => ({ kind: 'string', value }),
  i: (value: number): AnyValue => ({ kind: 'int', value: BigInt(value) }),
  b: (value: boolean): AnyValue => ({ kind: 'bool', value }),
};

interface SpanSpec {
  attrs?: Record<string, AnyValue>;
  status?: 0 | 1 | 2;
  startMs?: number;
  durMs?: number;
  traceState?: string;
}

/** A trace as the sampler buffers it: spans plus their resource. */
function trace(
  spans: SpanSpec[],
  resourceAttrs: Record<string, AnyValue> = {},
  traceId = randomId(),
): BufferedTrace {
  const resource: Resource = { attributes: kvs(resourceAttrs), droppedAttributesCount: 0 };
  const origin = {
    resource,
    resourceSchemaUrl: '',
    scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 },
    scopeSchemaUrl: '',
  };
  const out = spans.map((spec, i) => {
    const start = BigInt(spec.startMs ?? 0) * MS;
    const span: Span = makeSpan({
      traceId,
      spanId: (i + 1).toString(16).padStart(16, '0'),
      traceState: spec.traceState ?? '',
      flags: 0,
      kind: 1,
      startTimeUnixNano: start,
      endTimeUnixNano: start + BigInt(spec.durMs ?? 1) * MS,
      attributes: kvs(spec.attrs ?? {}),
      status: { code: spec.status ?? 0, message: '' },
    });
    return span;
  });
  return { traceId, firstSeenMs: 0, spans: out, origins: out.map(() => origin), bytes: out.length * 100 };
}

function kvs(attrs: Record<string, AnyValue>): KeyValue[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value }));
}

/** 1-based line of the first line containing `needle`. */
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

const keeps = (p: SamplingPolicy, t: BufferedTrace, nowMs = 0): boolean => p.decide(t, nowMs).keep;

void describe('Collector README policy files parse and behave as documented', () => {
  void test('always_sample (test-policy-1) keeps every trace, with weight 1', () => {
    const p = load('always-sample.yaml');
    const d = p.decide(trace([{}]), 0);
    assert.deepEqual([d.keep, d.reason, d.weight, d.policy], [true, 'rule', 1, 'test-policy-1']);
  });

  void test('latency (test-policy-2) keeps traces longer than 5 s and at most 10 s, from earliest start to latest end', () => {
    const p = load('latency.yaml');
    assert.equal(
      keeps(p, trace([{ durMs: 5000 }])),
      false,
      'the lower bound is exclusive with an upper bound',
    );
    assert.equal(keeps(p, trace([{ durMs: 6000 }])), true);
    assert.equal(keeps(p, trace([{ durMs: 10_000 }])), true);
    assert.equal(keeps(p, trace([{ durMs: 11_000 }])), false);
    // Two 3 s spans 4 s apart make a 7 s trace: what is between them does not matter.
    assert.equal(
      keeps(
        p,
        trace([
          { startMs: 0, durMs: 3000 },
          { startMs: 4000, durMs: 3000 },
        ]),
      ),
      true,
    );
  });

  void test('numeric_attribute (test-policy-3) keeps traces with key1 in [50, 100] on a span or the resource', () => {
    const p = load('numeric-attribute.yaml');
    assert.equal(keeps(p, trace([{ attrs: { key1: v.i(49) } }])), false);
    assert.equal(keeps(p, trace([{ attrs: { key1: v.i(50) } }])), true);
    assert.equal(keeps(p, trace([{}, { attrs: { key1: v.i(100) } }])), true);
    assert.equal(keeps(p, trace([{ attrs: { key1: v.i(101) } }])), false);
    assert.equal(keeps(p, trace([{}], { key1: v.i(75) })), true, 'resource attributes count too');
  });

  void test('probabilistic (test-policy-4) keeps 10 % of traces, each standing for 10', () => {
    const p = load('probabilistic.yaml');
    const n = 5000;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const d = p.decide(trace([{}]), 0);
      if (d.keep) {
        kept++;
        assert.equal(d.reason, 'probabilistic');
        assert.ok(Math.abs(d.weight - 10) < 1e-9);
        assert.equal(d.th, 'e6666666666668');
      }
    }
    const sigma = Math.sqrt(n * 0.1 * 0.9);
    assert.ok(Math.abs(kept - n * 0.1) <= 3 * sigma, `${kept} of ${n}`);
  });

  void test('status_code (test-policy-5) keeps traces with an ERROR or UNSET span, not OK-only ones', () => {
    const p = load('status-code.yaml');
    assert.equal(keeps(p, trace([{ status: 1 }, { status: 2 }])), true);
    assert.equal(keeps(p, trace([{ status: 1 }, { status: 0 }])), true);
    assert.equal(keeps(p, trace([{ status: 1 }, { status: 1 }])), false);
  });

  void test('string_attribute (test-policy-6, -7) matches exact values, and regular expressions when enabled', () => {
    const p = load('string-attribute.yaml');
    const d1 = p.decide(trace([{ attrs: { key2: v.s('value2') } }]), 0);
    assert.deepEqual([d1.keep, d1.policy], [true, 'test-policy-6']);
    const d2 = p.decide(trace([{ attrs: { key2: v.s('valZZZ') } }]), 0);
    assert.deepEqual([d2.keep, d2.policy], [true, 'test-policy-7'], 'val* matches by regex only');
    assert.equal(keeps(p, trace([{ attrs: { key2: v.s('other') } }])), false);
    assert.equal(keeps(p, trace([{ attrs: { key3: v.s('value1') } }])), false, 'another key does not count');
  });

  void test('rate_limiting (test-policy-8) keeps up to 35 spans per second with a two-second burst', () => {
    const p = load('rate-limiting.yaml');
    const ten = () => trace(Array.from({ length: 10 }, () => ({})));
    const first = Array.from({ length: 10 }, () => keeps(p, ten(), 1_000_000));
    assert.deepEqual(
      first,
      [true, true, true, true, true, true, true, false, false, false],
      '70 spans of burst',
    );
    const oneSecondLater = Array.from({ length: 5 }, () => keeps(p, ten(), 1_001_000));
    assert.deepEqual(oneSecondLater, [true, true, true, false, false], '35 more spans a second later');
  });

  void test('span_count (test-policy-10) keeps traces of 2 to 20 spans', () => {
    const p = load('span-count.yaml');
    const n = (k: number) => trace(Array.from({ length: k }, () => ({})));
    assert.deepEqual(
      [1, 2, 20, 21].map((k) => keeps(p, n(k))),
      [false, true, true, false],
    );
  });

  void test('trace_state (test-policy-11) keeps traces whose tracestate has key3=value1 or value2', () => {
    const p = load('trace-state.yaml');
    assert.equal(keeps(p, trace([{ traceState: 'ot=th:0,key3=value2' }])), true);
    assert.equal(keeps(p, trace([{ traceState: 'key3=value3' }])), false);
    assert.equal(keeps(p, trace([{}])), false);
  });

  void test('boolean_attribute (test-policy-12) keeps traces with key4 = true', () => {
    const p = load('boolean-attribute.yaml');
    assert.equal(keeps(p, trace([{ attrs: { key4: v.b(true) } }])), true);
    assert.equal(keeps(p, trace([{ attrs: { key4: v.b(false) } }])), false);
    assert.equal(keeps(p, trace([{ attrs: { key4: v.s('true') } }])), false, 'a string is not a boolean');
  });

  void test('and (and-policy-1) keeps only traces that every sub-policy keeps', () => {
    const p = load('and.yaml');
    assert.equal(keeps(p, trace([{ attrs: { key1: v.i(75), key2: v.s('value1') } }])), true);
    assert.equal(keeps(p, trace([{ attrs: { key1: v.i(75) } }, { attrs: { key2: v.s('value2') } }])), true);
    assert.equal(keeps(p, trace([{ attrs: { key1: v.i(75) } }])), false);
    assert.equal(keeps(p, trace([{ attrs: { key2: v.s('value1') } }])), false);
  });

  void test('drop (drop-policy-1) wins over a sample decision: /health and /metrics are never kept', () => {
    const p = load('drop.yaml');
    const d = p.decide(trace([{ attrs: { 'url.path': v.s('/health') } }]), 0);
    assert.deepEqual([d.keep, d.reason, d.policy], [false, 'dropped', 'drop-policy-1']);
    assert.equal(
      keeps(p, trace([{ attrs: { 'url.path': v.s('/api/metrics/x') } }])),
      false,
      'regex, unanchored',
    );
    assert.equal(keeps(p, trace([{ attrs: { 'url.path': v.s('/api/orders') } }])), true);
  });

  void test('composite (composite-policy-1) allots 50 % and 25 % of 1000 spans/s, always_sample fills the rest', () => {
    const p = load('composite.yaml');
    const hundred = (attrs: Record<string, AnyValue>) =>
      trace(Array.from({ length: 100 }, () => ({ attrs })));
    const t0 = 5_000_000;
    const numeric = Array.from({ length: 6 }, () => keeps(p, hundred({ key1: v.i(60) }), t0));
    assert.deepEqual(
      numeric,
      [true, true, true, true, true, false],
      '500 spans/s for test-composite-policy-1',
    );
    const string = Array.from({ length: 3 }, () => keeps(p, hundred({ key2: v.s('value1') }), t0));
    assert.deepEqual(string, [true, true, false], '250 spans/s for test-composite-policy-2');
    const rest = Array.from({ length: 4 }, () => keeps(p, hundred({}), t0));
    assert.deepEqual(rest, [true, true, true, false], 'always_sample takes what is left of the 1000');
    assert.equal(keeps(p, hundred({ key1: v.i(60) }), t0 + 1000), true, 'the budget renews every second');
  });

  void test('not keeps every trace its sub-policy would not keep', () => {
    const p = load('not.yaml');
    assert.equal(keeps(p, trace([{ attrs: { 'http.route': v.s('/health') } }])), false);
    assert.equal(keeps(p, trace([{ attrs: { 'http.route': v.s('/orders') } }])), true);
  });

  void test('invert_match: an inverted not-sample decision wins over another policy’s sample decision', () => {
    const p = load('invert-match.yaml');
    assert.equal(keeps(p, trace([{}], { 'service.name': v.s('noisy-service') })), false);
    const d = p.decide(trace([{}], { 'service.name': v.s('checkout') }), 0);
    assert.deepEqual([d.keep, d.weight], [true, 1]);
  });

  void test('the README’s practical example (rules 1 to 7) behaves rule by rule', () => {
    const p = load('practical-example.yaml');
    const svc = (name: string) => ({ 'service.name': v.s(name) });
    const route = (r: string, extra: Record<string, AnyValue> = {}) => [
      { attrs: { 'http.route': v.s(r), ...extra } },
    ];
    const decide = (spans: SpanSpec[], service: string): TraceDecision =>
      p.decide(trace(spans, svc(service)), 0);

    // Rule 1: services not using tail sampling are all kept (invert_match inside and).
    const legacy = decide(route('/anything'), 'legacy-service');
    assert.deepEqual(
      [legacy.keep, legacy.policy, legacy.weight],
      [true, 'backwards-compatibility-policy', 1],
    );
    // Rule 2: 0.1 % of probes.
    let probes = 0;
    for (let i = 0; i < 2000; i++) if (decide(route('/ready'), 'service-2').keep) probes++;
    assert.ok(probes <= 10, `${probes} of 2000 probes kept at 0.1 %`);
    // Rule 3: 1 % of the noisy endpoint, each standing for 100.
    let noisy = 0;
    for (let i = 0; i < 3000; i++) {
      const d = decide(route('/v1/name/42'), 'service-1');
      if (d.keep) {
        noisy++;
        assert.deepEqual([d.policy, Math.round(d.weight)], ['team_a-noisy-endpoint-1', 100]);
      }
    }
    assert.ok(Math.abs(noisy - 30) <= 3 * Math.sqrt(3000 * 0.01 * 0.99), `${noisy} of 3000 at 1 %`);
    // Rule 4: the rest of service-1 at 100 %.
    const other = decide(route('/orders'), 'service-1');
    assert.deepEqual([other.keep, other.policy, other.weight], [true, 'team_a-service-1', 1]);
    // Rule 5: errors of team_a's services.
    const failing = decide([{ status: 2, attrs: { 'http.route': v.s('/pay') } }], 'service-3');
    assert.deepEqual([failing.keep, failing.policy, failing.reason], [true, 'team_a-status-policy', 'rule']);
    assert.equal(decide(route('/pay'), 'service-3').keep, false, 'without an error, nothing keeps it');
    // Rule 6: the escape hatch.
    const forced = decide(route('/pay', { 'app.force_sample': v.b(true) }), 'service-3');
    assert.deepEqual([forced.keep, forced.policy], [true, 'team_a-force-sample']);
    // Rule 7: do_not_sample wins, even over an error.
    const never = decide(
      [{ status: 2, attrs: { 'http.route': v.s('/orders'), 'app.do_not_sample': v.b(true) } }],
      'service-1',
    );
    assert.deepEqual([never.keep, never.reason, never.policy], [false, 'dropped', 'do-not-sample']);
  });

  void test('the README’s main example parses whole except ottl_condition, which is refused naming the policy', () => {
    const parsed = parsePolicyText(readFixture('readme-main-example.yaml'));
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.equal(parsed.errors.length, 1);
    const [e] = parsed.errors;
    assert.equal(e?.policy, 'test-policy-13');
    assert.match(e?.message ?? '', /type "ottl_condition" is not supported by Sentinel/);
    assert.equal(e?.line, lineOf(readFixture('readme-main-example.yaml'), 'type: ottl_condition'));
    // Without test-policy-13 the other 15 policies (bytes_limiting included) are accepted.
    const doc = parseYaml(readFixture('readme-main-example.yaml')) as {
      processors: { tail_sampling: { policies: Array<{ name: string }> } };
    };
    const ts = doc.processors.tail_sampling;
    ts.policies = ts.policies.filter((x) => x.name !== 'test-policy-13');
    const rest = parsePolicyText(stringifyYaml(doc));
    assert.ok(rest.ok, rest.ok ? '' : rest.errors.map((x) => x.message).join('\n'));
    if (!rest.ok) return;
    assert.equal(rest.config.policies.length, 15);
    assert.deepEqual(
      rest.warnings.map((w) => w.key),
      ['decision_wait', 'num_traces', 'expected_new_traces_per_sec', 'decision_cache'],
      'processor-level keys are reported as ignored',
    );
  });

  void test('the README’s rule 7 as printed (a string_attribute block under type boolean_attribute) is an error', () => {
    const parsed = parsePolicyText(readFixture('readme-rule-7-verbatim.yaml'));
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.ok(parsed.errors.every((e) => e.policy === 'do-not-sample > team_a-do-not-sample'));
    assert.ok(parsed.errors.some((e) => /needs a boolean_attribute: block/.test(e.message)));
    const line = lineOf(readFixture('readme-rule-7-verbatim.yaml'), 'string_attribute: {');
    assert.ok(parsed.errors.some((e) => e.key === 'string_attribute' && e.line === line));
  });
});

void describe('policies shipped elsewhere in the repository', () => {
  void test('the Helm chart’s default samplingPolicy validates', () => {
    const values = parseYaml(
      readFileSync(new URL('../charts/sentinel/values.yaml', import.meta.url), 'utf8'),
    ) as {
      agent: { samplingPolicy: unknown };
    };
    const parsed = parsePolicyText(stringifyYaml(values.agent.samplingPolicy));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.map((e) => e.message).join('\n'));
  });
});

void describe('validation errors', () => {
  const problems = (text: string) => {
    const r = parsePolicyText(text);
    assert.equal(r.ok, false, 'expected the file to be refused');
    return r.ok ? [] : r.errors;
  };

  void test('a YAML syntax error carries its line and column', () => {
    const [e] = problems('policies:\n  - name: a\n    type: always_sample\n  - name: [b\n');
    assert.match(e?.message ?? '', /not valid YAML/);
    assert.ok(e?.line !== undefined && e.line >= 4, JSON.stringify(e));
    assert.ok(e?.column !== undefined && e.column >= 1);
  });

  void test('a bad value names the policy, the key, what was expected and what was found', () => {
    const [e] = problems('policies:\n  - name: slow\n    type: latency\n    latency: {threshold_ms: fast}\n');
    assert.equal(e?.policy, 'slow');
    assert.equal(e?.key, 'latency.threshold_ms');
    assert.match(e?.message ?? '', /expected number, got "fast"/);
    assert.deepEqual([e?.line, e?.column], [4, 29]);
  });

  void test('nested policies are named with their parents, and unknown keys are errors', () => {
    const errs = problems(`policies:
  - name: outer
    type: and
    and:
      and_sub_policy:
        - name: inner
          type: probabilistic
          probabilistic: {sampling_percent: 10}
`);
    assert.ok(errs.some((e) => e.policy === 'outer > inner' && e.key === 'probabilistic.sampling_percent'));
    assert.ok(
      errs.some((e) => e.policy === 'outer > inner' && e.key === 'probabilistic.sampling_percentage'),
    );
  });

  void test('a missing type is one problem, and a list where one policy belongs is named by its key', () => {
    const missing = problems('policies:\n  - name: a\n');
    assert.equal(missing.length, 1);
    assert.match(missing[0]?.message ?? '', /policy "a": type: required: one of always_sample/);
    const [notList] = problems(
      'policies:\n  - name: n\n    type: not\n    not:\n      not_sub_policy:\n        - {name: x, type: always_sample}\n',
    );
    assert.equal(notList?.policy, 'n');
    assert.equal(notList?.key, 'not.not_sub_policy');
  });

  void test('an unknown type, an empty list, duplicate names and a bad regex are each refused', () => {
    assert.match(problems('policies: [{name: a, type: magic}]')[0]?.message ?? '', /unknown type "magic"/);
    assert.match(problems('policies: []')[0]?.message ?? '', /at least one policy/);
    assert.match(
      problems('policies: [{name: a, type: always_sample}, {name: a, type: always_sample}]')[0]?.message ??
        '',
      /duplicate policy name "a"/,
    );
    const re = problems(
      'policies: [{name: r, type: string_attribute, string_attribute: {key: k, values: ["(x"], enabled_regex_matching: true}}]',
    );
    assert.match(re[0]?.message ?? '', /values\[0\]: expected a regular expression/);
  });
});

void describe('sentinel policy check', () => {
  const run = async (argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runPolicyCommand(argv, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    return { code, stdout, stderr };
  };

  void test('exits 0 for a valid file', async () => {
    const r = await run(['check', fixture('practical-example.yaml').pathname]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /ok, 7 policies/);
  });

  void test('exits 1 with FILE:LINE:COLUMN lines for an invalid file', async () => {
    const path = fixture('readme-main-example.yaml').pathname;
    const r = await run(['check', path]);
    assert.equal(r.code, 1);
    const line = lineOf(readFixture('readme-main-example.yaml'), 'type: ottl_condition');
    assert.ok(
      r.stderr.includes(`${path}:${line}:21: policy "test-policy-13": type: type "ottl_condition"`),
      r.stderr,
    );
  });

  void test('runs as `sentinel policy check` from the CLI with the exit status', () => {
    const cli = new URL('../src/cli.ts', import.meta.url).pathname;
    const check = (name: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', cli, 'policy', 'check', fixture(name).pathname], {
        encoding: 'utf8',
      });
    const good = check('and.yaml');
    assert.equal(good.status, 0, good.stderr);
    const bad = check('readme-rule-7-verbatim.yaml');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /policy "do-not-sample > team_a-do-not-sample"/);
  });

  void test('exits 1 for a file that does not exist, and 2 for a usage error', async () => {
    assert.equal((await run(['check', '/nonexistent/policy.yaml'])).code, 1);
    assert.equal((await run(['validate'])).code, 2);
  });
});
