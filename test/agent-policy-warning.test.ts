/**
 * The agent warns that completion has nothing to complete only when no policy can apply. An injected agent has no
 * policy file and takes its policy from the store (central_policy, policy_snapshot): it used to get the warning
 * at every start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepsEverything } from '../src/agent/agent.js';
import { agentConfigSchema } from '../src/config/index.js';

const sampling = (s: Record<string, unknown>) => agentConfigSchema().parse({ sampling: s }).sampling;

void test('only an agent with no policy file, no central policy and no snapshot keeps everything', () => {
  assert.equal(keepsEverything(sampling({})), true);
  assert.equal(keepsEverything(sampling({ policy_file: '/etc/sentinel/policy.yaml' })), false);
  assert.equal(keepsEverything(sampling({ central_policy: { url: 'http://sentinel-store:3200' } })), false);
  assert.equal(
    keepsEverything(sampling({ policy_snapshot: 'policies:\n  - { name: all, type: always_sample }\n' })),
    false,
  );
  assert.equal(keepsEverything(sampling({ policy_snapshot: '  \n' })), true, 'a blank snapshot is none');
});
