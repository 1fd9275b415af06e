export { admissionResponse, MalformedReviewError, parseAdmissionReview } from './admission-review.js';
export type { AdmissionOutcome, AdmissionRequest } from './admission-review.js';
export { AgentConfigRenderer } from './agent-config.js';
export type { AgentConfigRendererOptions, PodConfigChoices } from './agent-config.js';
export { CertificateReloader } from './certificate-reloader.js';
export type { CertificateReloaderOptions } from './certificate-reloader.js';
export { decideInjection } from './injection-policy.js';
export type { InjectionContext, InjectionDecision, SkipReason } from './injection-policy.js';
export { mutate } from './mutate.js';
export type { MutateOptions, MutateResult } from './mutate.js';
export {
  AGENT_CONFIG_ENV,
  AGENT_CONTAINER_NAME,
  AGENT_PATHS,
  AGENT_PORTS,
  ANNOTATION_CONFIG_MAP,
  ANNOTATION_INJECT,
  ANNOTATION_NATIVE_SIDECAR,
  ANNOTATION_RESOURCES,
  ANNOTATION_SKIP_REASON,
  ANNOTATION_STATUS,
  ANNOTATION_VERSION,
  LABEL_AGENT,
  LABEL_INJECT,
  NAMESPACE_LABEL_INJECT,
  VOLUME_NAMES,
} from './names.js';
export { agentContainer, buildInjectionPatch, buildSkipPatch, pointerSegment } from './pod-patch.js';
export type { AgentSettings, JsonPatchOperation, ResourceList } from './pod-patch.js';
export {
  compareVersions,
  kubernetesNodeLister,
  NodeVersionWatch,
  parseKubeletVersion,
} from './node-versions.js';
export type { KubeletVersion, NativeSidecarChoice, NodeLister } from './node-versions.js';
export { readPod, UnparsablePodError } from './pod-view.js';
export { parseQuantity } from './quantity.js';
export type { ContainerView, PodView } from './pod-view.js';
export {
  checkAgentTemplate,
  DEFAULT_AGENT_IMAGE,
  mutateOptionsFrom,
  runInjector,
  startInjector,
} from './run-injector.js';
export type { RunningInjector } from './run-injector.js';
export { WebhookServer } from './webhook-server.js';
export type { WebhookServerOptions } from './webhook-server.js';
export { nodeOptionsEnv, nodeOptionsForMemoryLimit, v8HeapSizesMiB } from './node-heap.js';
