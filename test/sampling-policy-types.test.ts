/**
 * Every leaf policy type in src/sampling/policies/index.ts is wired through by being listed there: it is
 * supported, its block is validated by its own schema (unknown keys, a missing block and another type's
 * block are errors) and it compiles into an evaluator. A new type needs its file, its line in the list and a
 * minimal block here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { LEAF_POLICY_TYPES } from '../src/sampling/policies/index.js';
import { SUPPORTED_POLICY_TYPES, parsePolicyText } from '../src/sampling/policy-config.js';
import { compileEvaluator } from '../src/sampling/policy-evaluators.js';

/** A valid block for each leaf type that takes one. */
const MINIMAL_BLOCK: Record<string, Record<string, unknown>> = {
  latency: { threshold_ms: 100 },
  status_code: { status_codes: ['ERROR'] },
  probabilistic: { sampling_percentage: 10 },
  string_attribute: { key: 'k', values: ['v'] },
  numeric_attribute: { key: 'k', min_value: 1 },
  boolean_attribute: { key: 'k', value: true },
  span_count: { min_spans: 2 },
  trace_state: { key: 'k', values: ['v'] },
  rate_limiting: { spans_per_second: 10 },
  bytes_limiting: { bytes_per_second: 1000 },
  log_severity: { min_severity: 'WARN' },
};

const policyText = (policy: Record<string, unknown>) => stringify({ policies: [{ name: 'p', ...policy }] });

function errorsOf(policy: Record<string, unknown>): string[] {
  const parsed = parsePolicyText(policyText(policy));
  return parsed.ok ? [] : parsed.errors.map((e) => e.message);
}

void describe('policy types listed in src/sampling/policies', () => {
  void test('the supported types are the listed files, then and, composite, drop, not', () => {
    assert.deepEqual(SUPPORTED_POLICY_TYPES, [
      ...LEAF_POLICY_TYPES.map((m) => m.type),
      'and',
      'composite',
      'drop',
      'not',
    ]);
  });

  for (const module of LEAF_POLICY_TYPES) {
    const type = module.type;
    void test(`${type}: validated by its schema and compiled into an evaluator`, () => {
      if (module.schema === undefined) {
        assert.equal(MINIMAL_BLOCK[type], undefined);
        const parsed = parsePolicyText(policyText({ type }));
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.map((e) => e.message).join('\n'));
        assert.equal(compileEvaluator(parsed.config.policies[0]!).name, 'p');
        return;
      }
      const block = MINIMAL_BLOCK[type];
      assert.ok(block, `test/sampling-policy-types.test.ts needs a minimal ${type}: block`);
      const parsed = parsePolicyText(policyText({ type, [type]: block }));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.map((e) => e.message).join('\n'));
      const policy = parsed.config.policies[0]!;
      assert.equal(policy.type, type);
      assert.equal(compileEvaluator(policy).name, 'p');

      assert.ok(errorsOf({ type }).some((m) => m.includes(`type ${type} needs a ${type}: block`)));
      assert.ok(
        errorsOf({ type, [type]: { ...block, no_such_key: 1 } }).some((m) =>
          m.includes(`${type}.no_such_key: unknown key`),
        ),
      );
      const other = type === 'latency' ? 'span_count' : 'latency';
      assert.ok(
        errorsOf({ type: other, [other]: MINIMAL_BLOCK[other], [type]: block }).some((m) =>
          m.includes(`a ${type}: block belongs to type ${type}, but this policy has type ${other}`),
        ),
      );
    });
  }
});
