/**
 * The consistent probabilistic decision: a function of the trace id and the salt alone, so every agent
 * that sees a part of a trace makes the same call without talking to the others.
 *
 * Hash: 64-bit FNV-1a over the salt's UTF-8 bytes followed by the 16 trace-id bytes, exactly as the
 * Collector's tail_sampling `probabilistic` policy computes it (default salt "default-hash-seed"), so a
 * Sentinel agent and a Collector with the same salt agree.
 *
 * Decision: the hash is turned into a 56-bit randomness value R = (NOT hash) >> 8 and the trace is kept
 * when R >= T, T being the OpenTelemetry rejection threshold for probability p, round((1 - p) * 2^56)
 * (https://opentelemetry.io/docs/specs/otel/trace/tracestate-probability-sampling/). This equals the
 * Collector's `hash <= p * (2^64 - 1)` except within 2^-56 of the boundary, and it lets the kept spans
 * carry `ot=th:T;rv:R` that any consistent sampler downstream can check (R >= T holds for every kept span).
 */

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;
const TWO_32 = 0x1_0000_0000;
const TWO_24 = 0x100_0000;

/** The Collector's salt when `hash_salt` is empty. */
export const DEFAULT_HASH_SALT = 'default-hash-seed';

/** A 64-bit value as two unsigned 32-bit halves. */
interface U64 {
  hi: number;
  lo: number;
}

function fnvStep(h: U64, byte: number): void {
  const lo = (h.lo ^ byte) >>> 0;
  // h * 0x100000001b3 mod 2^64 = h * 0x1b3 + (h << 40); every product stays below 2^53.
  const a = lo * 0x1b3;
  const carry = Math.floor(a / TWO_32);
  const b = h.hi * 0x1b3 + carry + ((lo << 8) >>> 0);
  h.lo = a >>> 0;
  h.hi = (b % TWO_32) >>> 0;
}

/** FNV-1a 64 state after hashing `salt`: computed once per policy. */
export function saltState(salt: string): U64 {
  const h = { hi: FNV_OFFSET_HI, lo: FNV_OFFSET_LO };
  for (const byte of Buffer.from(salt, 'utf8')) fnvStep(h, byte);
  return h;
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return 0;
}

/** FNV-1a 64 of salt + trace-id bytes (`traceId` as 32 hex digits; anything shorter is zero-padded on the left). */
export function hashTraceId(salt: U64, traceId: string): U64 {
  return hashInto({ hi: salt.hi, lo: salt.lo }, traceId);
}

/** Continues the FNV-1a 64 state `h` over the trace id's bytes, in place. */
function hashInto(h: U64, traceId: string): U64 {
  const hex = traceId.length >= 32 ? traceId : traceId.padStart(32, '0');
  for (let i = 0; i < 32; i += 2) {
    fnvStep(h, (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1)));
  }
  return h;
}

/** A probability turned into the OpenTelemetry 56-bit rejection threshold, split like the randomness (high 32 bits, low 24 bits). */
export interface Threshold {
  /** The keep probability the threshold stands for, (2^56 - T) / 2^56. */
  readonly probability: number;
  readonly hi: number;
  readonly lo: number;
  /** The `th` value: 14 hex digits with trailing zeros removed ("0" for 100 %). */
  readonly th: string;
}

export function thresholdFor(probability: number): Threshold {
  const p = Math.min(1, Math.max(0, probability));
  const t = BigInt(Math.round((1 - p) * 2 ** 56));
  const hi = Number(t / BigInt(TWO_24));
  const lo = Number(t % BigInt(TWO_24));
  let th = t.toString(16).padStart(14, '0').replace(/0+$/, '');
  if (th === '') th = '0';
  if (t >= 1n << 56n) th = '';
  return { probability: Number((1n << 56n) - t) / 2 ** 56, hi, lo, th };
}

/** R >= T: the trace is kept. */
export function keeps(r: U64, t: Threshold): boolean {
  return r.hi > t.hi || (r.hi === t.hi && r.lo >= t.lo);
}

/** The `rv` value: R as 14 hex digits. */
export function rvOf(r: U64): string {
  return r.hi.toString(16).padStart(8, '0') + r.lo.toString(16).padStart(6, '0');
}

/** The trace's randomness for `salt` (empty: the Collector's default salt). */
export function traceRandomness(salt: U64, traceId: string): U64 {
  return traceRandomnessInto(salt, traceId, { hi: 0, lo: 0 });
}

/**
 * `traceRandomness` written into `out` and returned: the probabilistic policy's call per trace, which made two
 * objects a trace (the hash, the randomness) on the agent's path.
 */
export function traceRandomnessInto(salt: U64, traceId: string, out: U64): U64 {
  out.hi = salt.hi;
  out.lo = salt.lo;
  hashInto(out, traceId);
  // R = (NOT hash) >> 8, as (high 32 bits, low 24 bits).
  out.hi = ~out.hi >>> 0;
  out.lo = (~out.lo >>> 0) >>> 8;
  return out;
}

export type { U64 };
