/**
 * Tail sampling inside the assembled agent: OTLP/HTTP protobuf over a real socket, through receive ->
 * enrich -> measure -> sample -> export, decided by the drain (decision_wait is far away, so nothing
 * depends on time).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startAgent } from '../src/agent/agent.js';
import type { RunningAgent } from '../src/agent/agent.js';
import { testAgentConfig } from './helpers/agent-config.js';
import { SUCCESS } from '../src/export/span-exporter.js';
import type { SpanExporter } from '../src/export/index.js';
import { av, findAttribute } from '../src/otlp/index.js';
import type { Span, TraceData } from '../src/otlp/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeSpan, postTraces, serviceSpans } from './helpers/edge-spans.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-sampling-agent-'));
let agent: RunningAgent | undefined;
after(async () => {
  await agent?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

class CollectingExporter implements SpanExporter {
  readonly name = 'collect';
  readonly spans: Span[] = [];
  async export(data: TraceData) {
    for (const rs of data.resourceSpans) for (const ss of rs.scopeSpans) this.spans.push(...ss.spans);
    return SUCCESS;
  }
  async forceFlush() {}
  async shutdown() {}
}

let n = 0;
function randomHex(bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) {
    let t = (++n * 0x9e3779b1) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    s += (((t ^ (t >>> 14)) >>> 0) & 0xff).toString(16).padStart(2, '0');
  }
  return s;
}

function span(traceId: string, opts: { error?: boolean; path?: string; durMs?: number } = {}): Span {
  const start = 1_700_000_000_000_000_000n;
  return makeSpan({
    traceId,
    spanId: randomHex(8),
    traceState: 'vendor=1',
    name: 'GET',
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(opts.durMs ?? 20) * 1_000_000n,
    attributes: [{ key: 'url.path', value: av.string(opts.path ?? '/items') }],
    status: { code: opts.error ? 2 : 0, message: '' },
  });
}

const weight = (s: Span) => {
  const v = findAttribute(s.attributes, 'sampling.weight');
  return v?.kind === 'double' ? v.value : undefined;
};

void describe('tail sampling in the agent', () => {
  void test('the drain decides by the policy file: errors and slow kept with weight 1, 10 % with weight 10, health checks gone', async () => {
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(
      policyFile,
      `policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 1000}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 10}}
  - name: no-health
    type: drop
    drop: {drop_sub_policy: [{name: health, type: string_attribute, string_attribute: {key: url.path, values: [/healthz]}}]}
`,
    );
    const config = testAgentConfig({
      sampling: { policy_file: policyFile, decision_wait: '5m' },
      exporters: [{ type: 'debug' }],
    });
    const exporter = new CollectingExporter();
    const metrics = new Metrics();
    agent = await startAgent(config, { logger: silentLogger(), metrics, exporters: [exporter], env: {} });

    const errors: string[] = [];
    const slow: string[] = [];
    const health: string[] = [];
    const fast: string[] = [];
    for (let r = 0; r < 20; r++) {
      const spans: Span[] = [];
      for (let i = 0; i < 50; i++) {
        const id = randomHex(16);
        const kind = i % 10;
        if (kind === 0) errors.push(id);
        else if (kind === 1) slow.push(id);
        else if (kind === 2) health.push(id);
        else fast.push(id);
        spans.push(
          span(id, {
            error: kind === 0,
            durMs: kind === 1 ? 1500 : 20,
            path: kind === 2 ? '/healthz' : '/items',
          }),
          span(id),
        );
      }
      await postTraces(agent.ports.http, { resourceSpans: [serviceSpans('shop', spans)] });
    }
    assert.equal(exporter.spans.length, 0, 'nothing leaves before the decision');

    await agent.shutdown();
    const byTrace = new Map<string, Span[]>();
    for (const s of exporter.spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
    for (const id of [...errors, ...slow]) {
      const got = byTrace.get(id) ?? [];
      assert.equal(got.length, 2, 'kept whole');
      assert.ok(got.every((s) => weight(s) === 1 && s.traceState === 'vendor=1'));
    }
    for (const id of health) assert.equal(byTrace.has(id), false);
    const keptFast = fast.filter((id) => byTrace.has(id));
    const sigma = Math.sqrt(fast.length * 0.1 * 0.9);
    assert.ok(
      Math.abs(keptFast.length - fast.length * 0.1) <= 3 * sigma,
      `${keptFast.length} of ${fast.length}`,
    );
    for (const id of keptFast) {
      for (const s of byTrace.get(id) ?? []) {
        assert.ok(Math.abs((weight(s) as number) - 10) < 1e-9);
        assert.match(s.traceState, /^ot=th:e6666666666668;rv:[0-9a-f]{14},vendor=1$/);
      }
    }
    assert.equal(
      await metrics.value('sampling_decisions_total', { policy: 'no-health', decision: 'dropped' }),
      100,
    );
  });
});
