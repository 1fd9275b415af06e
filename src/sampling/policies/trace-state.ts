/** `trace_state`: traces with a span whose tracestate member `key` is one of `values`. */
import type { z } from 'zod';
import type { BufferedTrace } from '../buffered-trace.js';
import { getTraceStateMember } from '../tracestate.js';
import { nonEmptyString, policyType, type Zod } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

export const traceStateSchema = (z: Zod) =>
  z.strictObject({
    key: nonEmptyString(z, 'tracestate key'),
    values: z.array(z.string()).min(1, { message: 'expected at least one value' }),
  });
export type TraceStateConfig = z.output<ReturnType<typeof traceStateSchema>>;

class TraceStateFilter implements PolicyEvaluator {
  private readonly values: Set<string>;
  constructor(
    readonly name: string,
    private readonly key: string,
    values: readonly string[],
  ) {
    // A key=value member longer than 256 characters is not valid tracestate (Collector drops such values).
    this.values = new Set(values.filter((v) => v !== '' && key.length + v.length < 256));
  }
  evaluate(trace: BufferedTrace): Verdict {
    for (const span of trace.spans) {
      if (span.traceState === '') continue;
      const v = getTraceStateMember(span.traceState, this.key);
      if (v !== undefined && this.values.has(v)) return SAMPLED;
    }
    return NOT_SAMPLED;
  }
}

export const traceState = policyType(
  'trace_state',
  traceStateSchema,
  (name, c) => new TraceStateFilter(name, c.key, c.values),
);
