export { TailSampler } from './tail-sampler.js';
export type { TailSamplerOptions } from './tail-sampler.js';
export { createTailSampler } from './create-sampler.js';
export type { CreateSamplerDeps } from './create-sampler.js';
export { COMPLETED_DECISION, compilePolicy, keepAllPolicy, staticPolicySource } from './sampling-policy.js';
export type {
  DecisionReason,
  PolicyObserver,
  PolicySource,
  SamplingPolicy,
  TraceDecision,
} from './sampling-policy.js';
export { PolicyFileSource, evaluationErrorObserver, loadPolicyFile } from './policy-file-source.js';
export type { PolicyFileSourceOptions } from './policy-file-source.js';
export { SUPPORTED_POLICY_TYPES, parsePolicyText } from './policy-config.js';
export type { PolicyConfig, PolicyFileConfig, PolicyParseResult, PolicyType } from './policy-config.js';
export { formatPolicyProblems } from './policy-problems.js';
export type { PolicyProblem } from './policy-problems.js';
export { runPolicyCommand } from './policy-command.js';
export { DecisionCache, completable } from './decision-cache.js';
export { HoldBuffer } from './completion/hold-buffer.js';
export type { EvictionReason, HeldPart, HeldTrace, HoldBufferOptions } from './completion/hold-buffer.js';
export { markKeptSpan } from './weights.js';
export { DEFAULT_HASH_SALT, hashTraceId, saltState, thresholdFor, traceRandomness } from './probabilistic.js';
export { getOtValue, setOtValues } from './tracestate.js';
export type { BufferedTrace, PolicySpan, SpanOrigin } from './buffered-trace.js';
export { CentralPolicySource, choosePolicySource, policyUrl } from './central-policy-source.js';
export type { CentralPolicySourceOptions, PolicyPollResult } from './central-policy-source.js';
export { POLICY_MEDIA_TYPE, POLICY_PATH } from './policy-protocol.js';
