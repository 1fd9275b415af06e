/**
 * OTLP/JSON `ExportMetricsServiceRequest` to protobuf, at the receivers' door (issue 16), as
 * `transcodeTraceRequestJson` does for spans. Each message's fields are written in the order the OpenTelemetry
 * JS SDK's protobuf metric serializer writes them, leaving out the defaults it leaves out (empty description
 * and unit, temporality 0, is_monotonic false, scale 0, bucket offset 0, empty repeated fields), so that the
 * SDK's JSON leaves as the bytes its protobuf exporter writes. Fields the SDK never writes (exemplars, flags,
 * summaries, zero_threshold, metadata) follow in field-number order. Field numbers: opentelemetry-proto
 * metrics/v1/metrics.proto.
 */
import { arr, double, enumValue, fail, field, int64, uint, type Obj } from './json-codec.js';
import {
  present,
  transcodeRequestJson,
  writeFixed64,
  writeId,
  writeKeyValues,
  writeMessage,
  writeString,
} from './json-to-protobuf.js';
import type { ProtobufWriter } from './protobuf-encode.js';
import { WireType } from './protobuf-reader.js';

const { VARINT, I64 } = WireType;

const TEMPORALITY_NAMES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

function writeDouble(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (!present(v)) return;
  w.double(n, double(v, path), true);
}

function writeSfixed64(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (!present(v)) return;
  w.tag(n, I64);
  w.ensure(8);
  w.buf.writeBigInt64LE(int64(v, path, false), w.pos);
  w.pos += 8;
}

/** A varint field written only when it is not 0 (proto3's implicit presence, as the SDK writes them). */
function writeNonZeroVarint(w: ProtobufWriter, n: number, value: number): void {
  if (value === 0) return;
  w.tag(n, VARINT);
  w.varint(value);
}

function writeSint32(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  if (!present(v)) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
    fail(path, `expected a 32-bit integer, got ${JSON.stringify(v)}`);
  if (v === 0) return;
  w.tag(n, VARINT);
  w.varint(((v << 1) ^ (v >> 31)) >>> 0);
}

/** A packed repeated fixed64 (bucket counts) or double (bounds), left out when empty. */
function writePacked(
  w: ProtobufWriter,
  n: number,
  v: unknown,
  path: string,
  kind: 'fixed64' | 'double',
): void {
  const values = arr(v, path);
  if (values.length === 0) return;
  const t = w.begin(n);
  values.forEach((x, i) => {
    w.ensure(8);
    if (kind === 'double') w.buf.writeDoubleLE(double(x, `${path}[${i}]`), w.pos);
    else w.buf.writeBigUInt64LE(int64(x, `${path}[${i}]`, true), w.pos);
    w.pos += 8;
  });
  w.end(t);
}

function writeExemplars(w: ProtobufWriter, n: number, v: unknown, path: string): void {
  arr(v, path).forEach((e, i) => {
    const p = `${path}[${i}]`;
    writeMessage(w, n, e ?? {}, p, (o) => {
      writeFixed64(w, 2, field(o, 'timeUnixNano', 'time_unix_nano'), p + '.timeUnixNano');
      writeDouble(w, 3, field(o, 'asDouble', 'as_double'), p + '.asDouble');
      writeId(w, 4, field(o, 'spanId', 'span_id'), 8, p + '.spanId');
      writeId(w, 5, field(o, 'traceId', 'trace_id'), 16, p + '.traceId');
      writeSfixed64(w, 6, field(o, 'asInt', 'as_int'), p + '.asInt');
      writeKeyValues(w, 7, field(o, 'filteredAttributes', 'filtered_attributes'), p + '.filteredAttributes');
    });
  });
}

const times = (w: ProtobufWriter, o: Obj, path: string): void => {
  writeFixed64(w, 2, field(o, 'startTimeUnixNano', 'start_time_unix_nano'), path + '.startTimeUnixNano');
  writeFixed64(w, 3, field(o, 'timeUnixNano', 'time_unix_nano'), path + '.timeUnixNano');
};

function writeNumberPoint(w: ProtobufWriter, o: Obj, p: string): void {
  times(w, o, p);
  writeDouble(w, 4, field(o, 'asDouble', 'as_double'), p + '.asDouble');
  writeSfixed64(w, 6, field(o, 'asInt', 'as_int'), p + '.asInt');
  writeKeyValues(w, 7, o['attributes'], p + '.attributes');
  writeExemplars(w, 5, o['exemplars'], p + '.exemplars');
  if (present(o['flags'])) writeNonZeroVarint(w, 8, uint(o['flags'], p + '.flags'));
}

function writeHistogramPoint(w: ProtobufWriter, o: Obj, p: string): void {
  times(w, o, p);
  writeFixed64(w, 4, o['count'], p + '.count');
  writeDouble(w, 5, o['sum'], p + '.sum');
  writePacked(w, 6, field(o, 'bucketCounts', 'bucket_counts'), p + '.bucketCounts', 'fixed64');
  writePacked(w, 7, field(o, 'explicitBounds', 'explicit_bounds'), p + '.explicitBounds', 'double');
  writeKeyValues(w, 9, o['attributes'], p + '.attributes');
  writeExemplars(w, 8, o['exemplars'], p + '.exemplars');
  if (present(o['flags'])) writeNonZeroVarint(w, 10, uint(o['flags'], p + '.flags'));
  writeDouble(w, 11, o['min'], p + '.min');
  writeDouble(w, 12, o['max'], p + '.max');
}

function writeBuckets(w: ProtobufWriter, n: number, v: unknown, p: string): void {
  writeMessage(w, n, v, p, (b) => {
    writeSint32(w, 1, b['offset'], p + '.offset');
    const counts = arr(field(b, 'bucketCounts', 'bucket_counts'), p + '.bucketCounts');
    if (counts.length === 0) return;
    const t = w.begin(2);
    counts.forEach((c, i) => {
      const x = int64(c, `${p}.bucketCounts[${i}]`, true);
      if (x > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${p}.bucketCounts[${i}]`, 'bucket count above 2^53');
      w.varint(Number(x));
    });
    w.end(t);
  });
}

function writeExponentialPoint(w: ProtobufWriter, o: Obj, p: string): void {
  writeKeyValues(w, 1, o['attributes'], p + '.attributes');
  times(w, o, p);
  writeFixed64(w, 4, o['count'], p + '.count');
  writeDouble(w, 5, o['sum'], p + '.sum');
  writeSint32(w, 6, o['scale'], p + '.scale');
  writeFixed64(w, 7, field(o, 'zeroCount', 'zero_count'), p + '.zeroCount');
  writeBuckets(w, 8, o['positive'], p + '.positive');
  writeBuckets(w, 9, o['negative'], p + '.negative');
  if (present(o['flags'])) writeNonZeroVarint(w, 10, uint(o['flags'], p + '.flags'));
  writeExemplars(w, 11, o['exemplars'], p + '.exemplars');
  writeDouble(w, 12, o['min'], p + '.min');
  writeDouble(w, 13, o['max'], p + '.max');
  writeDouble(w, 14, field(o, 'zeroThreshold', 'zero_threshold'), p + '.zeroThreshold');
}

function writeSummaryPoint(w: ProtobufWriter, o: Obj, p: string): void {
  times(w, o, p);
  writeFixed64(w, 4, o['count'], p + '.count');
  writeDouble(w, 5, o['sum'], p + '.sum');
  arr(field(o, 'quantileValues', 'quantile_values'), p + '.quantileValues').forEach((q, i) => {
    const qp = `${p}.quantileValues[${i}]`;
    writeMessage(w, 6, q ?? {}, qp, (qo) => {
      writeDouble(w, 1, qo['quantile'], qp + '.quantile');
      writeDouble(w, 2, qo['value'], qp + '.value');
    });
  });
  writeKeyValues(w, 7, o['attributes'], p + '.attributes');
  if (present(o['flags'])) writeNonZeroVarint(w, 8, uint(o['flags'], p + '.flags'));
}

/** The metric data fields: JSON name, field number, point writer, and whether it has temporality / monotonic. */
const DATA: ReadonlyArray<
  readonly [string, string, number, (w: ProtobufWriter, o: Obj, p: string) => void, boolean, boolean]
> = [
  ['gauge', 'gauge', 5, writeNumberPoint, false, false],
  ['sum', 'sum', 7, writeNumberPoint, true, true],
  ['histogram', 'histogram', 9, writeHistogramPoint, true, false],
  ['exponentialHistogram', 'exponential_histogram', 10, writeExponentialPoint, true, false],
  ['summary', 'summary', 11, writeSummaryPoint, false, false],
];

function writeMetric(w: ProtobufWriter, o: Obj, path: string): void {
  writeString(w, 1, o['name'], path + '.name');
  if (o['description'] !== '') writeString(w, 2, o['description'], path + '.description');
  if (o['unit'] !== '') writeString(w, 3, o['unit'], path + '.unit');
  for (const [camel, snake, n, writePoint, temporal, monotonic] of DATA) {
    const v = field(o, camel, snake);
    if (!present(v)) continue;
    const p = `${path}.${camel}`;
    writeMessage(w, n, v, p, (d) => {
      arr(field(d, 'dataPoints', 'data_points'), p + '.dataPoints').forEach((dp, i) => {
        const pp = `${p}.dataPoints[${i}]`;
        writeMessage(w, 1, dp ?? {}, pp, (po) => writePoint(w, po, pp));
      });
      const t = field(d, 'aggregationTemporality', 'aggregation_temporality');
      if (temporal && present(t))
        writeNonZeroVarint(w, 2, enumValue(t, TEMPORALITY_NAMES, p + '.aggregationTemporality'));
      const m = field(d, 'isMonotonic', 'is_monotonic');
      if (monotonic && present(m)) {
        if (typeof m !== 'boolean')
          fail(p + '.isMonotonic', `expected true or false, got ${JSON.stringify(m)}`);
        if (m) writeNonZeroVarint(w, 3, 1);
      }
    });
  }
  writeKeyValues(w, 12, o['metadata'], path + '.metadata');
}

/** Converts an OTLP/JSON `ExportMetricsServiceRequest` to its protobuf encoding. */
export function transcodeMetricsRequestJson(input: string | Uint8Array): Buffer {
  return transcodeRequestJson(
    input,
    {
      resource: ['resourceMetrics', 'resource_metrics'],
      scope: ['scopeMetrics', 'scope_metrics'],
      items: ['metrics', 'metrics'],
    },
    writeMetric,
  );
}
