/**
 * bench/sampler-heap.ts's `agent` phase: the agent's byte path in one process, as bench/agent-footprint.ts runs it
 * at 10k spans/s with the chart's config, without sockets: each request of bench/_footprint-request.ts is scanned
 * (the receiver), its scopes moved under the enriched resource (WireEnrichment, as the Enricher does), counted by
 * span metrics (measure's defaults) and handed to the TailSampler with the chart's policy (errors, slow, 10 %),
 * decision_wait 10 s and completion on (30 s, 32 MiB); every second the ids it kept by a rule come back to
 * `release()`, as the decision feed returns them. The kept outbox assembles export requests for a consumer
 * that takes them. On a simulated clock: a 100-span request every 10 ms for 40 s.
 */
import { measureSteps, samplerTree, type RunFigures } from './_child-measure.js';
import { footprintRequests } from './_footprint-request.js';

export const AGENT_PATH_SPANS_PER_SECOND = 10_000;
const TICK_MS = 10;
const RUN_MS = 40_000;
const POLICY = `
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 1000}}
  - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 10}}
`;

export interface AgentPathResult extends RunFigures {
  spans: number;
  keptSpans: number;
}

/** The byte path of the tree at `root` under the load above. */
export async function measureAgentPath(root: string): Promise<AgentPathResult> {
  const t = await samplerTree(root);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const src = t['src'] as (path: string) => Promise<Record<string, any>>;
  const { buildEnrichment } = await src('enrich/resource-enrichment.ts');
  const { WireEnrichment } = await src('enrich/wire-enrichment.ts');
  const { SpanMetricsStage } = await src('measure/index.ts');
  const { measureSchema } = await src('config/measure.ts');
  const parsed = t.parsePolicyText(POLICY);
  if (!parsed.ok) throw new Error('policy');
  const wire = new WireEnrichment(
    buildEnrichment(
      [
        ['k8s.pod.name', 'checkout-7d9f8b-x2x4q'],
        ['k8s.namespace.name', 'shop'],
        ['k8s.node.name', 'node-1'],
        ['deployment.variant', 'baseline'],
      ],
      '1.0.0',
    ),
    false,
  );
  const clock = new t.ManualClock();
  const metrics = new t.Metrics();
  let keptSpans = 0;
  const ruleKept: string[] = [];
  const sampler = new t.TailSampler({
    next: {
      consume: async (batch: { spanCount: number }) => void (keptSpans += batch.spanCount),
      bufferedBytes: () => 0,
      forceFlush: async () => {},
      shutdown: async () => {},
    },
    policySource: t.staticPolicySource(t.compilePolicy(parsed.config)),
    metrics,
    logger: t.silentLogger(),
    decisionWaitMs: 10_000,
    maxTraces: 50_000,
    maxBufferedBytes: 48 * 1024 * 1024,
    clock,
    onDecision: (traceId: string, d: { reason: string }) =>
      void (d.reason === 'rule' && ruleKept.push(traceId)),
    completion: { windowMs: 30_000, maxBytes: 32 * 1024 * 1024 },
  });
  const measured = new SpanMetricsStage({
    next: sampler,
    config: measureSchema().parse({}),
    metrics,
    logger: t.silentLogger(),
  });
  const nextBody = footprintRequests(1, clock.now());
  const run = await measureSteps(RUN_MS / TICK_MS, 10, async (tick) => {
    const spans = t.otlp.scanTraceRequest(nextBody()).spans;
    for (let i = 0; i < spans.scopes.length; i++) spans.scopes[i] = wire.scope(spans.scopes[i]);
    await measured.consume(t.otlp.wireBatch(spans));
    clock.advance(TICK_MS);
    if (tick % 100 === 99) sampler.release(ruleKept.splice(0));
  });
  await measured.shutdown();
  const spans = (RUN_MS / TICK_MS) * 100;
  return { ...run, spans, keptSpans };
}
