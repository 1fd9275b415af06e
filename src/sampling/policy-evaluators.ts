/**
 * The evaluator compiler: one evaluator per policy, with the Collector's semantics
 * (processor/tailsamplingprocessor internal/sampling/*.go as its README documents them). Every type's
 * evaluator is in ./policies/; the leaf types are looked up in its list, the combining types (and, drop,
 * not, composite) compile their sub-policies here.
 */
import { LEAF_POLICY_TYPES, type PolicyTypeModule } from './policies/index.js';
import { And } from './policies/and.js';
import { compileComposite } from './policies/composite.js';
import { Drop } from './policies/drop.js';
import { Not } from './policies/not.js';
import type { PolicyEvaluator } from './policies/verdict.js';
import type { LeafPolicyBlocks, PolicyConfig } from './policy-config.js';

export type { PolicyDecision, PolicyEvaluator, Verdict } from './policies/verdict.js';

/** The leaf types by name (./policies/index.ts). */
const LEAF_BY_TYPE: ReadonlyMap<string, PolicyTypeModule> = new Map(
  LEAF_POLICY_TYPES.map((m) => [m.type, m as PolicyTypeModule]),
);

/** Builds the evaluator for one policy (recursively for and, drop, not, composite). */
export function compileEvaluator(cfg: PolicyConfig): PolicyEvaluator {
  const name = cfg.name;
  switch (cfg.type) {
    case 'and':
      return new And(name, req(cfg.and).and_sub_policy.map(compileEvaluator));
    case 'drop':
      return new Drop(name, req(cfg.drop).drop_sub_policy.map(compileEvaluator));
    case 'not':
      return new Not(name, compileEvaluator(req(cfg.not).not_sub_policy));
    case 'composite':
      return compileComposite(name, req(cfg.composite), compileEvaluator);
    default: {
      const leaf = LEAF_BY_TYPE.get(cfg.type);
      if (leaf === undefined) throw new TypeError(`unknown policy type ${JSON.stringify(cfg.type)}`);
      const block = leaf.schema === undefined ? undefined : req(cfg[cfg.type as keyof LeafPolicyBlocks]);
      return leaf.compile(name, block);
    }
  }
}

function req<T>(block: T | undefined): T {
  // Validation guarantees the block named by `type`; this guards hand-built configs.
  if (block === undefined) throw new TypeError('policy block missing for its type');
  return block;
}
