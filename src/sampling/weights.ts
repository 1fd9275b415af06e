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
 * Set (true) on spans kept only because another agent kept their trace by a rule (issue 9). They are outside
 * the probabilistic sample: weighted estimates skip them, or the traces they belong to would count twice
 * (once through the sample at 1/p, once in person).
 */
export const SAMPLING_COMPLETED_ATTRIBUTE = 'sampling.completed';
const COMPLETED_ATTRIBUTE: KeyValue = Object.freeze({
  key: SAMPLING_COMPLETED_ATTRIBUTE,
  value: Object.freeze({ kind: 'bool', value: true }),
});

/**
 * Sets `sampling.weight` (a double, replacing any earlier value) and, for a probabilistic keep, the
 * OpenTelemetry `ot=th:...;rv:...` tracestate entries, keeping every other tracestate member.
 */
export function markKeptSpan(span: Span, decision: TraceDecision): void {
  const kv = weightAttribute(decision.weight);
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
  if (decision.reason === 'completed' && !attrs.some((a) => a.key === SAMPLING_COMPLETED_ATTRIBUTE))
    attrs.push(COMPLETED_ATTRIBUTE);
  if (decision.th !== undefined && decision.th !== '') {
    // The spans of one trace nearly always carry the same tracestate: compute the new one once.
    if (span.traceState !== lastTraceStateIn || decision !== lastTraceStateDecision) {
      const values: Array<readonly [string, string]> = [['th', decision.th]];
      if (decision.rv !== undefined) values.push(['rv', decision.rv]);
      lastTraceStateIn = span.traceState;
      lastTraceStateDecision = decision;
      lastTraceStateOut = setOtValues(span.traceState, values);
    }
    span.traceState = lastTraceStateOut;
  }
}

let lastTraceStateIn = '';
let lastTraceStateDecision: TraceDecision | undefined;
let lastTraceStateOut = '';

/**
 * One frozen KeyValue per weight value, shared by every span that carries it (most weigh 1 or 1/p of the one
 * probabilistic policy): a new attribute object per kept span was most of the pass-through cost.
 */
const weightAttributes = new Map<number, KeyValue>();
function weightAttribute(weight: number): KeyValue {
  let kv = weightAttributes.get(weight);
  if (kv === undefined) {
    kv = Object.freeze({
      key: SAMPLING_WEIGHT_ATTRIBUTE,
      value: Object.freeze({ kind: 'double', value: weight }),
    });
    // Weights come from the policy's percentages, so there are few; the bound guards odd configurations.
    if (weightAttributes.size >= 1024) weightAttributes.clear();
    weightAttributes.set(weight, kv);
  }
  return kv;
}
