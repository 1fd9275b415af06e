export { Enricher } from './enricher.js';
export type { EnrichConfig, EnricherOptions, PodIdentity } from './enricher.js';
export { DOWNWARD_ENV_VARS, readDownwardEnv } from './downward-env.js';
export type { DownwardEnv } from './downward-env.js';
export {
  DownwardApiFormatError,
  formatDownwardApiFile,
  parseDownwardApiFile,
  quoteGo,
  unquoteGo,
} from './downward-api-format.js';
export { PodinfoWatcher } from './podinfo-watcher.js';
export type { PodinfoFile, PodinfoSnapshot, PodinfoWatcherOptions } from './podinfo-watcher.js';
export { OwnerResolver } from './owner-resolver.js';
export type { ApiPodFacts, OwnerResolverOptions } from './owner-resolver.js';
export { applyEnrichment, buildEnrichment } from './resource-enrichment.js';
export type { ResourceEnrichment } from './resource-enrichment.js';
export { detectVariant } from './variant-rules.js';
export type { Variant, VariantDecision, VariantInput, VariantRule } from './variant-rules.js';
export { cronJobFromJobName, deriveWorkloadNames } from './workload-names.js';
export type { WorkloadNames } from './workload-names.js';
export { kubeRequestDeadline } from './kube-request-deadline.js';
