/**
 * Marks kept spans with how much each stands for, so that counts and percentiles estimated from stored
 * spans are unbiased (Horvitz-Thompson: each kept span counts 1/p).
 */
import type { KeyValue, Span } from '../otlp/index.js';
import type { TraceDecision } from './sampling-policy.js';
import { setOtValues } from './tracestate.js';

/** The span attribute (CONTRACT.md "span attribute sampling.weight"). */
export const SAMPLING_WEIGHT_ATTRIBUTE = 'sampling.weight';

/**
 * Sets `sampling.weight` (a double, replacing any earlier value) and, for a probabilistic keep, the
 * OpenTelemetry `ot=th:...;rv:...` tracestate entries, keeping every other tracestate member.
 */
export function markKeptSpan(span: Span, decision: TraceDecision): void {
  const kv: KeyValue = { key: SAMPLING_WEIGHT_ATTRIBUTE, value: { kind: 'double', value: decision.weight } };
  const attrs = span.attributes;
  let replaced = false;
  for (let i = 0; i < attrs.length; i++) {
    if (attrs[i]?.key === SAMPLING_WEIGHT_ATTRIBUTE) {
      attrs[i] = kv;
      replaced = true;
      break;
    }
  }
  if (!replaced) attrs.push(kv);
  if (decision.th !== undefined && decision.th !== '') {
    const values: Array<readonly [string, string]> = [['th', decision.th]];
    if (decision.rv !== undefined) values.push(['rv', decision.rv]);
    span.traceState = setOtValues(span.traceState, values);
  }
}
