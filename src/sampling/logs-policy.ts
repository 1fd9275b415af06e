/**
 * The `logs:` section of the policy file (issue 16): how log records that do not follow a trace are sampled,
 * i.e. records without a trace id and records whose trace id never came as spans within `decision_wait`
 * ("orphaned"). Its syntax follows the tail_sampling policy list (`name`, `type`, a block named by the type)
 * and, inside the blocks, the filter processor's match properties:
 *
 *   logs:
 *     policies:
 *       - { name: warnings, type: severity, severity: { min: WARN } }
 *       - { name: payments, type: match, match: { resource_attributes: [{ key: service.name, value: payments }] } }
 *       - { name: ten-percent, type: probabilistic, probabilistic: { sampling_percentage: 10 } }
 *
 * A record is kept when any policy keeps it (the tail_sampling rule without drop policies), with
 * `sampling.weight` 1/p of the keeping policy with the largest p. Without a `logs:` section every such record
 * is kept as it came.
 */
import type { z } from 'zod';
import type { WireLogs } from '../otlp/index.js';
import {
  checkPatterns,
  compileLogMatch,
  logMatchFields,
  severitySchema,
  type PolicyLog,
} from './log-match.js';
import { nonEmptyString, type Zod } from './policies/policy-type.js';
import { DEFAULT_HASH_SALT, keeps, saltState, thresholdFor, traceRandomness } from './probabilistic.js';

/** FNV-1a 32 of `salt` then `bytes[start, end)`: a record's own randomness (64-bit FNV in JS cost 3.5 µs). */
function recordHash(salt: number, bytes: Uint8Array, start: number, end: number): number {
  let h = salt;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

function saltHash(salt: string): number {
  const b = Buffer.from(salt, 'utf8');
  return recordHash(0x811c9dc5, b, 0, b.length);
}

export const LOG_POLICY_TYPES = ['always_sample', 'severity', 'match', 'probabilistic'] as const;
type LogPolicyType = (typeof LOG_POLICY_TYPES)[number];

const logPolicySchema = (z: Zod) =>
  z
    .strictObject({
      name: nonEmptyString(z, 'policy name'),
      type: z.enum(LOG_POLICY_TYPES),
      severity: z
        .strictObject({ min: severitySchema(z), match_undefined: z.boolean().default(false) })
        .optional(),
      match: z.strictObject(logMatchFields(z)).superRefine(checkPatterns).optional(),
      probabilistic: z
        .strictObject({ sampling_percentage: z.number().min(0).max(100), hash_salt: z.string().default('') })
        .optional(),
    })
    .superRefine((p, ctx) => {
      for (const block of ['severity', 'match', 'probabilistic'] as const) {
        if (block !== p.type && p[block] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [block],
            message: `a ${block}: block belongs to type ${block}, but this policy has type ${p.type}`,
          });
      }
      if (p.type !== 'always_sample' && p[p.type] === undefined)
        ctx.addIssue({ code: 'custom', path: ['type'], message: `type ${p.type} needs a ${p.type}: block` });
    });
export type LogPolicyConfig = z.output<ReturnType<typeof logPolicySchema>>;

/** The `logs:` section's schema, built with the zod it is given (../policy-config.ts, on the policy worker). */
export const logsSectionSchema = (z: Zod) =>
  z
    .strictObject({
      policies: z.array(logPolicySchema(z)).min(1, { message: 'expected at least one logs policy' }),
    })
    .superRefine((s, ctx) => {
      const seen = new Map<string, number>();
      s.policies.forEach((p, i) => {
        const first = seen.get(p.name);
        if (first !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['policies', i, 'name'],
            message: `duplicate logs policy name ${JSON.stringify(p.name)} (also policies[${first}])`,
          });
        else seen.set(p.name, i);
      });
    });
export type LogsSectionConfig = z.output<ReturnType<typeof logsSectionSchema>>;

/** The decision on one log record that does not follow a trace. */
export interface LogDecision {
  readonly keep: boolean;
  /** The policy that kept it ('' when none did). */
  readonly policy: string;
  /** 1/p of the keeping policy; 0 when dropped. */
  readonly weight: number;
}

/** A compiled `logs:` section. */
export interface LogsPolicy {
  readonly names: readonly string[];
  /** Decides record `i` of `logs` (`traceId` '' when it has none). */
  decide(log: PolicyLog, logs: WireLogs, i: number, traceId: string): LogDecision;
}

interface LogEvaluator {
  readonly name: string;
  /** The probability this policy keeps a record like this one: 1 or 0 for rules, the percentage otherwise. */
  keep(log: PolicyLog, logs: WireLogs, i: number, traceId: string): number;
}

function compileOne(p: LogPolicyConfig): LogEvaluator {
  const name = p.name;
  const type: LogPolicyType = p.type;
  switch (type) {
    case 'always_sample':
      return { name, keep: () => 1 };
    case 'severity': {
      const { min, match_undefined } = p.severity as NonNullable<LogPolicyConfig['severity']>;
      return {
        name,
        keep: (log) =>
          log.severityNumber === 0 ? (match_undefined ? 1 : 0) : log.severityNumber >= min ? 1 : 0,
      };
    }
    case 'match': {
      const m = compileLogMatch(p.match as NonNullable<LogPolicyConfig['match']>);
      return { name, keep: (log) => (m(log) ? 1 : 0) };
    }
    case 'probabilistic': {
      const c = p.probabilistic as NonNullable<LogPolicyConfig['probabilistic']>;
      const saltText = c.hash_salt === '' ? DEFAULT_HASH_SALT : c.hash_salt;
      const salt = saltState(saltText);
      const threshold = thresholdFor(c.sampling_percentage / 100);
      const recordSalt = saltHash(saltText);
      const below = Math.floor((c.sampling_percentage / 100) * 2 ** 32);
      const recordP = c.sampling_percentage / 100; // within 2^-32 of below / 2^32
      return {
        name,
        // An orphan with a trace id is hashed as its trace would be (the same call as the trace policy with the
        // same salt); a record without one by its own bytes, so that a retried request gets the same answer.
        keep: (_log, logs, i, traceId) => {
          if (traceId !== '')
            return keeps(traceRandomness(salt, traceId), threshold) ? threshold.probability : 0;
          const off = logs.offsets[i] as number;
          return recordHash(recordSalt, logs.buf, off, off + (logs.lengths[i] as number)) < below
            ? recordP
            : 0;
        },
      };
    }
  }
}

const DROP: LogDecision = Object.freeze({ keep: false, policy: '', weight: 0 });

export function compileLogsPolicy(section: LogsSectionConfig): LogsPolicy {
  const evaluators = section.policies.map(compileOne);
  return {
    names: evaluators.map((e) => e.name),
    decide(log, logs, i, traceId) {
      let best = 0;
      let policy = '';
      for (const e of evaluators) {
        const p = e.keep(log, logs, i, traceId);
        if (p > best) {
          best = p;
          policy = e.name;
        }
      }
      return best > 0 ? { keep: true, policy, weight: 1 / best } : DROP;
    },
  };
}
