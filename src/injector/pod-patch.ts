/**
 * The RFC 6902 JSON Patch that adds the agent to a pod. Every operation is an `add` whose parent exists:
 * when the pod has no `initContainers`, `volumes`, `env` or `annotations` yet, the list or map is added
 * whole (RFC 6902 4.1: the target location's parent must exist), otherwise items are appended.
 */
import type { Signal } from '../otlp/index.js';
import type { PodConfigChoices } from './agent-config.js';
import {
  AGENT_CONFIG_ENV,
  AGENT_CONTAINER_NAME,
  AGENT_PATHS,
  AGENT_PORTS,
  ANNOTATION_CONFIG_MAP,
  ANNOTATION_RESOURCES,
  ANNOTATION_SKIP_REASON,
  ANNOTATION_STATUS,
  ANNOTATION_VERSION,
  LABEL_AGENT,
  VOLUME_NAMES,
} from './names.js';
import { agentProcessEnv } from './node-heap.js';
import type { ContainerView, PodView } from './pod-view.js';
import { parseQuantity } from './quantity.js';

export interface JsonPatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export interface ResourceList {
  readonly cpu?: string | undefined;
  readonly memory?: string | undefined;
}

/** What goes into every injected pod (from the injector config's `agent:`). */
export interface AgentSettings {
  readonly image: string;
  readonly imagePullPolicy: string;
  /** Added to the pod's imagePullSecrets (Secrets of the pod's namespace) for a private agent image. */
  readonly imagePullSecrets: readonly string[];
  /** Plain variables added to the agent container after its own (`agent.extra_env`). */
  readonly extraEnv: readonly { readonly name: string; readonly value: string }[];
  /** The agent config (YAML) for one pod: SENTINEL_AGENT_CONFIG. */
  readonly renderConfig: (choices: PodConfigChoices) => string;
  /** Audience of the projected ServiceAccount token at AGENT_PATHS.tokenFile; empty: no token. */
  readonly tokenAudience: string;
  readonly tokenExpirationSeconds: number;
  /** null: left to the platform (OpenShift's restricted SCC assigns one). */
  readonly runAsUser: number | null;
  readonly runAsGroup: number | null;
  readonly resources: { readonly requests: ResourceList; readonly limits: ResourceList };
  readonly queueSizeLimit: string;
  /** The injector's version, written to the pod's annotations. */
  readonly version: string;
  /**
   * The OTLP signals the agent takes (issue 16, agent-signals.ts); the app's SDK is pointed at the agent for
   * these. Absent: traces only.
   */
  readonly signals?: ReadonlySet<Signal> | undefined;
}

/** A DNS-1123 subdomain: what a ConfigMap name must be (RFC 1123, Kubernetes object names). */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The env that points OpenTelemetry SDKs at the agent (OTel SDK environment variable spec, "OTLP Exporter"). When
 * the agent takes all three signals (issue 16), the general OTEL_EXPORTER_OTLP_ENDPOINT (a base URL: SDKs append
 * /v1/traces, /v1/logs, /v1/metrics over HTTP); otherwise the per-signal variables of the signals it takes only,
 * since the general one would send an SDK's other signals to an agent that answers 404 for them.
 */
const OTLP_ENDPOINT = 'OTEL_EXPORTER_OTLP_ENDPOINT';
const OTLP_PROTOCOL = 'OTEL_EXPORTER_OTLP_PROTOCOL';
const SIGNAL_ENV: Readonly<Record<Signal, { endpoint: string; protocol: string }>> = {
  traces: { endpoint: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', protocol: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' },
  metrics: {
    endpoint: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    protocol: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  },
  logs: { endpoint: 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', protocol: 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL' },
};
const SIGNAL_ORDER: readonly Signal[] = ['traces', 'metrics', 'logs'];
const TRACES_ENDPOINT = SIGNAL_ENV.traces.endpoint;
/** OTLP/HTTP: every SDK speaks it (some, as the browser's and PHP's, only it); the signal URL is used as is. */
const HTTP_BASE = `http://localhost:${AGENT_PORTS.http}`;
const TRACES_HTTP_URL = `${HTTP_BASE}/v1/traces`;
const GRPC_URL = `http://localhost:${AGENT_PORTS.grpc}`;

const TRACES_ONLY: ReadonlySet<Signal> = new Set(['traces']);

/** Escapes one JSON Pointer segment (RFC 6901 section 3). */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The patch that injects the agent; `warnings` collects annotation values that were ignored. */
export function buildInjectionPatch(
  pod: PodView,
  settings: AgentSettings,
  nativeSidecar: boolean,
  warnings: string[],
): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  const annotations = pod.annotations ?? {};
  const policyConfigMap = policyConfigMapFor(annotations, warnings);
  const agent = agentContainer(
    settings,
    resourcesFor(annotations, settings, warnings),
    nativeSidecar,
    pod.containers[0]?.name,
    settings.renderConfig({ localPolicy: policyConfigMap !== undefined }),
    policyConfigMap !== undefined,
  );

  if (nativeSidecar) {
    // First among the init containers, so it runs before any of them and before the app (KEP-753).
    if (pod.initContainers === undefined)
      ops.push({ op: 'add', path: '/spec/initContainers', value: [agent] });
    else ops.push({ op: 'add', path: '/spec/initContainers/0', value: agent });
  } else {
    ops.push({ op: 'add', path: '/spec/containers/-', value: agent });
  }

  const volumes = agentVolumes(settings, policyConfigMap);
  if (pod.volumeNames === undefined) ops.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });

  const pullSecrets = settings.imagePullSecrets
    .filter((name) => !(pod.imagePullSecrets ?? []).includes(name))
    .map((name) => ({ name }));
  if (pullSecrets.length > 0) {
    if (pod.imagePullSecrets === undefined)
      ops.push({ op: 'add', path: '/spec/imagePullSecrets', value: pullSecrets });
    else for (const p of pullSecrets) ops.push({ op: 'add', path: '/spec/imagePullSecrets/-', value: p });
  }

  const signals = settings.signals ?? TRACES_ONLY;
  pod.containers.forEach((c, i) => ops.push(...otlpEnvOps(c, `/spec/containers/${i}`, warnings, signals)));

  ops.push(...metadataOps(pod));
  ops.push(
    ...mapOps(pod.annotations, '/metadata/annotations', {
      [ANNOTATION_STATUS]: 'injected',
      [ANNOTATION_VERSION]: settings.version,
    }),
  );
  // A label, because NetworkPolicies select pods by label: only pods carrying the agent reach the store.
  ops.push(...mapOps(pod.labels, '/metadata/labels', { [LABEL_AGENT]: 'injected' }));
  return ops;
}

/** The patch for an opted-in pod that cannot take the agent: only the status and the reason. */
export function buildSkipPatch(pod: PodView, reason: string, version: string): JsonPatchOperation[] {
  const wanted = {
    [ANNOTATION_STATUS]: 'skipped',
    [ANNOTATION_SKIP_REASON]: reason,
    [ANNOTATION_VERSION]: version,
  };
  const current = pod.annotations ?? {};
  if (Object.entries(wanted).every(([k, v]) => current[k] === v)) return [];
  return [...metadataOps(pod), ...mapOps(pod.annotations, '/metadata/annotations', wanted)];
}

/** A pod object without `metadata` gets it first: an `add` needs its parent to exist (RFC 6902 4.1; issue 18). */
function metadataOps(pod: PodView): JsonPatchOperation[] {
  return pod.hasMetadata ? [] : [{ op: 'add', path: '/metadata', value: {} }];
}

function mapOps(
  current: Readonly<Record<string, string>> | undefined,
  base: string,
  values: Record<string, string>,
): JsonPatchOperation[] {
  if (current === undefined) return [{ op: 'add', path: base, value: values }];
  // `add` on an existing member replaces it (RFC 6902 4.1), which is what a re-stamp wants.
  return Object.entries(values).map(([k, v]) => ({
    op: 'add' as const,
    path: `${base}/${pointerSegment(k)}`,
    value: v,
  }));
}

function otlpEnvOps(
  container: ContainerView,
  base: string,
  warnings: string[],
  signals: ReadonlySet<Signal>,
): JsonPatchOperation[] {
  const env = container.env ?? [];
  const has = (name: string) => env.find((e) => e.name === name);
  const name = JSON.stringify(container.name);
  // An app that chose its own endpoint keeps it: the general one for every signal, a signal's own for that one.
  if (has(OTLP_ENDPOINT)) return [];
  const wanted = SIGNAL_ORDER.filter((s) => signals.has(s) && !has(SIGNAL_ENV[s].endpoint));
  if (wanted.length === 0) return [];
  if (container.hasEnvFrom) {
    // `env` wins over `envFrom` in Kubernetes, and the injector cannot read the ConfigMaps or Secrets behind it:
    // setting the endpoint here could override one the app sets there.
    warnings.push(
      `sentinel: container ${name} reads variables through envFrom, so ${TRACES_ENDPOINT} was not set; if its OpenTelemetry SDK is not configured there, set ${TRACES_ENDPOINT}=${TRACES_HTTP_URL}`,
    );
    return [];
  }
  // Each signal's protocol as the app set it (its own variable, else the general one); undefined: none set.
  const protocols = new Map<Signal, string | undefined>();
  for (const s of wanted) {
    const protocol = has(SIGNAL_ENV[s].protocol) ?? has(OTLP_PROTOCOL);
    if (protocol && protocol.value === undefined) {
      warnings.push(
        `sentinel: container ${name} takes ${protocol.name} from valueFrom, so ${SIGNAL_ENV[s].endpoint} was not set; set it to ${HTTP_BASE}/v1/${s} (http/protobuf) or ${GRPC_URL} (grpc)`,
      );
      return [];
    }
    protocols.set(s, protocol?.value?.trim());
  }
  const add: { name: string; value: string }[] = [];
  // "http/protobuf" and "http/json" speak OTLP/HTTP (4318); "grpc" the gRPC port.
  const isGrpc = (p: string | undefined) => p !== undefined && !p.startsWith('http');
  const values = [...protocols.values()];
  const all = wanted.length === SIGNAL_ORDER.length;
  if (all && values.every((p) => p === undefined)) {
    add.push({ name: OTLP_ENDPOINT, value: HTTP_BASE });
    add.push({ name: OTLP_PROTOCOL, value: 'http/protobuf' });
  } else if (all && values.every((p) => p !== undefined && isGrpc(p) === isGrpc(values[0]))) {
    // All three, over the one protocol family the app chose: the general endpoint on that port.
    add.push({ name: OTLP_ENDPOINT, value: isGrpc(values[0]) ? GRPC_URL : HTTP_BASE });
  } else {
    for (const s of wanted) {
      const protocol = protocols.get(s);
      add.push({ name: SIGNAL_ENV[s].endpoint, value: isGrpc(protocol) ? GRPC_URL : `${HTTP_BASE}/v1/${s}` });
      if (protocol === undefined) add.push({ name: SIGNAL_ENV[s].protocol, value: 'http/protobuf' });
    }
  }
  if (container.env === undefined) return [{ op: 'add', path: `${base}/env`, value: add }];
  return add.map((e) => ({ op: 'add' as const, path: `${base}/env/-`, value: e }));
}

function resourcesFor(
  annotations: Readonly<Record<string, string>>,
  settings: AgentSettings,
  warnings: string[],
): { requests: Record<string, string>; limits: Record<string, string> } {
  const pick = (key: string, fallback: string | undefined): string | undefined => {
    const value = annotations[key]?.trim();
    if (value === undefined) return fallback;
    if (parseQuantity(value) !== undefined) return value;
    warnings.push(
      `sentinel: annotation ${key} should be a quantity like "100m" or "128Mi", got ${JSON.stringify(value)}; ignored`,
    );
    return fallback;
  };
  const requests = compact({
    cpu: pick(ANNOTATION_RESOURCES.cpuRequest, settings.resources.requests.cpu),
    memory: pick(ANNOTATION_RESOURCES.memoryRequest, settings.resources.requests.memory),
  });
  const limits = compact({
    cpu: pick(ANNOTATION_RESOURCES.cpuLimit, settings.resources.limits.cpu),
    memory: pick(ANNOTATION_RESOURCES.memoryLimit, settings.resources.limits.memory),
  });
  // The API server refuses a request above its limit; a higher request by annotation raises the limit with it.
  for (const r of ['cpu', 'memory'] as const) {
    const request = requests[r];
    const limit = limits[r];
    if (request === undefined || limit === undefined) continue;
    if ((parseQuantity(request) ?? 0) > (parseQuantity(limit) ?? Infinity)) {
      warnings.push(
        `sentinel: the agent's ${r} request ${request} is above its limit ${limit}; the limit is raised to ${request}`,
      );
      limits[r] = request;
    }
  }
  return { requests, limits };
}

/** The pod's own policy ConfigMap (ANNOTATION_CONFIG_MAP), or undefined. */
function policyConfigMapFor(
  annotations: Readonly<Record<string, string>>,
  warnings: string[],
): string | undefined {
  const value = annotations[ANNOTATION_CONFIG_MAP]?.trim();
  if (value === undefined || value === '') return undefined;
  if (DNS_SUBDOMAIN.test(value)) return value;
  warnings.push(
    `sentinel: annotation ${ANNOTATION_CONFIG_MAP} should be a ConfigMap name (DNS-1123 subdomain), got ${JSON.stringify(value)}; the cluster policy applies`,
  );
  return undefined;
}

function compact(values: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

function fieldEnv(name: string, fieldPath: string): Record<string, unknown> {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

/** The agent container; with `nativeSidecar` it is an init container with `restartPolicy: Always`. */
export function agentContainer(
  settings: AgentSettings,
  resources: { requests: Record<string, string>; limits: Record<string, string> },
  nativeSidecar: boolean,
  appContainerName: string | undefined,
  configYaml: string,
  localPolicy = false,
): Record<string, unknown> {
  const probe = (path: string, extra: Record<string, number>) => ({
    httpGet: { path, port: AGENT_PORTS.admin },
    ...extra,
  });
  const container: Record<string, unknown> = {
    name: AGENT_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    // The whole config is in the pod spec: nothing has to exist in the app's namespace (issue 14).
    command: ['sentinel', 'agent', '--config', `env:${AGENT_CONFIG_ENV}`],
    ports: [
      { name: 'sentinel-grpc', containerPort: AGENT_PORTS.grpc, protocol: 'TCP' },
      { name: 'sentinel-http', containerPort: AGENT_PORTS.http, protocol: 'TCP' },
      { name: 'sentinel-admin', containerPort: AGENT_PORTS.admin, protocol: 'TCP' },
    ],
    // Downward API env: the enrichment reads these (issue 3).
    env: [
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('POD_UID', 'metadata.uid'),
      fieldEnv('NODE_NAME', 'spec.nodeName'),
      fieldEnv('POD_IP', 'status.podIP'),
      // No fieldRef exists for a container's name: the first app container's, as a plain value.
      ...(appContainerName ? [{ name: 'K8S_CONTAINER_NAME', value: appContainerName }] : []),
      { name: AGENT_CONFIG_ENV, value: configYaml },
      ...agentProcessEnv(resources.limits['memory']), // V8 heap sized to the container, glibc's malloc settings
      // Last, so that a variable of the same name (NODE_OPTIONS too) overrides the agent's own: Kubernetes takes
      // the last of duplicate names.
      ...settings.extraEnv.map((e) => ({ name: e.name, value: e.value })),
    ],
    resources,
    volumeMounts: [
      { name: VOLUME_NAMES.podinfo, mountPath: AGENT_PATHS.podinfoDir, readOnly: true },
      ...(localPolicy
        ? [{ name: VOLUME_NAMES.config, mountPath: AGENT_PATHS.configDir, readOnly: true }]
        : []),
      { name: VOLUME_NAMES.queue, mountPath: AGENT_PATHS.queueDir },
      ...(settings.tokenAudience
        ? [{ name: VOLUME_NAMES.token, mountPath: AGENT_PATHS.tokenDir, readOnly: true }]
        : []),
    ],
    readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 3 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 }),
    // No preStop: the agent drains on SIGTERM within its shutdown_timeout.
    securityContext: {
      runAsNonRoot: true,
      ...(settings.runAsUser !== null ? { runAsUser: settings.runAsUser } : {}),
      ...(settings.runAsGroup !== null ? { runAsGroup: settings.runAsGroup } : {}),
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  if (nativeSidecar) {
    container['restartPolicy'] = 'Always';
    // The kubelet starts the next container only once a native sidecar's startupProbe passes (KEP-753): the
    // app's first spans find the agent listening. The config was checked by the injector at its start, so a
    // broken template cannot hold every app; 60 s covers a slow image start.
    container['startupProbe'] = probe('/readyz', { periodSeconds: 1, failureThreshold: 60 });
  }
  return container;
}

function agentVolumes(
  settings: AgentSettings,
  policyConfigMap: string | undefined,
): Record<string, unknown>[] {
  const volumes: Record<string, unknown>[] = [
    {
      name: VOLUME_NAMES.podinfo,
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    { name: VOLUME_NAMES.queue, emptyDir: { sizeLimit: settings.queueSizeLimit } },
  ];
  // The app's own policy, by its own annotation: required, so a missing ConfigMap is named in the pod's events.
  if (policyConfigMap !== undefined) {
    volumes.push({ name: VOLUME_NAMES.config, configMap: { name: policyConfigMap } });
  }
  if (settings.tokenAudience) {
    // The agent's identity to the store: short-lived, audience-bound, rotated by the kubelet (TokenReview).
    volumes.push({
      name: VOLUME_NAMES.token,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: settings.tokenAudience,
              expirationSeconds: settings.tokenExpirationSeconds,
              path: 'token',
            },
          },
        ],
      },
    });
  }
  return volumes;
}
