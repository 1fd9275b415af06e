/**
 * The RFC 6902 JSON Patch that adds the agent to a pod. Every operation is an `add` whose parent exists:
 * when the pod has no `initContainers`, `volumes`, `env` or `annotations` yet, the list or map is added
 * whole (RFC 6902 4.1: the target location's parent must exist), otherwise items are appended.
 */
import {
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
import { nodeOptionsEnv } from './node-heap.js';
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
  readonly configMap: string;
  /** Secret with the store token (`token` key); empty: none mounted. */
  readonly tokenSecret: string;
  readonly resources: { readonly requests: ResourceList; readonly limits: ResourceList };
  readonly queueSizeLimit: string;
  /** The injector's version, written to the pod's annotations. */
  readonly version: string;
}

/** A DNS-1123 subdomain: what a ConfigMap name must be (RFC 1123, Kubernetes object names). */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The env that points OpenTelemetry SDKs at the agent (OTel SDK environment variable spec). */
const OTLP_ENDPOINT = 'OTEL_EXPORTER_OTLP_ENDPOINT';
const OTLP_PROTOCOL = 'OTEL_EXPORTER_OTLP_PROTOCOL';

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
  const configMap = configMapFor(annotations, settings, warnings);
  const agent = agentContainer(
    settings,
    resourcesFor(annotations, settings, warnings),
    nativeSidecar,
    pod.containers[0]?.name,
  );

  if (nativeSidecar) {
    // First among the init containers, so it runs before any of them and before the app (KEP-753).
    if (pod.initContainers === undefined)
      ops.push({ op: 'add', path: '/spec/initContainers', value: [agent] });
    else ops.push({ op: 'add', path: '/spec/initContainers/0', value: agent });
  } else {
    ops.push({ op: 'add', path: '/spec/containers/-', value: agent });
  }

  const volumes = agentVolumes(settings, configMap);
  if (pod.volumeNames === undefined) ops.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });

  pod.containers.forEach((c, i) => ops.push(...otlpEnvOps(c, `/spec/containers/${i}`)));

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
  return mapOps(pod.annotations, '/metadata/annotations', wanted);
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

function otlpEnvOps(container: ContainerView, base: string): JsonPatchOperation[] {
  const env = container.env ?? [];
  // An app that chose its own endpoint keeps it; one that chose only a protocol gets the matching port.
  if (env.some((e) => e.name === OTLP_ENDPOINT)) return [];
  const add: { name: string; value: string }[] = [];
  const protocol = env.find((e) => e.name === OTLP_PROTOCOL);
  if (protocol) {
    // "http/protobuf" and "http/json" speak OTLP/HTTP (port 4318); "grpc" or a value from elsewhere, gRPC.
    const port = protocol.value?.trim().startsWith('http') ? AGENT_PORTS.http : AGENT_PORTS.grpc;
    add.push({ name: OTLP_ENDPOINT, value: `http://localhost:${port}` });
  } else {
    add.push({ name: OTLP_ENDPOINT, value: `http://localhost:${AGENT_PORTS.grpc}` });
    add.push({ name: OTLP_PROTOCOL, value: 'grpc' });
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

function configMapFor(
  annotations: Readonly<Record<string, string>>,
  settings: AgentSettings,
  warnings: string[],
): string {
  const value = annotations[ANNOTATION_CONFIG_MAP]?.trim();
  if (value === undefined || value === '') return settings.configMap;
  if (DNS_SUBDOMAIN.test(value)) return value;
  warnings.push(
    `sentinel: annotation ${ANNOTATION_CONFIG_MAP} should be a ConfigMap name (DNS-1123 subdomain), got ${JSON.stringify(value)}; using ${settings.configMap}`,
  );
  return settings.configMap;
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
  appContainerName?: string,
): Record<string, unknown> {
  const probe = (path: string, extra: Record<string, number>) => ({
    httpGet: { path, port: AGENT_PORTS.admin },
    ...extra,
  });
  const container: Record<string, unknown> = {
    name: AGENT_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    command: ['sentinel', 'agent', '--config', AGENT_PATHS.configFile],
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
      ...nodeOptionsEnv(resources.limits['memory']), // V8 heap sized to the container (src/injector/node-heap.ts)
    ],
    resources,
    volumeMounts: [
      { name: VOLUME_NAMES.podinfo, mountPath: AGENT_PATHS.podinfoDir, readOnly: true },
      { name: VOLUME_NAMES.config, mountPath: AGENT_PATHS.configDir, readOnly: true },
      { name: VOLUME_NAMES.queue, mountPath: AGENT_PATHS.queueDir },
      ...(settings.tokenSecret
        ? [{ name: VOLUME_NAMES.token, mountPath: AGENT_PATHS.tokenDir, readOnly: true }]
        : []),
    ],
    readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 3 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 }),
    // No preStop: the agent drains on SIGTERM within its shutdown_timeout.
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  // No startupProbe: it would hold the app until the agent is ready, so a broken agent config would keep the
  // app from starting. The app starts once the agent's process has; SDK exporters buffer and retry until it
  // listens, so the first spans still arrive.
  if (nativeSidecar) container['restartPolicy'] = 'Always';
  return container;
}

function agentVolumes(settings: AgentSettings, configMap: string): Record<string, unknown>[] {
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
    // Optional: a missing ConfigMap must not keep the app's pod from starting; the agent alone fails, loudly.
    { name: VOLUME_NAMES.config, configMap: { name: configMap, optional: true } },
    { name: VOLUME_NAMES.queue, emptyDir: { sizeLimit: settings.queueSizeLimit } },
  ];
  if (settings.tokenSecret) {
    volumes.push({ name: VOLUME_NAMES.token, secret: { secretName: settings.tokenSecret, optional: true } });
  }
  return volumes;
}
