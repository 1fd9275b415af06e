/** One AdmissionReview request in, one outcome out: the glue between the policy and the patch. */
import type { AdmissionOutcome, AdmissionRequest } from './admission-review.js';
import { decideInjection, type SkipReason } from './injection-policy.js';
import type { NativeSidecarChoice } from './node-versions.js';
import { buildInjectionPatch, buildSkipPatch, type AgentSettings } from './pod-patch.js';
import { readPod, UnparsablePodError } from './pod-view.js';

export interface MutateOptions {
  readonly agent: AgentSettings;
  readonly excludedNamespaces: ReadonlySet<string>;
  /** `agent.native_sidecar`, resolved for the next pod (`auto`: from the oldest kubelet, cached). */
  readonly nativeSidecar: () => NativeSidecarChoice;
}

/** `result` is the label of `sentinel_injector_requests_total`. */
export type MutateResult =
  | { readonly result: 'injected'; readonly outcome: AdmissionOutcome }
  | { readonly result: 'skipped'; readonly reason: SkipReason; readonly outcome: AdmissionOutcome }
  | { readonly result: 'ignored'; readonly outcome: AdmissionOutcome }
  | { readonly result: 'unparsable'; readonly error: string; readonly outcome: AdmissionOutcome };

/** Decides and builds the response for one request; never throws for a bad pod. */
export function mutate(
  request: AdmissionRequest,
  namespaceOptIn: boolean,
  options: MutateOptions,
): MutateResult {
  // Only pod creation is ours; anything else the API server sends (a mis-scoped webhook) passes untouched.
  const isPod = request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '';
  if (!isPod || (request.subResource ?? '') !== '' || (request.operation ?? 'CREATE') !== 'CREATE') {
    return { result: 'ignored', outcome: {} };
  }
  let pod;
  try {
    pod = readPod(request.object);
  } catch (err) {
    if (!(err instanceof UnparsablePodError)) throw err;
    const message = `sentinel: the agent was not injected: ${err.message}`;
    return { result: 'unparsable', error: err.message, outcome: { warnings: [message] } };
  }
  const native = options.nativeSidecar();
  const decision = decideInjection(pod, {
    namespace: request.namespace || undefined,
    namespaceOptIn,
    excludedNamespaces: options.excludedNamespaces,
    nativeSidecar: native.native,
  });
  const warnings = [...decision.warnings];
  const usedDefault = decision.kind !== 'skip' || decision.reason === 'job-needs-native-sidecar';
  if (native.warning !== undefined && usedDefault && !(decision.kind === 'inject' && decision.nativeSidecar))
    warnings.push(native.warning);
  if (decision.kind === 'skip') {
    const patch =
      decision.message !== undefined ? buildSkipPatch(pod, decision.message, options.agent.version) : [];
    if (decision.message !== undefined)
      warnings.push(`sentinel: the agent was not injected: ${decision.message}`);
    return { result: 'skipped', reason: decision.reason, outcome: { patch, warnings } };
  }
  const patch = buildInjectionPatch(pod, options.agent, decision.nativeSidecar, warnings);
  return { result: 'injected', outcome: { patch, warnings } };
}
