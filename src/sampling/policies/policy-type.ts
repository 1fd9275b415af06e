/**
 * The shape of one sampling policy type: its name (the Collector's `type:`), the zod schema of its block
 * (`latency:` for type latency) and the factory of its evaluator. One file per type in this folder exports
 * one of these; ./index.ts lists them, and the policy file's validation and the evaluator compiler are
 * built from that list.
 */
import { z } from 'zod';
import type { PolicyEvaluator } from './verdict.js';

/** A policy type whose block is validated by `schema`; `compile` gets the parsed (defaulted) block. */
export interface PolicyTypeModule<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  /** The schema of the type's block, or undefined for a type that takes no block (always_sample). */
  readonly schema: S | undefined;
  compile(name: string, block: z.output<S>): PolicyEvaluator;
}

/** A policy type with a block. */
export function policyType<T extends string, S extends z.ZodType>(
  type: T,
  schema: S,
  compile: (name: string, block: z.output<S>) => PolicyEvaluator,
): PolicyTypeModule<T, S> & { readonly schema: S } {
  return { type, schema, compile };
}

/** A policy type that takes no block. */
export function blocklessPolicyType<T extends string>(
  type: T,
  compile: (name: string) => PolicyEvaluator,
): PolicyTypeModule<T, z.ZodUndefined> & { readonly schema: undefined } {
  return { type, schema: undefined, compile: (name) => compile(name) };
}

export const nonEmptyString = (what: string) =>
  z.string().min(1, { message: `expected a non-empty ${what}` });
export const nonNegative = () => z.number().nonnegative();
