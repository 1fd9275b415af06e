import type { AgentConfig } from '../config/index.js';
import type { TraceConsumer } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { choosePolicySource } from './central-policy-source.js';
import type { TraceDecision } from './sampling-policy.js';
import { TailSampler } from './tail-sampler.js';
import { type Clock } from '../clock.js';

export interface CreateSamplerDeps {
  readonly next: TraceConsumer;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly onDecision?: (traceId: string, decision: TraceDecision) => void;
}

/**
 * Builds the sampling stage from `sampling:` of the agent config, its policy from choosePolicySource: a local
 * policy_file (throwing SENTINEL_ERR_POLICY_* when it is bad at start, watched for changes), else the central
 * policy (issue 14), else the snapshot, else every trace kept. The source is closed when the sampler shuts down.
 */
export function createTailSampler(config: AgentConfig['sampling'], deps: CreateSamplerDeps): TailSampler {
  const source = choosePolicySource(config, deps);
  return new TailSampler({
    next: deps.next,
    policySource: source,
    metrics: deps.metrics,
    logger: deps.logger,
    decisionWaitMs: config.decision_wait,
    maxTraces: config.num_traces,
    maxBufferedBytes: config.max_buffered_bytes,
    sampledCacheSize: config.decision_cache.sampled_cache_size,
    nonSampledCacheSize: config.decision_cache.non_sampled_cache_size,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.onDecision ? { onDecision: deps.onDecision } : {}),
    ...(config.completion.enabled
      ? { completion: { windowMs: config.completion.window, maxBytes: config.completion.max_bytes } }
      : {}),
  });
}
