/**
 * The Kubernetes names the injector reads and writes (CONTRACT.md "Kubernetes names"); the chart, the
 * README and the tests use these same strings.
 */

/** Pod annotation: `"true"` opts a pod in, `"false"` opts it out; the pod wins over its namespace. */
export const ANNOTATION_INJECT = 'sidecar.sentinel.dev/inject';
/**
 * Pod label, same values: the webhook's objectSelector matches it, so pods of namespaces without the namespace
 * label reach the injector only when they carry it (an annotation cannot be selected).
 */
export const LABEL_INJECT = 'sidecar.sentinel.dev/inject';
/** Pod annotation: `"false"` puts the agent in a regular container instead of a native sidecar. */
export const ANNOTATION_NATIVE_SIDECAR = 'sidecar.sentinel.dev/native-sidecar';
/**
 * Pod annotation: a ConfigMap of the pod's own namespace whose `policy.yaml` is this pod's local sampling policy
 * (mounted at /etc/sentinel; the cluster policy is then not fetched).
 */
export const ANNOTATION_CONFIG_MAP = 'sidecar.sentinel.dev/config-map';
/** Pod annotations that override the agent's resources. */
export const ANNOTATION_RESOURCES = {
  cpuRequest: 'sidecar.sentinel.dev/cpu-request',
  memoryRequest: 'sidecar.sentinel.dev/memory-request',
  cpuLimit: 'sidecar.sentinel.dev/cpu-limit',
  memoryLimit: 'sidecar.sentinel.dev/memory-limit',
} as const;
/** Set by the injector: `injected`, or `skipped` with the reason in ANNOTATION_SKIP_REASON. */
export const ANNOTATION_STATUS = 'sentinel.dev/status';
/** Set by the injector beside the status: the injector's version. */
export const ANNOTATION_VERSION = 'sentinel.dev/injector-version';
/** Set by the injector when an opted-in pod cannot take the agent. */
export const ANNOTATION_SKIP_REASON = 'sentinel.dev/skip-reason';
/** Pod label set on injected pods; the chart's NetworkPolicy lets only these reach the store's OTLP ports. */
export const LABEL_AGENT = 'sentinel.dev/agent';
/** Namespace label that opts every pod of the namespace in. */
export const NAMESPACE_LABEL_INJECT = 'sentinel.dev/inject';

/** Name of the injected container; its presence marks a pod as injected. */
export const AGENT_CONTAINER_NAME = 'sentinel-agent';

/** Where the injected agent finds its files (the chart's agent config template uses the same paths). */
export const AGENT_PATHS = {
  /** Where a pod's own policy ConfigMap (ANNOTATION_CONFIG_MAP) is mounted. */
  configDir: '/etc/sentinel',
  policyFile: '/etc/sentinel/policy.yaml',
  podinfoDir: '/etc/podinfo',
  queueDir: '/var/lib/sentinel',
  /** The projected ServiceAccount token (audience `agent.token_audience`), rotated by the kubelet. */
  tokenDir: '/var/run/secrets/sentinel',
  tokenFile: '/var/run/secrets/sentinel/token',
} as const;

/** The agent container's environment variable that holds its whole config (`--config env:SENTINEL_AGENT_CONFIG`). */
export const AGENT_CONFIG_ENV = 'SENTINEL_AGENT_CONFIG';

/** Ports the agent listens on inside the pod (CONTRACT.md). */
export const AGENT_PORTS = { grpc: 4317, http: 4318, admin: 8888 } as const;

/** Volume names added to the pod; prefixed so they do not clash with the app's. */
export const VOLUME_NAMES = {
  podinfo: 'sentinel-podinfo',
  config: 'sentinel-config',
  queue: 'sentinel-queue',
  token: 'sentinel-token',
} as const;
