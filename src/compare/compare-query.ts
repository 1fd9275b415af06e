import { parseDurationMs } from '../config/runtime.js';
import { SentinelError } from '../errors.js';
import { DEFAULT_COMPARE_OPTIONS, type CompareOptions } from './compare-spans.js';

/** What to read: one service's spans of some kinds in a time window. */
export interface CompareQuery {
  readonly service: string;
  /** Unix nanoseconds, inclusive. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** OTLP span kind numbers compared (SERVER and CONSUMER by default, as the span metrics). */
  readonly spanKinds: readonly number[];
  /** Only this span name, when set. */
  readonly operation?: string;
}

/** The request parameters of `GET /api/compare`, also what `sentinel compare`'s flags are turned into. */
export const COMPARE_PARAMS = [
  'service',
  'baseline',
  'canary',
  'start',
  'end',
  'window',
  'operation',
  'span_kinds',
  'max_latency_increase',
  'max_error_rate_increase',
  'confidence',
  'min_spans',
] as const;

const KIND_NUMBERS: Record<string, number> = {
  unspecified: 0,
  internal: 1,
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5,
};

/** The default window when neither `start` nor `window` is given. */
const DEFAULT_WINDOW_MS = 3_600_000;

const invalid = (message: string) => new SentinelError('SENTINEL_ERR_QUERY_INVALID', message);

/** "10%" or "0.1" as a fraction. */
function fraction(name: string, raw: string): number {
  const pct = /^(-?\d+(?:\.\d+)?)%$/.exec(raw.trim());
  const n = pct ? Number(pct[1]) / 100 : Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0)
    throw invalid(
      `${name}: expected a percentage like "10%" or a fraction like 0.1, got ${JSON.stringify(raw)}`,
    );
  return n;
}

/** "0.5pp" (percentage points), "0.5%" or "0.005" as an absolute fraction. */
function points(name: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(pp|%)$/.exec(raw.trim());
  const n = m ? Number(m[1]) / 100 : Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw invalid(
      `${name}: expected percentage points like "0.5pp" or a fraction like 0.005, got ${JSON.stringify(raw)}`,
    );
  return n;
}

/** Unix seconds (Tempo's unit, as /api/search) or an RFC 3339 time, as nanoseconds. */
function time(name: string, raw: string): bigint {
  if (/^\d{1,12}$/.test(raw)) return BigInt(raw) * 1_000_000_000n;
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d\d-\d\dT/.test(raw) || Number.isNaN(ms))
    throw invalid(`${name}: expected unix seconds or an RFC 3339 time, got ${JSON.stringify(raw)}`);
  return BigInt(ms) * 1_000_000n;
}

/**
 * Validates the parameters of a comparison (request query or CLI flags, by the names of COMPARE_PARAMS) into
 * what to read and how to judge. Throws SENTINEL_ERR_QUERY_INVALID naming the parameter and what it expects.
 */
export function parseCompareParams(
  params: URLSearchParams,
  nowMs: number,
): { query: CompareQuery; options: CompareOptions } {
  for (const key of params.keys()) {
    if (!(COMPARE_PARAMS as readonly string[]).includes(key))
      throw invalid(`unknown parameter ${JSON.stringify(key)}; expected one of ${COMPARE_PARAMS.join(', ')}`);
  }
  const get = (k: (typeof COMPARE_PARAMS)[number]) => {
    const v = params.get(k);
    return v === null || v === '' ? undefined : v;
  };
  const service = get('service');
  if (service === undefined) throw invalid('service: required, the service.name to compare');
  const endNs = get('end') !== undefined ? time('end', get('end')!) : BigInt(nowMs) * 1_000_000n;
  let startNs: bigint;
  if (get('start') !== undefined) {
    if (get('window') !== undefined) throw invalid('start and window: give one of them, not both');
    startNs = time('start', get('start')!);
  } else {
    const raw = get('window');
    const ms = raw === undefined ? DEFAULT_WINDOW_MS : parseDurationMs(raw);
    if (ms === undefined || ms <= 0)
      throw invalid(`window: expected a duration like "10m", got ${JSON.stringify(raw)}`);
    startNs = endNs - BigInt(Math.round(ms)) * 1_000_000n;
  }
  if (endNs <= startNs) throw invalid('end: expected a time after start');
  const kindsRaw = get('span_kinds') ?? 'server,consumer';
  const spanKinds = kindsRaw.split(',').map((k) => {
    const n = KIND_NUMBERS[k.trim().toLowerCase()];
    if (n === undefined)
      throw invalid(
        `span_kinds: expected a comma list of ${Object.keys(KIND_NUMBERS).join('|')}, got ${JSON.stringify(k)}`,
      );
    return n;
  });
  const confidenceRaw = get('confidence');
  const confidence =
    confidenceRaw === undefined ? DEFAULT_COMPARE_OPTIONS.confidence : fraction('confidence', confidenceRaw);
  if (!(confidence > 0.5 && confidence < 1))
    throw invalid(
      `confidence: expected a level between 0.5 and 1 like 0.95, got ${JSON.stringify(confidenceRaw)}`,
    );
  const minRaw = get('min_spans');
  if (minRaw !== undefined && !/^\d+$/.test(minRaw))
    throw invalid(`min_spans: expected a whole number, got ${JSON.stringify(minRaw)}`);
  const baseline = get('baseline') ?? DEFAULT_COMPARE_OPTIONS.baseline;
  const canary = get('canary') ?? DEFAULT_COMPARE_OPTIONS.canary;
  if (baseline === canary) throw invalid('baseline and canary: expected two different variants');
  const operation = get('operation');
  return {
    query: { service, startNs, endNs, spanKinds, ...(operation !== undefined ? { operation } : {}) },
    options: {
      ...DEFAULT_COMPARE_OPTIONS,
      baseline,
      canary,
      confidence,
      ...(get('max_latency_increase') !== undefined
        ? { maxLatencyIncrease: fraction('max_latency_increase', get('max_latency_increase')!) }
        : {}),
      ...(get('max_error_rate_increase') !== undefined
        ? { maxErrorRateIncrease: points('max_error_rate_increase', get('max_error_rate_increase')!) }
        : {}),
      ...(minRaw !== undefined ? { minSpans: Math.max(1, Number(minRaw)) } : {}),
    },
  };
}

/** The query as the report echoes it (times as RFC 3339). */
export function describeQuery(q: CompareQuery): Record<string, string> {
  const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();
  const names = Object.entries(KIND_NUMBERS);
  return {
    service: q.service,
    start: iso(q.startNs),
    end: iso(q.endNs),
    span_kinds: q.spanKinds.map((k) => names.find(([, n]) => n === k)?.[0] ?? String(k)).join(','),
    ...(q.operation !== undefined ? { operation: q.operation } : {}),
  };
}
