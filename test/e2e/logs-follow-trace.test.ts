/**
 * Issue 16 "Must show", through real agents: the official JS SDK sends spans (OTLP/HTTP protobuf trace exporter)
 * and logs (OTLP/HTTP protobuf log exporter, records emitted in their span's context) to an agent with a policy
 * file; the agent's OTLP exporter sends to a second Sentinel receiver that records what arrives.
 * - A trace with no error span but a WARN log is kept under a `log_severity` policy, with its spans and logs; the
 *   same trace is dropped without the policy.
 * - The scenario: 2,000 traces with 5 logs each (10 % with an error), 500 logs without trace ids, policy errors
 *   + 10 % with a logs section: every kept trace has all of its logs, no log of a dropped trace is exported, logs
 *   without trace ids follow the logs policy, the weighted log count estimates the true count within 10 %.
 * - Logs of a trace kept by another pod's agent arrive through the decision feed with its spans.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from '../helpers/agent-config.js';
import { findAttribute } from '../../src/otlp/index.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { checkScenario, makeScenario, SCENARIO_POLICY, type Scenario } from '../helpers/logs-scenario.js';
import { startReceivers } from '../helpers/receivers.js';
import { agentTracerProvider } from '../helpers/sdk.js';
import { LogsCollectingConsumer, type DecodedLog, type LogSpec } from '../helpers/sdk-logs.js';
import { waitAllDecided } from '../helpers/shop-agents.js';
import { startTestStore } from '../helpers/store-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-logs-e2e-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A second Sentinel receiver that keeps what the agents export (spans decoded on demand, logs as bytes). */
async function startDownstream(): Promise<{
  out: LogsCollectingConsumer;
  port: number;
  close: () => Promise<void>;
}> {
  const out = new LogsCollectingConsumer();
  const { receivers, httpPort } = await startReceivers(out, {
    maxRequestBytes: 16 * 1024 * 1024,
    memoryLimitBytes: 256 * 1024 * 1024,
    wire: true,
  });
  return { out, port: httpPort, close: () => receivers.stop() };
}

async function agentWith(
  policy: string,
  downstreamPort: number,
  extra: { completion?: Record<string, unknown>; pod?: string } = {},
): Promise<{ agent: RunningAgent; metrics: Metrics }> {
  const file = join(mkdtempSync(join(dir, 'policy-')), 'policy.yaml');
  writeFileSync(file, policy);
  const metrics = new Metrics();
  const config = testAgentConfig({
    log: { level: 'silent' },
    sampling: {
      policy_file: file,
      decision_wait: '1s',
      ...(extra.completion ? { completion: extra.completion } : {}),
    },
    exporters: [
      {
        type: 'otlp',
        endpoint: `http://127.0.0.1:${downstreamPort}`,
        protocol: 'http',
        batch: { timeout: '50ms' },
        retry: { initial_interval: '100ms', max_interval: '500ms' },
      },
    ],
  });
  const agent = await startAgent(config, {
    logger: silentLogger(),
    metrics,
    env: { POD_NAME: extra.pod ?? 'checkout-5d8c7-abcde', POD_NAMESPACE: 'shop', NODE_NAME: 'node-1' },
  });
  return { agent, metrics };
}

/** The SDK of one app: spans and logs, both to `agent` over OTLP/HTTP protobuf. */
function app(service: string, agent: RunningAgent, seed: number) {
  const resource = resourceFromAttributes({ 'service.name': service });
  // The SDK's default export timeout is the 30 s agentTracerProvider sets.
  const tracerProvider = agentTracerProvider(resource, agent, seed, 20_000);
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [
      new BatchLogRecordProcessor({
        exporter: new OTLPLogExporter({ url: `http://127.0.0.1:${agent.ports.http}/v1/logs` }),
        scheduledDelayMillis: 100,
        maxQueueSize: 20_000,
        maxExportBatchSize: 500,
      }),
    ],
  });
  return {
    tracer: tracerProvider.getTracer('logs-e2e'),
    logger: loggerProvider.getLogger('logs-e2e'),
    async flush() {
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    },
  };
}

type App = ReturnType<typeof app>;

function emit(a: App, spec: LogSpec, ctx: Context): void {
  a.logger.emit({
    severityNumber: spec.severityNumber as never,
    ...(spec.severityText !== undefined ? { severityText: spec.severityText } : {}),
    body: spec.body ?? '',
    ...(spec.attributes ? { attributes: spec.attributes } : {}),
    ...(spec.timeMs !== undefined ? { timestamp: spec.timeMs } : {}),
    context: ctx,
  });
}

/** Kept traces by id, with the weight their spans carry. */
function keptWeights(out: LogsCollectingConsumer, service?: string): Map<string, number> {
  const kept = new Map<string, number>();
  for (const b of out.batches)
    for (const rs of b.data.resourceSpans) {
      const name = findAttribute(rs.resource.attributes, 'service.name');
      if (service !== undefined && (name?.kind !== 'string' || name.value !== service)) continue;
      for (const ss of rs.scopeSpans)
        for (const s of ss.spans) {
          const w = findAttribute(s.attributes, 'sampling.weight');
          kept.set(s.traceId, w?.kind === 'double' ? w.value : NaN);
        }
    }
  return kept;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // already stopped
    }
  }
});

const ERRORS_ONLY = `
policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
`;
const WARNINGS = `  - name: warnings
    type: log_severity
    log_severity: { min_severity: WARN }
`;

void describe('logs follow their trace through a real agent (issue 16)', () => {
  test('a trace with no error span but a WARN log is kept with its spans and logs under log_severity; dropped without it', async () => {
    for (const withPolicy of [true, false]) {
      const down = await startDownstream();
      cleanups.push(down.close);
      const { agent, metrics } = await agentWith(ERRORS_ONLY + (withPolicy ? WARNINGS : ''), down.port);
      cleanups.push(() => agent.shutdown());
      const a = app('checkout', agent, 77);
      const ids: string[] = [];
      for (let t = 0; t < 10; t++) {
        const root = a.tracer.startSpan('POST /pay', { kind: SpanKind.SERVER });
        const ctx = trace.setSpan(ROOT_CONTEXT, root);
        const child = a.tracer.startSpan('charge', { kind: SpanKind.CLIENT }, ctx);
        emit(a, { severityNumber: 9, severityText: 'INFO', body: `start ${t}` }, ctx);
        if (t === 4)
          emit(
            a,
            { severityNumber: 13, severityText: 'WARN', body: 'card service slow, retried' },
            trace.setSpan(ctx, child),
          );
        child.end();
        root.end();
        ids.push(root.spanContext().traceId);
      }
      await a.flush();
      await sleep(1200);
      await waitAllDecided([metrics], Date.now() + 10_000);
      await agent.shutdown(); // drains: everything kept is exported
      const warned = ids[4] as string;
      const spans = down.out.spans();
      const logs = down.out.logs();
      if (withPolicy) {
        assert.deepEqual(
          new Set(spans.map((s) => s.traceId)),
          new Set([warned]),
          'only the warned trace is kept',
        );
        assert.equal(spans.length, 2, 'with both of its spans');
        assert.deepEqual(
          logs.map((l) => [l.traceId, l.body, l.weight]).sort(),
          [
            [warned, 'card service slow, retried', 1],
            [warned, 'start 4', 1],
          ],
          'and both of its logs, weight 1',
        );
        assert.equal(logs[0]?.service, 'checkout');
      } else {
        assert.equal(spans.length, 0, 'without the policy nothing is kept');
        assert.equal(logs.length, 0);
      }
      await a.shutdown();
    }
  });

  test('scenario: 2,000 traces x 5 logs + 500 without trace ids, errors + 10 %: logs follow their trace', async () => {
    const down = await startDownstream();
    cleanups.push(down.close);
    const { agent, metrics } = await agentWith(SCENARIO_POLICY, down.port);
    cleanups.push(() => agent.shutdown());
    const a = app('checkout', agent, 1616);
    const template = makeScenario(1616);
    const traces: Scenario['traces'][number][] = [];
    for (let t = 0; t < template.traces.length; t++) {
      const tt = template.traces[t]!;
      const root = a.tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER });
      const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
      const child = a.tracer.startSpan('charge', { kind: SpanKind.CLIENT }, rootCtx);
      const childCtx = trace.setSpan(rootCtx, child);
      const traceId = root.spanContext().traceId;
      const logs = tt.logs.map((l, k) => {
        const spec = { ...l, traceId };
        emit(a, spec, k % 2 === 0 ? rootCtx : childCtx);
        return spec;
      });
      if (tt.error) child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
      child.end();
      root.end();
      traces.push({ traceId, spanIds: [], error: tt.error, logs });
      if (t % 100 === 99) {
        for (const l of template.untraced.slice((t - 99) / 4, (t + 1) / 4)) emit(a, l, ROOT_CONTEXT);
        await sleep(20); // about 2 s of traffic, so that decisions interleave with arrivals
      }
    }
    await a.flush();
    await sleep(1200);
    await waitAllDecided([metrics], Date.now() + 30_000);
    await agent.shutdown();
    await a.shutdown();

    const scenario: Scenario = { traces, untraced: template.untraced, totalLogs: template.totalLogs };
    const logs: DecodedLog[] = down.out.logs();
    const figures = checkScenario(scenario, keptWeights(down.out), logs);
    for (const l of logs) assert.equal(l.service, 'checkout');
    assert.equal(
      (await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'trace' })) +
        (await metrics.value('sampling_logs_total', { decision: 'kept', reason: 'late' })),
      figures.exportedTraced,
    );
    console.log(
      `# through an agent: ${figures.keptTraces} of 2000 traces kept; logs exported ${figures.exportedLogs} of ${scenario.totalLogs} ` +
        `(${figures.exportedTraced} with a trace id, ${figures.exportedUntraced} without); weighted count ${figures.estimate.toFixed(0)} ` +
        `(${(figures.relativeError * 100).toFixed(1)} % off)`,
    );
  });

  test('logs of a trace kept by another pod’s agent arrive through the decision feed with its spans', async () => {
    const store = await startTestStore({ dir: mkdtempSync(join(dir, 'store-')) });
    cleanups.push(store.dispose);
    const down = await startDownstream();
    cleanups.push(down.close);
    const completion = {
      enabled: true,
      stores: [`http://127.0.0.1:${store.store.ports.query}`],
      poll_interval: '200ms',
      window: '30s',
    };
    // Errors kept by rule, nothing else: frontend (no error) drops every trace, payments keeps them all.
    const frontend = await agentWith(ERRORS_ONLY, down.port, { completion, pod: 'frontend-5d8c7-abcde' });
    const payments = await agentWith(ERRORS_ONLY, down.port, { completion, pod: 'payments-5d8c7-abcde' });
    cleanups.push(
      () => frontend.agent.shutdown(),
      () => payments.agent.shutdown(),
    );
    const fe = app('frontend', frontend.agent, 501);
    const pay = app('payments', payments.agent, 502);
    const ids: string[] = [];
    for (let t = 0; t < 20; t++) {
      const root = fe.tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER });
      const ctx = trace.setSpan(context.active(), root);
      emit(fe, { severityNumber: 9, severityText: 'INFO', body: `frontend ${t} a` }, ctx);
      emit(fe, { severityNumber: 9, severityText: 'INFO', body: `frontend ${t} b` }, ctx);
      const charge = pay.tracer.startSpan('charge', { kind: SpanKind.SERVER }, ctx);
      emit(
        pay,
        { severityNumber: 17, severityText: 'ERROR', body: `payments ${t}` },
        trace.setSpan(ctx, charge),
      );
      charge.setStatus({ code: SpanStatusCode.ERROR });
      charge.end();
      root.end();
      ids.push(root.spanContext().traceId);
    }
    await fe.flush();
    await pay.flush();
    // Frontend drops its part at its decision and holds it; payments keeps its part by rule and publishes it.
    const deadline = Date.now() + 20_000;
    const frontendLogs = () => down.out.logs().filter((l) => l.service === 'frontend');
    while (frontendLogs().length < 40 && Date.now() < deadline) await sleep(100);
    const logs = frontendLogs();
    assert.equal(logs.length, 40, 'every frontend log of the 20 traces');
    for (const l of logs) {
      assert.equal(l.weight, 1);
      assert.equal(l.attributes['sampling.completed'], true, 'released by the feed');
    }
    assert.deepEqual(new Set(logs.map((l) => l.traceId)), new Set(ids));
    const frontendSpans = keptWeights(down.out, 'frontend');
    assert.deepEqual(new Set(frontendSpans.keys()), new Set(ids), 'with their spans');
    assert.equal(
      await frontend.metrics.value('sampling_logs_total', { decision: 'kept', reason: 'released' }),
      40,
    );
    await fe.shutdown();
    await pay.shutdown();
  });
});
