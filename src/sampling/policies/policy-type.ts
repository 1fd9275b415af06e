/**
 * The shape of one sampling policy type: its name (the Collector's `type:`), the zod schema of its block
 * (`latency:` for type latency) and the factory of its evaluator. One file per type in this folder exports
 * one of these; ./index.ts lists them, and the policy file's validation and the evaluator compiler are
 * built from that list.
 *
 * A schema is a function of zod's namespace, handed in by the validation (../policy-config.ts, on the policy
 * worker): these files import zod for its types only, so the evaluators load on the agent's main thread without
 * zod (issue 13).
 */
import type { z } from 'zod';
import type { PolicyEvaluator } from './verdict.js';

/** zod's namespace, as the schema builders take it. */
export type Zod = typeof z;

/** A policy type whose block is validated by `schema`; `compile` gets the parsed (defaulted) block. */
export interface PolicyTypeModule<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  /** Builds the schema of the type's block, or undefined for a type that takes no block (always_sample). */
  readonly schema: ((z: Zod) => S) | undefined;
  compile(name: string, block: z.output<S>): PolicyEvaluator;
}

/** A policy type with a block. */
export function policyType<T extends string, S extends z.ZodType>(
  type: T,
  schema: (z: Zod) => S,
  compile: (name: string, block: z.output<S>) => PolicyEvaluator,
): PolicyTypeModule<T, S> & { readonly schema: (z: Zod) => S } {
  return { type, schema, compile };
}

/** A policy type that takes no block. */
export function blocklessPolicyType<T extends string>(
  type: T,
  compile: (name: string) => PolicyEvaluator,
): PolicyTypeModule<T, z.ZodUndefined> & { readonly schema: undefined } {
  return { type, schema: undefined, compile: (name) => compile(name) };
}

export const nonEmptyString = (z: Zod, what: string) =>
  z.string().min(1, { message: `expected a non-empty ${what}` });
export const nonNegative = (z: Zod) => z.number().nonnegative();
