import { z } from 'zod';
import { duration } from './schema-types.js';

/** Values that mean "canary" / "baseline" unless a rule lists its own (compared case-insensitively). */
export const DEFAULT_CANARY_VALUES = ['canary'] as const;
export const DEFAULT_BASELINE_VALUES = ['baseline', 'stable', 'primary'] as const;

const ruleName = z.string().optional();
const source = z.enum(['label', 'annotation']);
/** The rule applies only when every label listed here is present on the pod (evidence of the tool that set it). */
const requiresLabels = z.array(z.string().min(1)).default([]);

/**
 * One variant rule (docs/enrichment.md "Variant rules"). Rules are tried in order; the first that matches decides.
 * - `value`: a label or annotation whose value names the variant (`canary`, `stable`, ...).
 * - `version`: a label (Istio's `version`) compared with `baseline_version`: equal is baseline, other is canary.
 * - `flagger`: Flagger's primary copy (annotation `flagger-id` and a `-primary` workload or selector label) is
 *   baseline; the target workload is canary only when the Kubernetes API shows its `-primary` sibling.
 */
export const variantRuleSchema = () =>
  z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('value'),
      name: ruleName,
      source,
      key: z.string().min(1),
      canary_values: z.array(z.string()).default([...DEFAULT_CANARY_VALUES]),
      baseline_values: z.array(z.string()).default([...DEFAULT_BASELINE_VALUES]),
      requires_labels: requiresLabels,
    }),
    z.strictObject({
      kind: z.literal('version'),
      name: ruleName,
      source: source.default('label'),
      key: z.string().min(1).default('version'),
      /** Overrides `enrich.variant.baseline_version` for this rule; empty: use that. */
      baseline_version: z.string().default(''),
      requires_labels: requiresLabels,
    }),
    z.strictObject({
      kind: z.literal('flagger'),
      name: ruleName,
      /** Labels Flagger rewrites with the `-primary` suffix on the primary (its `-selector-labels` flag). */
      selector_labels: z.array(z.string().min(1)).default(['app', 'name', 'app.kubernetes.io/name']),
      primary_suffix: z.string().min(1).default('-primary'),
    }),
  ]);

/**
 * The default rules, in order. Flagger comes first because Flagger copies the target's pod template, annotations
 * included, onto the primary: a `sentinel.dev/variant: canary` set on the target would otherwise mark the
 * primary canary too. The Flagger rule only matches pods that carry Flagger's own marks.
 */
export const defaultVariantRules = (): z.input<ReturnType<typeof variantRuleSchema>>[] => [
  { kind: 'flagger', name: 'flagger' },
  { kind: 'value', name: 'annotation', source: 'annotation', key: 'sentinel.dev/variant' },
  { kind: 'value', name: 'track', source: 'label', key: 'track' },
  { kind: 'value', name: 'variant', source: 'label', key: 'variant' },
  {
    kind: 'value',
    name: 'argo-rollouts',
    source: 'label',
    key: 'role',
    requires_labels: ['rollouts-pod-template-hash'],
  },
  { kind: 'version', name: 'istio-version', source: 'label', key: 'version' },
];

/** `enrich:` of the agent config: where the pod's identity comes from (docs/enrichment.md). */
export const enrichSchema = () =>
  z
    .strictObject({
      /** Downward API volume holding `labels` and `annotations`. */
      podinfo_dir: z.string().default('/etc/podinfo'),
      /** Fallback check of the podinfo directory when no file-system event arrives. */
      podinfo_poll_interval: duration().prefault('1s'),
      /** true: the agent's values replace what the app set (service.version excepted). */
      override: z.boolean().default(false),
      cluster_name: z.string().default(''),
      /** `deployment.environment.name`; a pod label named by `environment_label` wins over it. */
      environment: z.string().default(''),
      /** Pod label whose value is the environment (empty: none read). */
      environment_label: z.string().default(''),
      /** Pod labels / annotations copied as `k8s.pod.label.<key>` / `k8s.pod.annotation.<key>`. */
      extract: z
        .strictObject({
          labels: z.array(z.string().min(1)).default([]),
          annotations: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
      kubernetes_api: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** Per request; a request over it is abandoned and retried later. */
          timeout: duration().prefault('5s'),
          /** Wait before asking again after a failure. */
          retry_interval: duration().prefault('30s'),
          /** Owner objects (ReplicaSets, Jobs, Deployments) remembered. */
          cache_size: z.number().int().positive().default(64),
          cache_ttl: duration().prefault('10m'),
        })
        .prefault({}),
      variant: z
        .strictObject({
          /** The Istio `version` label value of the baseline; empty: the version rule never matches. */
          baseline_version: z.string().default(''),
          rules: z.array(variantRuleSchema()).prefault(defaultVariantRules),
        })
        .prefault({}),
    })
    .prefault({});

export type EnrichConfigSchema = ReturnType<typeof enrichSchema>;
