/**
 * `log_severity` (issue 16, Sentinel's own type): traces whose logs include a record at or above `min_severity`
 * that also has the match properties given (the filter processor's `bodies`, `severity_texts`,
 * `record_attributes`, `resource_attributes`, with `match_type`). The logs wait with their trace in the
 * sampler's buffer, so a trace whose app logged a warning is kept even when no span failed; the Collector
 * cannot do this, its logs and traces being separate pipelines.
 */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import {
  checkPatterns,
  compileLogMatch,
  logMatchFields,
  severitySchema,
  type PolicyLog,
} from '../log-match.js';
import { policyType, type Zod } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const logSeveritySchema = (z: Zod) =>
  z.strictObject({ min_severity: severitySchema(z), ...logMatchFields(z) }).superRefine(checkPatterns);
export type LogSeverityConfig = z.output<ReturnType<typeof logSeveritySchema>>;

class LogSeverity implements PolicyEvaluator {
  private readonly matches: (log: PolicyLog) => boolean;
  constructor(
    readonly name: string,
    private readonly min: number,
    block: LogSeverityConfig,
  ) {
    this.matches = compileLogMatch(block);
  }
  evaluate(trace: BufferedTrace): Verdict {
    // The severity column is checked first: only records at or above it have their bytes read.
    const logs = trace.logs;
    if (logs === undefined) return NOT_SAMPLED;
    for (const log of logs) if (log.severityNumber >= this.min && this.matches(log)) return SAMPLED;
    return NOT_SAMPLED;
  }
}

export const logSeverity = policyType(
  'log_severity',
  logSeveritySchema,
  (name, c) => new LogSeverity(name, c.min_severity, c),
);
