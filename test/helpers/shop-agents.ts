import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from './agent-config.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';

/** The three services of the whole-trace tests (issues 9 and 19): frontend calls cart, cart calls payments. */
export const SHOP_SERVICES = ['frontend', 'cart', 'payments'] as const;
export type ShopService = (typeof SHOP_SERVICES)[number];

/** Writes the policy every shop agent runs: errors kept by a rule, `percent` of the rest by the trace-id hash. */
export function writeErrorsPlusPolicy(dir: string, percent: number): string {
  const file = join(dir, 'policy.yaml');
  writeFileSync(
    file,
    `policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: sampled
    type: probabilistic
    probabilistic: { sampling_percentage: ${percent} }
`,
  );
  return file;
}

/**
 * Starts one agent per shop service, in process, exporting OTLP/HTTP to the store at `storeHttpPort`, each with
 * its own metrics; `completion(service)` is its `sampling.completion` block, `measure` its `measure` block.
 */
export async function startShopAgents(options: {
  readonly policyFile: string;
  readonly storeHttpPort: number;
  readonly completion: (service: ShopService) => Record<string, unknown>;
  readonly measure?: Record<string, unknown>;
}): Promise<{ agents: Map<ShopService, RunningAgent>; metrics: Map<ShopService, Metrics> }> {
  const agents = new Map<ShopService, RunningAgent>();
  const metricsOf = new Map<ShopService, Metrics>();
  for (const service of SHOP_SERVICES) {
    const metrics = new Metrics();
    const config = testAgentConfig({
      log: { level: 'silent' },
      ...(options.measure ? { measure: options.measure } : {}),
      sampling: {
        policy_file: options.policyFile,
        decision_wait: '1500ms',
        completion: options.completion(service),
      },
      exporters: [
        {
          type: 'otlp',
          name: 'store',
          endpoint: `http://127.0.0.1:${options.storeHttpPort}`,
          protocol: 'http',
          batch: { timeout: '100ms' },
          retry: { initial_interval: '100ms', max_interval: '500ms' },
        },
      ],
    });
    const agent = await startAgent(config, {
      logger: silentLogger(),
      metrics,
      env: { POD_NAME: `${service}-5d8c7-abcde`, POD_NAMESPACE: 'shop', NODE_NAME: 'node-1' },
    });
    agents.set(service, agent);
    metricsOf.set(service, metrics);
  }
  return { agents, metrics: metricsOf };
}

/** Waits until no agent holds an undecided trace. */
export async function waitAllDecided(metrics: Iterable<Metrics>, deadline: number): Promise<void> {
  const all = [...metrics];
  for (;;) {
    let waiting = 0;
    for (const m of all) waiting += await m.value('sampling_buffered_traces');
    if (waiting === 0) return;
    assert.ok(Date.now() < deadline, `${waiting} traces still undecided`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Spans released by the decision feed so far, over every agent. */
export async function releasedSpans(metrics: Iterable<Metrics>): Promise<number> {
  let released = 0;
  for (const m of metrics)
    for (const from of ['held', 'buffered', 'late'])
      released += await m.value('sampling_completion_released_spans_total', { from });
  return released;
}
