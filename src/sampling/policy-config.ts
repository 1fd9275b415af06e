/**
 * The policy file: the OpenTelemetry Collector `tail_sampling` processor's `policies:` syntax
 * (processor/tailsamplingprocessor README and config.go), validated with zod.
 *
 * Errors name the policy (with its parents, `outer > inner`), the key, what was expected and what was
 * found, and carry the YAML line and column so that `sentinel policy check` and reload logs point at the spot.
 *
 * The agent runs this in a short-lived worker process (policy-worker.ts, through policy-validation.ts) and
 * compiles the plain blocks it answers with: zod and yaml never load in the agent's process (issue 13).
 * `sentinel policy check` and the store (loadPolicyParser) run it in-process.
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { logsSectionSchema, type LogsSectionConfig } from './logs-policy.js';
import { compositeSchema, type CompositeBlock } from './policies/composite.js';
import { LEAF_POLICY_TYPES, nonEmptyString } from './policies/index.js';
import { dedupe, formatIssue, nodeAt } from './policy-issues.js';
import { isRecord, posText, type PolicyProblem } from './policy-problems.js';

/** The types that hold other policies; the leaf types are the files of ./policies/. */
const COMBINING_POLICY_TYPES = ['and', 'composite', 'drop', 'not'] as const;
type LeafPolicyModule = (typeof LEAF_POLICY_TYPES)[number];
export type PolicyType = LeafPolicyModule['type'] | (typeof COMBINING_POLICY_TYPES)[number];

/** Policy types Sentinel evaluates. */
export const SUPPORTED_POLICY_TYPES: readonly PolicyType[] = [
  ...LEAF_POLICY_TYPES.map((m) => m.type),
  ...COMBINING_POLICY_TYPES,
];

/** Collector policy types Sentinel knows of but does not evaluate: an error, never a silent skip. */
const UNSUPPORTED_POLICY_TYPES = new Set([
  'ottl_condition',
  'skip',
  'rare_spans',
  'stratified_probabilistic',
]);

/** Processor-level Collector keys a copied `tail_sampling:` block may carry; Sentinel takes them from its own config. */
const IGNORED_PROCESSOR_KEYS: Record<string, string> = {
  decision_wait: 'set sampling.decision_wait in the agent config instead',
  num_traces: 'set sampling.num_traces in the agent config instead',
  expected_new_traces_per_sec: 'Sentinel does not need it',
  decision_cache: 'set sampling.decision_cache in the agent config instead',
  sample_on_first_match: 'Sentinel evaluates every policy',
  drop_pending_traces_on_shutdown: 'Sentinel decides pending traces on shutdown',
  block_on_overflow: 'Sentinel decides the oldest traces early instead',
  maximum_trace_size_bytes: 'set sampling.max_buffered_bytes in the agent config instead',
};

export type CompositeConfig = CompositeBlock<PolicyConfig>;

/** The parsed blocks of the leaf types, by type (`latency?: { threshold_ms, upper_threshold_ms }`). */
export type LeafPolicyBlocks = {
  [M in LeafPolicyModule as M['schema'] extends undefined ? never : M['type']]?:
    z.output<ReturnType<NonNullable<M['schema']>>> | undefined;
};

/** One policy as written in the file; only the block named by `type` is present after validation. */
export interface PolicyConfig extends LeafPolicyBlocks {
  name: string;
  type: PolicyType;
  and?: { and_sub_policy: PolicyConfig[] } | undefined;
  drop?: { drop_sub_policy: PolicyConfig[] } | undefined;
  not?: { not_sub_policy: PolicyConfig } | undefined;
  composite?: CompositeConfig | undefined;
}

/** A validated policy file. */
export interface PolicyFileConfig {
  policies: PolicyConfig[];
  /** How logs that do not follow a trace are sampled (issue 16, logs-policy.ts); absent: all kept. */
  logs?: LogsSectionConfig | undefined;
}

/** Blocks that belong to a type, so that `type: latency` with a `status_code:` block is caught. */
const TYPE_BLOCKS: readonly string[] = [
  ...LEAF_POLICY_TYPES.filter((m) => m.schema !== undefined).map((m) => m.type),
  'and',
  'drop',
  'not',
  'composite',
];
const BLOCKLESS_TYPES = new Set<string>(
  LEAF_POLICY_TYPES.filter((m) => m.schema === undefined).map((m) => m.type),
);

function subPolicyList(key: string): z.ZodType<PolicyConfig[], unknown> {
  return z.array(z.lazy(() => policySchema)).min(1, { message: `expected at least one policy under ${key}` });
}

const policySchema: z.ZodType<PolicyConfig, unknown> = z
  .strictObject({
    name: nonEmptyString(z, 'policy name'),
    type: z.string(),
    ...Object.fromEntries(
      LEAF_POLICY_TYPES.flatMap((m) => (m.schema !== undefined ? [[m.type, m.schema(z).optional()]] : [])),
    ),
    and: z.strictObject({ and_sub_policy: subPolicyList('and_sub_policy') }).optional(),
    drop: z.strictObject({ drop_sub_policy: subPolicyList('drop_sub_policy') }).optional(),
    not: z.strictObject({ not_sub_policy: z.lazy(() => policySchema) }).optional(),
    composite: compositeSchema(z, subPolicyList('composite_sub_policy')).optional(),
    // Blocks of types Sentinel does not evaluate are let through here so that the type check below
    // reports "not supported" instead of an unknown key.
    ...Object.fromEntries([...UNSUPPORTED_POLICY_TYPES].map((t) => [t, z.unknown().optional()])),
  })
  .transform((p) => p as PolicyConfig);

const policyFileSchema = z
  .strictObject({
    policies: z.array(policySchema).min(1, { message: 'expected at least one policy' }),
    logs: logsSectionSchema(z).optional(),
    ...Object.fromEntries(Object.keys(IGNORED_PROCESSOR_KEYS).map((k) => [k, z.unknown().optional()])),
  })
  .superRefine((f, ctx) => {
    const seen = new Map<string, number>();
    f.policies.forEach((p, i) => {
      const first = seen.get(p.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', i, 'name'],
          message: `duplicate policy name ${JSON.stringify(p.name)} (also policies[${first}])`,
        });
      } else seen.set(p.name, i);
    });
  });

export type PolicyParseResult =
  | { readonly ok: true; readonly config: PolicyFileConfig; readonly warnings: readonly PolicyProblem[] }
  | { readonly ok: false; readonly errors: readonly PolicyProblem[] };

/**
 * Parses and validates policy-file text. Accepts the bare `policies:` list, or a Collector config block
 * copied whole (`tail_sampling:` or `processors: { tail_sampling: ... }`).
 */
export function parsePolicyText(text: string): PolicyParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const firstLine = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
        return {
          message: `not valid YAML: ${firstLine} (line ${pos.line}, column ${pos.col})`,
          detail: `not valid YAML: ${firstLine}`,
          line: pos.line,
          column: pos.col,
        };
      }),
    };
  }
  const raw: unknown = doc.toJS();
  const prefix = findPoliciesRoot(raw);
  let root: unknown = raw;
  for (const seg of prefix) root = (root as Record<string, unknown>)[seg];

  const where = (path: readonly PropertyKey[]): { line?: number; column?: number } => {
    const node = nodeAt(doc.contents, [...prefix, ...path]);
    if (!node?.range) return {};
    const pos = lineCounter.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  };

  if (root === null || root === undefined || typeof root !== 'object' || Array.isArray(root)) {
    return {
      ok: false,
      errors: [{ message: 'expected a YAML mapping with a policies: list at the top', line: 1, column: 1 }],
    };
  }

  const typeIssues = checkTypes(root);
  const result = policyFileSchema.safeParse(root, { reportInput: true });
  if (!result.success || typeIssues.length > 0) {
    // Type problems first: they explain most of the block problems that follow them.
    // Problems inside a block that belongs to another type add nothing to "wrong block".
    const wrongBlocks = typeIssues.filter((t) => t.message.includes('belongs to type')).map((t) => t.path);
    const inWrongBlock = (path: readonly PropertyKey[]) =>
      wrongBlocks.some((w) => w.length <= path.length && w.every((seg, i) => seg === path[i]));
    const typePaths = new Set(typeIssues.map((t) => t.path.map(String).join('\0')));
    const schemaIssues = result.success
      ? []
      : result.error.issues.filter(
          (i) => !inWrongBlock(i.path) && !typePaths.has(i.path.map(String).join('\0')),
        );
    const issues = [...typeIssues, ...schemaIssues];
    const errors = issues.flatMap((issue) => formatIssue(issue, root, where));
    return { ok: false, errors: dedupe(errors) };
  }
  const warnings: PolicyProblem[] = [];
  for (const [key, instead] of Object.entries(IGNORED_PROCESSOR_KEYS)) {
    if ((root as Record<string, unknown>)[key] !== undefined) {
      const pos = where([key]);
      warnings.push({
        message: `${key}: ignored in a policy file (${instead})${posText(pos)}`,
        detail: `${key}: ignored in a policy file (${instead})`,
        key,
        ...pos,
      });
    }
  }
  const { policies, logs } = result.data;
  return { ok: true, config: { policies, ...(logs !== undefined ? { logs } : {}) }, warnings };
}

function findPoliciesRoot(raw: unknown): string[] {
  if (!isRecord(raw) || 'policies' in raw) return [];
  const tailKey = (o: Record<string, unknown>) =>
    Object.keys(o).find((k) => /^tail_sampling(\/.*)?$/.test(k));
  const direct = tailKey(raw);
  if (direct !== undefined) return [direct];
  const processors = raw['processors'];
  if (isRecord(processors)) {
    const k = tailKey(processors);
    if (k !== undefined) return ['processors', k];
  }
  return [];
}

/** A zod-shaped issue, so type problems are formatted like schema problems. */
interface RawIssue {
  readonly code: 'custom';
  readonly path: PropertyKey[];
  readonly message: string;
}

/**
 * Checks `type` and the type blocks of every policy, nested ones included, on the raw document: zod's
 * refinements would not run on a policy whose block already failed, and "wrong block for this type"
 * is the more useful message there (the Collector README's own rule-7 example has one).
 */
function checkTypes(root: unknown): RawIssue[] {
  const issues: RawIssue[] = [];
  const visit = (policy: unknown, path: PropertyKey[]) => {
    if (!isRecord(policy)) return;
    const type = policy['type'];
    if (typeof type !== 'string') {
      issues.push({
        code: 'custom',
        path: [...path, 'type'],
        message: `required: one of ${SUPPORTED_POLICY_TYPES.join(', ')}`,
      });
    } else if (!(SUPPORTED_POLICY_TYPES as readonly string[]).includes(type)) {
      issues.push({
        code: 'custom',
        path: [...path, 'type'],
        message: UNSUPPORTED_POLICY_TYPES.has(type)
          ? `type ${JSON.stringify(type)} is not supported by Sentinel (supported: ${SUPPORTED_POLICY_TYPES.join(', ')})`
          : `unknown type ${JSON.stringify(type)} (supported: ${SUPPORTED_POLICY_TYPES.join(', ')})`,
      });
    } else {
      for (const block of TYPE_BLOCKS) {
        if (block !== type && policy[block] !== undefined) {
          issues.push({
            code: 'custom',
            path: [...path, block],
            message: `a ${block}: block belongs to type ${block}, but this policy has type ${type}`,
          });
        }
      }
      if (!BLOCKLESS_TYPES.has(type) && policy[type] === undefined) {
        issues.push({
          code: 'custom',
          path: [...path, 'type'],
          message: `type ${type} needs a ${type}: block`,
        });
      }
    }
    const list = (block: string, key: string) => {
      const b = policy[block];
      const items = isRecord(b) ? b[key] : undefined;
      if (Array.isArray(items)) items.forEach((p, i) => visit(p, [...path, block, key, i]));
    };
    list('and', 'and_sub_policy');
    list('drop', 'drop_sub_policy');
    list('composite', 'composite_sub_policy');
    const not = policy['not'];
    if (isRecord(not)) visit(not['not_sub_policy'], [...path, 'not', 'not_sub_policy']);
  };
  if (isRecord(root) && Array.isArray(root['policies'])) {
    root['policies'].forEach((p, i) => visit(p, ['policies', i]));
  }
  return issues;
}
