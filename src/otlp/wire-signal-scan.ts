/**
 * The structural scan of OTLP logs and metrics requests (issue 16): the agent keeps them as the protobuf bytes
 * they came in, so this walks each request once, checks every known field's wire type, nesting and id lengths
 * (the same coded errors as the span scanner, wire-scan.ts: SENTINEL_ERR_OTLP_DECODE with the field path and the
 * byte offset, SENTINEL_ERR_OTLP_INVALID for an id of the wrong length), counts log records or data points, and
 * finds the ResourceLogs / ResourceMetrics boundaries (for the enricher's splice and the batcher's split).
 * Nothing is decoded into objects; unknown fields are skipped, as proto3 requires, and stay in the bytes.
 *
 * Field numbers: opentelemetry-proto logs/v1/logs.proto, metrics/v1/metrics.proto, collector/{logs,metrics}/v1.
 */
import type { Signal } from './consumer.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';
import {
  checkFields,
  expect,
  KEY_VALUE,
  RESOURCE,
  rule,
  SCOPE,
  ANY_VALUE,
  type MessageRule,
} from './wire-scan.js';

const { VARINT, I64, LEN, I32 } = WireType;

const LOG_RECORD: MessageRule = rule('log_record', [
  [1, I64], // time_unix_nano
  [11, I64], // observed_time_unix_nano
  [2, VARINT], // severity_number
  [3, LEN], // severity_text
  [5, { message: () => ANY_VALUE }], // body
  [6, { message: () => KEY_VALUE }], // attributes
  [7, VARINT], // dropped_attributes_count
  [8, I32], // flags
  [9, { id: 16, name: 'log_record.trace_id' }],
  [10, { id: 8, name: 'log_record.span_id' }],
  [12, LEN], // event_name
]);

const EXEMPLAR: MessageRule = rule('exemplar', [
  [7, { message: () => KEY_VALUE }], // filtered_attributes
  [2, I64], // time_unix_nano
  [3, I64], // as_double
  [6, I64], // as_int (sfixed64)
  [4, { id: 8, name: 'exemplar.span_id' }],
  [5, { id: 16, name: 'exemplar.trace_id' }],
]);

const NUMBER_POINT: MessageRule = rule('number_data_point', [
  [7, { message: () => KEY_VALUE }],
  [2, I64],
  [3, I64],
  [4, I64], // as_double
  [6, I64], // as_int
  [5, { message: () => EXEMPLAR }],
  [8, VARINT], // flags
]);

const HISTOGRAM_POINT: MessageRule = rule('histogram_data_point', [
  [9, { message: () => KEY_VALUE }],
  [2, I64],
  [3, I64],
  [4, I64], // count
  [5, I64], // sum
  [6, { packed: I64 }], // bucket_counts
  [7, { packed: I64 }], // explicit_bounds
  [8, { message: () => EXEMPLAR }],
  [10, VARINT], // flags
  [11, I64], // min
  [12, I64], // max
]);

const EXP_BUCKETS: MessageRule = rule('buckets', [
  [1, VARINT], // offset (sint32)
  [2, { packed: VARINT }], // bucket_counts
]);

const EXP_HISTOGRAM_POINT: MessageRule = rule('exponential_histogram_data_point', [
  [1, { message: () => KEY_VALUE }],
  [2, I64],
  [3, I64],
  [4, I64], // count
  [5, I64], // sum
  [6, VARINT], // scale (sint32)
  [7, I64], // zero_count
  [8, { message: () => EXP_BUCKETS }],
  [9, { message: () => EXP_BUCKETS }],
  [10, VARINT], // flags
  [11, { message: () => EXEMPLAR }],
  [12, I64], // min
  [13, I64], // max
  [14, I64], // zero_threshold
]);

const QUANTILE: MessageRule = rule('value_at_quantile', [
  [1, I64],
  [2, I64],
]);

const SUMMARY_POINT: MessageRule = rule('summary_data_point', [
  [7, { message: () => KEY_VALUE }],
  [2, I64],
  [3, I64],
  [4, I64], // count
  [5, I64], // sum
  [6, { message: () => QUANTILE }],
  [8, VARINT], // flags
]);

/** Metric fields that hold data points (field 1 of each), with their point message. */
const METRIC_DATA: ReadonlyMap<number, { name: string; point: MessageRule }> = new Map([
  [5, { name: 'gauge', point: NUMBER_POINT }],
  [7, { name: 'sum', point: NUMBER_POINT }],
  [9, { name: 'histogram', point: HISTOGRAM_POINT }],
  [10, { name: 'exponential_histogram', point: EXP_HISTOGRAM_POINT }],
  [11, { name: 'summary', point: SUMMARY_POINT }],
]);

/** What the scan found in one request. */
export interface ScannedSignalRequest {
  /** Log records (logs) or data points (metrics). */
  readonly itemCount: number;
  /**
   * Per top-level ResourceLogs / ResourceMetrics field: where it lies in the request (tag included) and how many
   * items it holds.
   */
  readonly resources: ReadonlyArray<{ readonly start: number; readonly end: number; readonly items: number }>;
}

/** The names of one signal's request fields, for error paths. */
const NAMES = {
  logs: { resource: 'resource_logs', scope: 'scope_logs', item: 'log_records' },
  metrics: { resource: 'resource_metrics', scope: 'scope_metrics', item: 'metrics' },
} as const;

/**
 * Scans an `ExportLogsServiceRequest` or `ExportMetricsServiceRequest`. Throws a SentinelError
 * (SENTINEL_ERR_OTLP_DECODE or SENTINEL_ERR_OTLP_INVALID) naming the field path and byte offset of the first
 * problem; the request is then refused whole, as the Collector's receiver refuses one it cannot unmarshal.
 */
export function scanSignalRequest(
  signal: Exclude<Signal, 'traces'>,
  bytes: Uint8Array,
): ScannedSignalRequest {
  const names = NAMES[signal];
  const r = new ProtobufReader(bytes);
  const resources: Array<{ start: number; end: number; items: number }> = [];
  let total = 0;
  let resourceNo = 0;
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const tag = r.uint32();
    const wt = tag & 7;
    if (tag >>> 3 !== 1) {
      r.skip(wt);
      continue;
    }
    expect(r, wt, LEN, names.resource);
    r.path = `${names.resource}[${resourceNo++}]`;
    const saved = r.enter();
    const items = scanResource(r, signal);
    r.leave(saved);
    r.path = '';
    resources.push({ start: fieldStart, end: r.pos, items });
    total += items;
  }
  return { itemCount: total, resources };
}

function scanResource(r: ProtobufReader, signal: Exclude<Signal, 'traces'>): number {
  const names = NAMES[signal];
  const base = r.path;
  let items = 0;
  let scopeNo = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1) {
      expect(r, wt, LEN, 'resource');
      const saved = r.enter();
      checkFields(r, RESOURCE, 0);
      r.leave(saved);
    } else if (field === 2) {
      expect(r, wt, LEN, names.scope);
      r.path = `${base}.${names.scope}[${scopeNo++}]`;
      const saved = r.enter();
      items += scanScope(r, signal);
      r.leave(saved);
      r.path = base;
    } else {
      if (field === 3) expect(r, wt, LEN, 'schema_url');
      r.skip(wt);
    }
  }
  return items;
}

function scanScope(r: ProtobufReader, signal: Exclude<Signal, 'traces'>): number {
  let items = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 1) {
      expect(r, wt, LEN, 'scope');
      const saved = r.enter();
      checkFields(r, SCOPE, 0);
      r.leave(saved);
    } else if (field === 2) {
      expect(r, wt, LEN, NAMES[signal].item);
      const saved = r.enter();
      if (signal === 'logs') {
        checkFields(r, LOG_RECORD, 0);
        items++;
      } else items += scanMetric(r);
      r.leave(saved);
    } else {
      if (field === 3) expect(r, wt, LEN, 'schema_url');
      r.skip(wt);
    }
  }
  return items;
}

/** One Metric: checks its fields and counts the data points of its data (gauge, sum, histogram, ...). */
function scanMetric(r: ProtobufReader): number {
  let points = 0;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const field = tag >>> 3;
    const data = METRIC_DATA.get(field);
    if (data !== undefined) {
      expect(r, wt, LEN, `metric.${data.name}`);
      const saved = r.enter();
      while (r.pos < r.end) {
        const t = r.uint32();
        const w = t & 7;
        const f = t >>> 3;
        if (f === 1) {
          expect(r, w, LEN, `metric.${data.name}.data_points`);
          const inner = r.enter();
          checkFields(r, data.point, 0);
          r.leave(inner);
          points++;
        } else {
          // aggregation_temporality (2), is_monotonic (3, sum)
          if (f === 2 || f === 3) expect(r, w, VARINT, `metric.${data.name}.${f}`);
          r.skip(w);
        }
      }
      r.leave(saved);
    } else if (field === 12) {
      expect(r, wt, LEN, 'metric.metadata');
      const saved = r.enter();
      checkFields(r, KEY_VALUE, 0);
      r.leave(saved);
    } else {
      if (field === 1 || field === 2 || field === 3) expect(r, wt, LEN, `metric.${field}`);
      r.skip(wt);
    }
  }
  return points;
}

/**
 * Splits an encoded logs or metrics request into requests of about `max` items, at ResourceLogs /
 * ResourceMetrics boundaries (a single resource with more items than `max` stays whole): the batcher's
 * `send_batch_max_size` for these signals.
 */
export function splitSignalRequest(
  signal: Exclude<Signal, 'traces'>,
  request: Uint8Array,
  max: number,
): Array<{ request: Uint8Array; itemCount: number }> {
  const { resources } = scanSignalRequest(signal, request);
  const out: Array<{ request: Uint8Array; itemCount: number }> = [];
  let parts: Uint8Array[] = [];
  let count = 0;
  const cut = (): void => {
    if (parts.length > 0) out.push({ request: Buffer.concat(parts), itemCount: count });
    parts = [];
    count = 0;
  };
  for (const res of resources) {
    if (count > 0 && count + res.items > max) cut();
    parts.push(request.subarray(res.start, res.end));
    count += res.items;
  }
  cut();
  return out;
}
