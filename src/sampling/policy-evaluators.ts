/**
 * One evaluator per Collector policy type, with the Collector's semantics (processor/tailsamplingprocessor
 * internal/sampling/*.go as its README documents them). Each returns a verdict and `p`, the probability
 * that this evaluator samples a trace with this content over the space of trace ids: 1 or 0 for rules,
 * the percentage for `probabilistic`. The weights of kept spans are derived from it.
 */
import { LRUCache } from 'lru-cache';
import type { AnyValue, KeyValue } from '../otlp/index.js';
import type { BufferedTrace, PolicySpan, SpanOrigin } from './buffered-trace.js';
import type { PolicyConfig } from './policy-config.js';
import { DEFAULT_HASH_SALT, keeps, rvOf, saltState, thresholdFor, traceRandomness } from './probabilistic.js';
import { getTraceStateMember } from './tracestate.js';

/** The Collector's decisions; the inverted ones come from `invert_match` and are deprecated there. */
export type PolicyDecision =
  'sampled' | 'not_sampled' | 'inverted_sampled' | 'inverted_not_sampled' | 'dropped';

export interface Verdict {
  readonly decision: PolicyDecision;
  /** P(this evaluator samples a trace with this content), over trace ids. */
  readonly p: number;
  /** For a plain R >= T keep: the `ot` threshold and randomness to write into tracestate. */
  readonly th?: string;
  readonly rv?: string;
}

export interface PolicyEvaluator {
  readonly name: string;
  evaluate(trace: BufferedTrace, nowMs: number): Verdict;
}

const SAMPLED: Verdict = Object.freeze({ decision: 'sampled', p: 1 });
const NOT_SAMPLED: Verdict = Object.freeze({ decision: 'not_sampled', p: 0 });
const INVERTED_SAMPLED: Verdict = Object.freeze({ decision: 'inverted_sampled', p: 1 });
const INVERTED_NOT_SAMPLED: Verdict = Object.freeze({ decision: 'inverted_not_sampled', p: 0 });
const DROPPED: Verdict = Object.freeze({ decision: 'dropped', p: 0 });

const isSampledLike = (d: PolicyDecision) => d === 'sampled' || d === 'inverted_sampled';
const isNotSampledLike = (d: PolicyDecision) => d === 'not_sampled' || d === 'inverted_not_sampled';

/** The first attribute named `key`. */
function lookup(attributes: readonly KeyValue[], key: string): AnyValue | undefined {
  for (const kv of attributes) if (kv.key === key) return kv.value;
  return undefined;
}

/**
 * The Collector's `hasResourceOrSpanWithCondition` (and its inverted twin) over a buffered trace:
 * resources are checked once each, then spans.
 */
function anyResourceOrSpan(
  trace: BufferedTrace,
  test: (value: AnyValue) => boolean,
  key: string,
  skipEmptySpanString = false,
): boolean {
  let lastResource: SpanOrigin['resource'] | undefined;
  const { spans, origins } = trace;
  for (let i = 0; i < spans.length; i++) {
    const resource = (origins[i] as SpanOrigin).resource;
    if (resource !== lastResource) {
      lastResource = resource;
      const v = lookup(resource.attributes, key);
      if (v !== undefined && test(v)) return true;
    }
    const v = lookup((spans[i] as PolicySpan).attributes, key);
    if (v !== undefined && !(skipEmptySpanString && v.kind === 'string' && v.value === '') && test(v))
      return true;
  }
  return false;
}

/** `invert_match`: InvertSampled unless some resource or span matches, then InvertNotSampled. */
function matchVerdict(matched: boolean, invert: boolean): Verdict {
  if (invert) return matched ? INVERTED_NOT_SAMPLED : INVERTED_SAMPLED;
  return matched ? SAMPLED : NOT_SAMPLED;
}

function stringOf(v: AnyValue): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'bool':
    case 'double':
      return String(v.value);
    case 'int':
      return v.value.toString();
    default:
      return '';
  }
}

function numberOf(v: AnyValue): number | undefined {
  if (v.kind === 'int') return Number(v.value);
  if (v.kind === 'double') return v.value;
  return undefined;
}

class AlwaysSample implements PolicyEvaluator {
  constructor(readonly name: string) {}
  evaluate(): Verdict {
    return SAMPLED;
  }
}

/** Earliest start to latest end of `spans` in whole ms; 0 when the end is not after the start. */
function latencyMsOf(spans: readonly PolicySpan[]): number | undefined {
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (const span of spans) {
    if (min === undefined || span.startTimeUnixNano < min) min = span.startTimeUnixNano;
    if (max === undefined || span.endTimeUnixNano > max) max = span.endTimeUnixNano;
  }
  if (min === undefined || max === undefined) return undefined;
  return max > min ? Number((max - min) / 1_000_000n) : 0;
}

class Latency implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly thresholdMs: number,
    private readonly upperMs: number,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    // The duration of what this agent saw: earliest start to latest end (README "latency"). A trace on the
    // byte path answers from the scanner's columns (reading every span's bytes was most of a decision).
    const ms = trace.latencyMs !== undefined ? trace.latencyMs() : latencyMsOf(trace.spans);
    if (ms === undefined) return NOT_SAMPLED;
    const hit = this.upperMs === 0 ? ms >= this.thresholdMs : this.thresholdMs < ms && ms <= this.upperMs;
    return hit ? SAMPLED : NOT_SAMPLED;
  }
}

class StatusCodeFilter implements PolicyEvaluator {
  private readonly codes: Set<number>;
  constructor(
    readonly name: string,
    codes: ReadonlyArray<'OK' | 'ERROR' | 'UNSET'>,
  ) {
    this.codes = new Set(codes.map((c) => ({ UNSET: 0, OK: 1, ERROR: 2 })[c]));
  }
  evaluate(trace: BufferedTrace): Verdict {
    if (trace.hasStatusCode !== undefined) return trace.hasStatusCode(this.codes) ? SAMPLED : NOT_SAMPLED;
    for (const span of trace.spans) if (this.codes.has(span.status.code)) return SAMPLED;
    return NOT_SAMPLED;
  }
}

class Probabilistic implements PolicyEvaluator {
  private readonly salt;
  private readonly threshold;
  constructor(
    readonly name: string,
    percentage: number,
    hashSalt: string,
  ) {
    this.salt = saltState(hashSalt === '' ? DEFAULT_HASH_SALT : hashSalt);
    this.threshold = thresholdFor(percentage / 100);
  }
  evaluate(trace: BufferedTrace): Verdict {
    const r = traceRandomness(this.salt, trace.traceId);
    const p = this.threshold.probability;
    if (!keeps(r, this.threshold)) return { decision: 'not_sampled', p };
    return { decision: 'sampled', p, th: this.threshold.th, rv: rvOf(r) };
  }
}

class StringAttributeFilter implements PolicyEvaluator {
  private readonly matches: (s: string) => boolean;
  constructor(
    readonly name: string,
    private readonly key: string,
    values: readonly string[],
    regex: boolean,
    cacheMaxSize: number,
    private readonly invert: boolean,
  ) {
    if (regex) {
      // Unanchored, like Go's regexp.MatchString in the Collector; results cached per value (cache_max_size).
      const patterns = values.map((v) => new RegExp(v));
      const cache = new LRUCache<string, boolean>({ max: cacheMaxSize > 0 ? cacheMaxSize : 128 });
      this.matches = (s) => {
        const hit = cache.get(s);
        if (hit !== undefined) return hit;
        const m = patterns.some((re) => re.test(s));
        cache.set(s, m);
        return m;
      };
    } else {
      const set = new Set(values.filter((v) => v !== ''));
      this.matches = (s) => set.has(s);
    }
  }
  evaluate(trace: BufferedTrace): Verdict {
    const matched = anyResourceOrSpan(
      trace,
      (v) => v.kind === 'string' && this.matches(stringOf(v)),
      this.key,
      true,
    );
    return matchVerdict(matched, this.invert);
  }
}

class NumericAttributeFilter implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly key: string,
    private readonly min: number,
    private readonly max: number,
    private readonly invert: boolean,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    const matched = anyResourceOrSpan(
      trace,
      (v) => {
        const n = numberOf(v);
        return n !== undefined && n >= this.min && n <= this.max;
      },
      this.key,
    );
    return matchVerdict(matched, this.invert);
  }
}

class BooleanAttributeFilter implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly key: string,
    private readonly value: boolean,
    private readonly invert: boolean,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    const matched = anyResourceOrSpan(trace, (v) => v.kind === 'bool' && v.value === this.value, this.key);
    return matchVerdict(matched, this.invert);
  }
}

class SpanCount implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly min: number,
    private readonly max: number,
  ) {}
  evaluate(trace: BufferedTrace): Verdict {
    const n = trace.spans.length;
    const hit = this.max === 0 ? n >= this.min : n >= this.min && n <= this.max;
    return hit ? SAMPLED : NOT_SAMPLED;
  }
}

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

class TraceFlags implements PolicyEvaluator {
  constructor(readonly name: string) {}
  evaluate(trace: BufferedTrace): Verdict {
    // The low byte of OTLP Span.flags holds the W3C trace flags; bit 0 is "sampled".
    for (const span of trace.spans) if ((span.flags & 0x01) !== 0) return SAMPLED;
    return NOT_SAMPLED;
  }
}

/** A token bucket refilled continuously (golang.org/x/time/rate, as the Collector uses). */
class TokenBucket {
  private tokens: number;
  private lastMs: number | undefined;
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  allow(n: number, nowMs: number): boolean {
    if (this.lastMs !== undefined && nowMs > this.lastMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.perSecond);
    }
    this.lastMs = this.lastMs === undefined ? nowMs : Math.max(this.lastMs, nowMs);
    if (n > this.tokens) return false;
    this.tokens -= n;
    return true;
  }
}

class RateLimiting implements PolicyEvaluator {
  private readonly bucket: TokenBucket;
  constructor(
    readonly name: string,
    spansPerSecond: number,
  ) {
    // The Collector's bucket holds two seconds' worth of spans.
    this.bucket = new TokenBucket(spansPerSecond, spansPerSecond * 2);
  }
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    return this.bucket.allow(trace.spans.length, nowMs) ? SAMPLED : NOT_SAMPLED;
  }
}

class BytesLimiting implements PolicyEvaluator {
  private readonly bucket: TokenBucket;
  constructor(
    readonly name: string,
    bytesPerSecond: number,
    burst: number,
  ) {
    this.bucket = new TokenBucket(bytesPerSecond, burst);
  }
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    return this.bucket.allow(trace.bytes, nowMs) ? SAMPLED : NOT_SAMPLED;
  }
}

class And implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly subs: readonly PolicyEvaluator[],
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    // Sampled when every sub-policy samples. With the shared default salt, probabilistic sub-policies keep
    // nested sets of ids, so the smallest p is the probability of the conjunction.
    let best: Verdict = SAMPLED;
    for (const sub of this.subs) {
      const v = sub.evaluate(trace, nowMs);
      if (isNotSampledLike(v.decision) || v.decision === 'dropped') return NOT_SAMPLED;
      if (v.p < best.p) best = v;
    }
    return best.p >= 1 ? SAMPLED : { ...best, decision: 'sampled' };
  }
}

class Drop implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly subs: readonly PolicyEvaluator[],
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    for (const sub of this.subs) {
      if (isNotSampledLike(sub.evaluate(trace, nowMs).decision)) return NOT_SAMPLED;
    }
    return DROPPED;
  }
}

class Not implements PolicyEvaluator {
  constructor(
    readonly name: string,
    private readonly sub: PolicyEvaluator,
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    const v = this.sub.evaluate(trace, nowMs);
    // The complement of an R >= T set is not one, so no threshold is passed on.
    if (v.decision === 'sampled') return 1 - v.p <= 0 ? NOT_SAMPLED : { decision: 'not_sampled', p: 1 - v.p };
    if (v.decision === 'not_sampled') return 1 - v.p >= 1 ? SAMPLED : { decision: 'sampled', p: 1 - v.p };
    return v;
  }
}

interface CompositeSub {
  readonly evaluator: PolicyEvaluator;
  /** Spans per second allotted, or undefined: whatever the total leaves (the README's always_sample filler). */
  readonly allocated: number | undefined;
  sampledThisSecond: number;
}

class Composite implements PolicyEvaluator {
  private currentSecond = Number.NaN;
  private totalThisSecond = 0;
  constructor(
    readonly name: string,
    private readonly maxTotal: number,
    private readonly subs: CompositeSub[],
  ) {}
  evaluate(trace: BufferedTrace, nowMs: number): Verdict {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.currentSecond) {
      this.currentSecond = second;
      this.totalThisSecond = 0;
      for (const s of this.subs) s.sampledThisSecond = 0;
    }
    const n = trace.spans.length;
    for (const sub of this.subs) {
      const v = sub.evaluator.evaluate(trace, nowMs);
      if (!isSampledLike(v.decision)) continue;
      // The first sub-policy that samples decides: within its allocation (and the total) the trace is kept,
      // otherwise it is not, and nothing is counted so that a smaller trace may still fit this second.
      const withinSub = sub.allocated === undefined || sub.sampledThisSecond + n <= sub.allocated;
      if (withinSub && this.totalThisSecond + n <= this.maxTotal) {
        sub.sampledThisSecond += n;
        this.totalThisSecond += n;
        return v.decision === 'sampled' ? v : SAMPLED;
      }
      return NOT_SAMPLED;
    }
    return NOT_SAMPLED;
  }
}

/** Builds the evaluator for one policy (recursively for and, drop, not, composite). */
export function compileEvaluator(cfg: PolicyConfig): PolicyEvaluator {
  const name = cfg.name;
  switch (cfg.type) {
    case 'always_sample':
      return new AlwaysSample(name);
    case 'latency': {
      const c = req(cfg.latency);
      return new Latency(name, c.threshold_ms, c.upper_threshold_ms);
    }
    case 'status_code':
      return new StatusCodeFilter(name, req(cfg.status_code).status_codes);
    case 'probabilistic': {
      const c = req(cfg.probabilistic);
      return new Probabilistic(name, c.sampling_percentage, c.hash_salt);
    }
    case 'string_attribute': {
      const c = req(cfg.string_attribute);
      return new StringAttributeFilter(
        name,
        c.key,
        c.values,
        c.enabled_regex_matching,
        c.cache_max_size,
        c.invert_match,
      );
    }
    case 'numeric_attribute': {
      const c = req(cfg.numeric_attribute);
      return new NumericAttributeFilter(
        name,
        c.key,
        c.min_value ?? Number.NEGATIVE_INFINITY,
        c.max_value ?? Number.POSITIVE_INFINITY,
        c.invert_match,
      );
    }
    case 'boolean_attribute': {
      const c = req(cfg.boolean_attribute);
      return new BooleanAttributeFilter(name, c.key, c.value, c.invert_match);
    }
    case 'span_count': {
      const c = req(cfg.span_count);
      return new SpanCount(name, c.min_spans, c.max_spans);
    }
    case 'trace_state': {
      const c = req(cfg.trace_state);
      return new TraceStateFilter(name, c.key, c.values);
    }
    case 'trace_flags':
      return new TraceFlags(name);
    case 'rate_limiting':
      return new RateLimiting(name, req(cfg.rate_limiting).spans_per_second);
    case 'bytes_limiting': {
      const c = req(cfg.bytes_limiting);
      return new BytesLimiting(name, c.bytes_per_second, c.burst_capacity);
    }
    case 'and':
      return new And(name, req(cfg.and).and_sub_policy.map(compileEvaluator));
    case 'drop':
      return new Drop(name, req(cfg.drop).drop_sub_policy.map(compileEvaluator));
    case 'not':
      return new Not(name, compileEvaluator(req(cfg.not).not_sub_policy));
    case 'composite':
      return compileComposite(name, req(cfg.composite));
  }
}

function compileComposite(name: string, c: NonNullable<PolicyConfig['composite']>): PolicyEvaluator {
  const byName = new Map(c.composite_sub_policy.map((p) => [p.name, p]));
  // policy_order first, then any sub-policy it leaves out, in file order.
  const ordered = [...new Set([...c.policy_order, ...c.composite_sub_policy.map((p) => p.name)])];
  const defaultShare = c.max_total_spans_per_second / c.composite_sub_policy.length;
  const allocation = new Map<string, number>();
  for (const a of c.rate_allocation) {
    allocation.set(a.policy, a.percent > 0 ? (a.percent / 100) * c.max_total_spans_per_second : defaultShare);
  }
  const subs: CompositeSub[] = ordered.map((n) => ({
    evaluator: compileEvaluator(byName.get(n) as PolicyConfig),
    allocated: allocation.get(n),
    sampledThisSecond: 0,
  }));
  return new Composite(name, c.max_total_spans_per_second, subs);
}

function req<T>(block: T | undefined): T {
  // Validation guarantees the block named by `type`; this guards hand-built configs.
  if (block === undefined) throw new TypeError('policy block missing for its type');
  return block;
}
