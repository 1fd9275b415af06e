/**
 * The leaf policy types, one file each. Adding a type: a new file exporting a `policyType(...)` and one
 * line here (with its import). The combining types (and, drop, not, composite) hold whole policies: their
 * evaluators are files here too, their blocks are named in ../policy-config.ts and compiled in
 * ../policy-evaluators.ts. The order here is the order of `supported:` in errors.
 */
import { alwaysSample } from './always-sample.js';
import { booleanAttribute } from './boolean-attribute.js';
import { bytesLimiting } from './bytes-limiting.js';
import { latency } from './latency.js';
import { logSeverity } from './log-severity.js';
import { numericAttribute } from './numeric-attribute.js';
import { probabilistic } from './probabilistic.js';
import { rateLimiting } from './rate-limiting.js';
import { spanCount } from './span-count.js';
import { statusCode } from './status-code.js';
import { stringAttribute } from './string-attribute.js';
import { traceFlags } from './trace-flags.js';
import { traceState } from './trace-state.js';

export const LEAF_POLICY_TYPES = [
  alwaysSample,
  latency,
  statusCode,
  probabilistic,
  stringAttribute,
  numericAttribute,
  booleanAttribute,
  spanCount,
  traceState,
  traceFlags,
  rateLimiting,
  bytesLimiting,
  logSeverity,
] as const;

export type { PolicyTypeModule } from './policy-type.js';
export { nonEmptyString } from './policy-type.js';
