/**
 * Who gets the agent (issue 7 "Who gets the agent"). A pure function of the pod, its namespace and how the
 * request reached us, so that every rule is tested without a server.
 */
import {
  AGENT_CONTAINER_NAME,
  AGENT_PORTS,
  ANNOTATION_INJECT,
  ANNOTATION_NATIVE_SIDECAR,
  ANNOTATION_STATUS,
  LABEL_INJECT,
  VOLUME_NAMES,
} from './names.js';
import type { PodView } from './pod-view.js';

/** Why a pod gets no agent; also the `reason` label of `sentinel_injector_skipped_total`. */
export type SkipReason =
  | 'excluded-namespace'
  | 'opted-out'
  | 'not-opted-in'
  | 'already-injected'
  | 'host-network'
  | 'port-conflict'
  | 'unsupported-os'
  | 'job-needs-native-sidecar'
  | 'name-conflict';

export type InjectionDecision =
  | { readonly kind: 'inject'; readonly nativeSidecar: boolean; readonly warnings: readonly string[] }
  | {
      readonly kind: 'skip';
      readonly reason: SkipReason;
      /** Set for pods that asked for the agent but cannot take it: written to the pod's annotations. */
      readonly message?: string;
      readonly warnings: readonly string[];
    };

export interface InjectionContext {
  /** Namespace of the request (`request.namespace`, falling back to the pod's). */
  readonly namespace: string | undefined;
  /** True when the request came through the webhook whose namespaceSelector matches `sentinel.dev/inject=enabled`. */
  readonly namespaceOptIn: boolean;
  /** kube-system, the injector's own namespace and any configured ones. */
  readonly excludedNamespaces: ReadonlySet<string>;
  /** The injector's default (`agent.native_sidecar`). */
  readonly nativeSidecar: boolean;
}

/** Decides whether and how `pod` gets the agent. */
export function decideInjection(pod: PodView, ctx: InjectionContext): InjectionDecision {
  const warnings: string[] = [];
  const annotations = pod.annotations ?? {};
  const namespace = ctx.namespace ?? pod.namespace;
  if (namespace !== undefined && ctx.excludedNamespaces.has(namespace)) {
    return { kind: 'skip', reason: 'excluded-namespace', warnings };
  }
  // The label is what the webhook's objectSelector matches (so unlabelled namespaces never call us); the
  // annotation still works wherever the webhook is called.
  const podChoice =
    readBoolean(annotations, ANNOTATION_INJECT, warnings) ??
    readBoolean(pod.labels ?? {}, LABEL_INJECT, warnings);
  // The pod's own "false" always wins over its namespace's label.
  if (podChoice === false) return { kind: 'skip', reason: 'opted-out', warnings };
  if (podChoice !== true && !ctx.namespaceOptIn) return { kind: 'skip', reason: 'not-opted-in', warnings };
  const all = [...pod.containers, ...(pod.initContainers ?? [])];
  // A re-invocation (reinvocationPolicy: IfNeeded) or a pod created from an injected pod's spec adds nothing.
  // Ephemeral containers share the name space: a second container of the agent's name is invalid (issue 18).
  if (
    all.some((c) => c.name === AGENT_CONTAINER_NAME) ||
    pod.ephemeralContainerNames.includes(AGENT_CONTAINER_NAME) ||
    annotations[ANNOTATION_STATUS] === 'injected'
  ) {
    return { kind: 'skip', reason: 'already-injected', warnings };
  }
  if (pod.os !== undefined && pod.os !== 'linux') {
    return {
      kind: 'skip',
      reason: 'unsupported-os',
      message: `the agent image is built for Linux; this pod runs on ${JSON.stringify(pod.os)}`,
      warnings,
    };
  }
  if (pod.hostNetwork) {
    return {
      kind: 'skip',
      reason: 'host-network',
      message: `hostNetwork: true shares the node's ports; the agent's ports ${AGENT_PORTS.grpc}, ${AGENT_PORTS.http} and ${AGENT_PORTS.admin} would clash between pods`,
      warnings,
    };
  }
  const agentPorts: number[] = Object.values(AGENT_PORTS);
  const clash = all.find((c) => c.ports.some((p) => agentPorts.includes(p)));
  if (clash) {
    const port = clash.ports.find((p) => agentPorts.includes(p));
    return {
      kind: 'skip',
      reason: 'port-conflict',
      message: `container ${JSON.stringify(clash.name)} already uses port ${port}, which the agent needs`,
      warnings,
    };
  }
  const ours: string[] = Object.values(VOLUME_NAMES);
  const taken = (pod.volumeNames ?? []).find((v) => ours.includes(v));
  if (taken !== undefined) {
    return {
      kind: 'skip',
      reason: 'name-conflict',
      message: `the pod already has a volume named ${JSON.stringify(taken)}, which the agent needs`,
      warnings,
    };
  }
  const native = readBoolean(annotations, ANNOTATION_NATIVE_SIDECAR, warnings) ?? ctx.nativeSidecar;
  if (!native && pod.restartPolicy !== 'Always') {
    // A regular container never exits on its own: a Job's pod would run forever. Native sidecars stop after the app.
    return {
      kind: 'skip',
      reason: 'job-needs-native-sidecar',
      message: `restartPolicy ${pod.restartPolicy} pods (Jobs) complete only with the agent as a native sidecar; native sidecars are off for this pod`,
      warnings,
    };
  }
  return { kind: 'inject', nativeSidecar: native, warnings };
}

function readBoolean(
  annotations: Readonly<Record<string, string>>,
  key: string,
  warnings: string[],
): boolean | undefined {
  const value = annotations[key];
  if (value === undefined) return undefined;
  const normalised = value.trim().toLowerCase();
  if (normalised === 'true') return true;
  if (normalised === 'false') return false;
  warnings.push(
    `sentinel: annotation ${key} should be "true" or "false", got ${JSON.stringify(value)}; ignored`,
  );
  return undefined;
}
