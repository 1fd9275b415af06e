/**
 * Marks kept spans with how much each stands for, so that counts and percentiles estimated from stored
 * spans are unbiased (Horvitz-Thompson: each kept span counts 1/p).
 */
import {
  encodeAttribute,
  keyValueKeyEquals,
  MARK_COMPLETED,
  MARK_TRACE_STATE,
  MARK_WEIGHT,
  ProtobufWriter,
  readSpanFields,
  rewriteMessage,
  SAMPLING_COMPLETED_ATTRIBUTE,
  SAMPLING_WEIGHT_ATTRIBUTE,
  type KeyValue,
  type RequestAssembler,
  type Span,
  type WireScope,
} from '../otlp/index.js';
import type { TraceDecision } from './sampling-policy.js';
import { setOtValues } from './tracestate.js';

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

// The byte path (issue 13): the same marks, written into kept spans' bytes.

const WEIGHT_KEY = Buffer.from(SAMPLING_WEIGHT_ATTRIBUTE);
const ENCODED_COMPLETED = encodeAttribute(SAMPLING_COMPLETED_ATTRIBUTE, { kind: 'bool', value: true });
const suffixes = new Map<number, { plain: Buffer; completed: Buffer }>();

/** The attribute fields appended to a kept span: `sampling.weight`, and `sampling.completed` for completed keeps. */
function keptSuffix(decision: TraceDecision): Buffer {
  let s = suffixes.get(decision.weight);
  if (s === undefined) {
    const plain = encodeAttribute(SAMPLING_WEIGHT_ATTRIBUTE, { kind: 'double', value: decision.weight });
    s = { plain, completed: Buffer.concat([plain, ENCODED_COMPLETED]) };
    if (suffixes.size >= 1024) suffixes.clear();
    suffixes.set(decision.weight, s);
  }
  return decision.reason === 'completed' ? s.completed : s.plain;
}

/**
 * Adds one kept span to `out`, marked as `markKeptSpan` marks a decoded one. The common case appends the
 * encoded attributes after the span's own bytes, copied once into the request; a span that already carries
 * `sampling.weight` (it is replaced), or whose trace state gets the `ot` threshold, is rewritten first.
 */
export function addKeptSpan(
  out: RequestAssembler,
  scope: WireScope,
  src: Uint8Array,
  start: number,
  end: number,
  marks: number,
  decision: TraceDecision,
  /** A DataView of `src` the caller keeps (RequestAssembler.add). */
  srcView?: DataView,
): void {
  const suffix = keptSuffix(decision);
  const th = decision.th !== undefined && decision.th !== '';
  const completed = decision.reason === 'completed';
  if (!th && (marks & MARK_WEIGHT) === 0 && (!completed || (marks & MARK_COMPLETED) === 0)) {
    out.add(scope, src, start, end, suffix, srcView);
    return;
  }
  let append: Uint8Array =
    completed && (marks & MARK_COMPLETED) !== 0 ? keptSuffix({ ...decision, reason: 'rule' }) : suffix;
  if (th && (marks & (MARK_TRACE_STATE | MARK_WEIGHT | MARK_COMPLETED)) === 0) {
    // A probabilistic keep of a span without a trace state or marks of its own (the common case): the new
    // trace_state field and the weight are appended as they are, the same bytes the rewrite below would write,
    // built once per trace (its spans share the decision) rather than per span.
    out.add(scope, src, start, end, thSuffix(decision, suffix), srcView);
    return;
  }
  if (th) {
    const before =
      (marks & MARK_TRACE_STATE) !== 0 ? readSpanFields(src, start, end, EMPTY_KEYS).traceState : '';
    append = Buffer.concat([traceStateField(before, decision), append]);
  }
  const rewritten = rewriteMessage(
    src,
    start,
    end,
    (field, s, e, buf) => (th && field === 3) || (field === 9 && keyValueKeyEquals(buf, s, e, WEIGHT_KEY)),
    append,
  );
  out.add(scope, rewritten, 0, rewritten.length);
}

const EMPTY_KEYS: ReadonlySet<string> = new Set();

/** The span's `trace_state` field (3) with the decision's `ot` threshold and randomness set over `before`. */
function traceStateField(before: string, decision: TraceDecision): Buffer {
  let traceState: string;
  if (before === '') {
    // What setOtValues gives for an empty trace state, without parsing one (each probabilistic keep has its
    // own randomness, so this runs once per kept trace).
    traceState =
      decision.rv === undefined ? `ot=th:${decision.th}` : `ot=th:${decision.th};rv:${decision.rv}`;
  } else {
    const values: Array<readonly [string, string]> = [['th', decision.th as string]];
    if (decision.rv !== undefined) values.push(['rv', decision.rv]);
    traceState = setOtValues(before, values);
  }
  const w = new ProtobufWriter(64);
  w.string(3, traceState);
  return Buffer.from(w.finish());
}

let lastThDecision: TraceDecision | undefined;
let lastThSuffix: Buffer = Buffer.alloc(0);

/** `trace_state` then `suffix`, for a span that had no trace state; cached for the last decision. */
function thSuffix(decision: TraceDecision, suffix: Buffer): Buffer {
  if (decision !== lastThDecision) {
    lastThDecision = decision;
    lastThSuffix = Buffer.concat([traceStateField('', decision), suffix]);
  }
  return lastThSuffix;
}
