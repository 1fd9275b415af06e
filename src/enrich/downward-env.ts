/**
 * What the Downward API puts into the agent container's environment (the injector and the Helm chart set these
 * with `fieldRef`): the cheapest source, read once at start. Empty values count as absent.
 */
export interface DownwardEnv {
  readonly podName?: string;
  readonly namespace?: string;
  readonly podUid?: string;
  readonly nodeName?: string;
  readonly podIp?: string;
  /** The app container's name, which the injector writes as a plain value (no fieldRef exists for it). */
  readonly containerName?: string;
}

/** Environment variable per field, as documented in docs/enrichment.md. */
export const DOWNWARD_ENV_VARS = {
  podName: 'POD_NAME',
  namespace: 'POD_NAMESPACE',
  podUid: 'POD_UID',
  nodeName: 'NODE_NAME',
  podIp: 'POD_IP',
  // Not plain CONTAINER_NAME: that name is common in other environments (CI runners, sandboxes) and leaked in.
  containerName: 'K8S_CONTAINER_NAME',
} as const satisfies Record<keyof DownwardEnv, string>;

/**
 * Reads the Downward API variables from `env`. The container name counts only inside a pod (POD_NAME set):
 * outside Kubernetes no `k8s.*` attribute may come from a stray variable.
 */
export function readDownwardEnv(env: NodeJS.ProcessEnv): DownwardEnv {
  const out: Record<string, string> = {};
  for (const [field, name] of Object.entries(DOWNWARD_ENV_VARS)) {
    const v = env[name]?.trim();
    if (v) out[field] = v;
  }
  if (!out['podName']) delete out['containerName'];
  return out as DownwardEnv;
}
