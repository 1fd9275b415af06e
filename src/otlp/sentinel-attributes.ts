/**
 * Sentinel's own attribute names, in one place (issue 17): what the agent writes and the store, compare and
 * span metrics read. Names from the OpenTelemetry semantic conventions (`k8s.*`, `service.*`) are spelt where
 * they are used, as the conventions spell them.
 */

/** Span attribute: how many spans this kept span stands for, 1/p (CONTRACT.md "span attribute sampling.weight"). */
export const SAMPLING_WEIGHT_ATTRIBUTE = 'sampling.weight';

/**
 * Span attribute, set (true) on spans kept only because another agent kept their trace by a rule (issue 9). They
 * are outside the probabilistic sample: weighted estimates skip them, or the traces they belong to would count
 * twice (once through the sample at 1/p, once in person).
 */
export const SAMPLING_COMPLETED_ATTRIBUTE = 'sampling.completed';

/** Resource attribute: `canary` or `baseline`, set by enrichment from the pod's labels (issue 3). */
export const DEPLOYMENT_VARIANT_ATTRIBUTE = 'deployment.variant';
