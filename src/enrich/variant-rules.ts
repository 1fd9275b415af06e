import type { AgentConfig } from '../config/index.js';

/** One rule of `enrich.variant.rules` (src/config/enrich.ts defines the shape and the defaults). */
export type VariantRule = AgentConfig['enrich']['variant']['rules'][number];

/** The two values of `deployment.variant` (CONTRACT.md). */
export type Variant = 'canary' | 'baseline';

/** What variant detection looks at: the pod's labels and annotations, and what the workload facts say. */
export interface VariantInput {
  readonly labels: ReadonlyMap<string, string>;
  readonly annotations: ReadonlyMap<string, string>;
  /** The controlling workload's name (Deployment, else StatefulSet, DaemonSet ...), when known. */
  readonly workloadName?: string | undefined;
  /**
   * From the Kubernetes API: true when a `<workload>-primary` Deployment exists whose pod template carries
   * Flagger's `flagger-id` (so this pod belongs to Flagger's target, the canary); undefined when not asked.
   */
  readonly flaggerPrimarySibling?: boolean | undefined;
}

/** The decision and the rule that made it (for logs and the info metric). */
export interface VariantDecision {
  readonly variant: Variant;
  readonly rule: string;
}

/**
 * The first rule in order that matches decides; a rule that finds its key with a value it does not know does
 * not match (the next rule is tried). No match: undefined, and the attribute stays absent.
 */
export function detectVariant(
  rules: readonly VariantRule[],
  input: VariantInput,
  baselineVersion: string,
): VariantDecision | undefined {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as VariantRule;
    const variant = applyRule(rule, input, baselineVersion);
    if (variant) return { variant, rule: rule.name ?? `${rule.kind}#${i}` };
  }
  return undefined;
}

function applyRule(rule: VariantRule, input: VariantInput, baselineVersion: string): Variant | undefined {
  switch (rule.kind) {
    case 'value': {
      if (!hasAll(input.labels, rule.requires_labels)) return undefined;
      const raw = (rule.source === 'label' ? input.labels : input.annotations).get(rule.key);
      if (raw === undefined) return undefined;
      const v = raw.trim().toLowerCase();
      if (rule.canary_values.some((c) => c.toLowerCase() === v)) return 'canary';
      if (rule.baseline_values.some((b) => b.toLowerCase() === v)) return 'baseline';
      return undefined;
    }
    case 'version': {
      if (!hasAll(input.labels, rule.requires_labels)) return undefined;
      const baseline = rule.baseline_version || baselineVersion;
      if (!baseline) return undefined;
      const raw = (rule.source === 'label' ? input.labels : input.annotations).get(rule.key);
      if (raw === undefined || raw.trim() === '') return undefined;
      return raw.trim() === baseline ? 'baseline' : 'canary';
    }
    case 'flagger': {
      // Flagger's primary: it stamps `flagger-id` on the primary's pod template and renames the workload and
      // its selector labels with the suffix. Both marks are needed: a Deployment merely called `db-primary`
      // is not a Flagger primary.
      if (input.annotations.has('flagger-id')) {
        const suffix = rule.primary_suffix;
        const named =
          (input.workloadName?.endsWith(suffix) ?? false) ||
          rule.selector_labels.some((k) => input.labels.get(k)?.endsWith(suffix) ?? false);
        if (named) return 'baseline';
      }
      if (input.flaggerPrimarySibling === true) return 'canary';
      return undefined;
    }
  }
}

function hasAll(labels: ReadonlyMap<string, string>, keys: readonly string[]): boolean {
  for (const k of keys) if (!labels.has(k)) return false;
  return true;
}
