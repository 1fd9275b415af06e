/** `trace_flags`: traces with a span whose W3C trace flags have the sampled bit. */
import type { BufferedTrace } from '../buffered-trace.js';
import { blocklessPolicyType } from './policy-type.js';
import { NOT_SAMPLED, SAMPLED, type PolicyEvaluator, type Verdict } from './verdict.js';

class TraceFlags implements PolicyEvaluator {
  constructor(readonly name: string) {}
  evaluate(trace: BufferedTrace): Verdict {
    // The low byte of OTLP Span.flags holds the W3C trace flags; bit 0 is "sampled".
    for (const span of trace.spans) if ((span.flags & 0x01) !== 0) return SAMPLED;
    return NOT_SAMPLED;
  }
}

export const traceFlags = blocklessPolicyType('trace_flags', (name) => new TraceFlags(name));
