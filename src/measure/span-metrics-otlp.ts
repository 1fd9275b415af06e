/**
 * Span metrics as OTLP metrics (issue 16): the measure stage's series, encoded as one
 * `ExportMetricsServiceRequest` that goes down the pipeline like an app's metrics (batched, queued, retried, to
 * every exporter that carries metrics), beside the Prometheus exposition on /metrics. The names and attributes
 * are the OpenTelemetry Collector spanmetrics connector's: `traces.span.metrics.calls` (a cumulative monotonic
 * sum) and `traces.span.metrics.duration` (a cumulative histogram, in seconds here, with the connector's default
 * buckets), with `span.name`, `span.kind`, `status.code` and, when set, `deployment.variant` per data point, under
 * the spans' own resource (service.name and the pod's Kubernetes attributes, as the enricher left it).
 */
import {
  av,
  DEPLOYMENT_VARIANT_ATTRIBUTE,
  encodeAttributeFields,
  ProtobufWriter,
  type KeyValue,
} from '../otlp/index.js';

/** One series as the encoder sees it. */
export interface OtlpSeries {
  readonly labels: {
    readonly service: string;
    readonly span_name: string;
    readonly span_kind: string;
    readonly status_code: string;
    readonly variant: string;
  };
  readonly count: number;
  readonly sum: number;
  /** Per bucket (not cumulative), one more implicit bucket above the last bound. */
  readonly buckets: Float64Array;
  /** The Resource message of the spans it counts (the enriched resource's bytes); absent: service.name only. */
  readonly resource?: Uint8Array | undefined;
}

const SCOPE = encodeScope();

function encodeScope(): Buffer {
  const w = new ProtobufWriter(64);
  w.string(1, 'sentinel.spanmetrics', true);
  return Buffer.from(w.finish());
}

/** A data point's attributes as `field` (NumberDataPoint: 7, HistogramDataPoint: 9). */
function pointAttributes(s: OtlpSeries, field: number): Buffer {
  const kvs: KeyValue[] = [
    { key: 'span.name', value: av.string(s.labels.span_name) },
    { key: 'span.kind', value: av.string(s.labels.span_kind) },
    { key: 'status.code', value: av.string(s.labels.status_code) },
  ];
  if (s.labels.variant) kvs.push({ key: DEPLOYMENT_VARIANT_ATTRIBUTE, value: av.string(s.labels.variant) });
  return encodeAttributeFields(field, kvs);
}

function fixed64(w: ProtobufWriter, field: number, v: bigint): void {
  w.tag(field, 1);
  w.ensure(8);
  w.buf.writeBigUInt64LE(v, w.pos);
  w.pos += 8;
}

/** The calls metric of one resource's series: `traces.span.metrics.calls`, a cumulative monotonic Sum. */
function writeCalls(w: ProtobufWriter, list: readonly OtlpSeries[], startNs: bigint, nowNs: bigint): void {
  const calls = w.begin(2);
  w.string(1, 'traces.span.metrics.calls', true);
  w.string(3, '{call}', true);
  const sum = w.begin(7);
  for (const s of list) {
    const p = w.begin(1);
    fixed64(w, 2, startNs);
    fixed64(w, 3, nowNs);
    w.tag(6, 1); // as_int (sfixed64)
    w.ensure(8);
    w.buf.writeBigInt64LE(BigInt(s.count), w.pos);
    w.pos += 8;
    w.raw(pointAttributes(s, 7));
    w.end(p);
  }
  w.uint32(2, 2); // CUMULATIVE
  w.uint32(3, 1); // is_monotonic
  w.end(sum);
  w.end(calls);
}

/** Packed fixed-width values (repeated fixed64 / double), written as one length-delimited field. */
function writePacked(
  w: ProtobufWriter,
  field: number,
  values: readonly number[],
  kind: 'uint64' | 'double',
): void {
  const packed = w.begin(field);
  for (const v of values) {
    w.ensure(8);
    if (kind === 'double') w.buf.writeDoubleLE(v, w.pos);
    else w.buf.writeBigUInt64LE(BigInt(v), w.pos);
    w.pos += 8;
  }
  w.end(packed);
}

/** The duration metric of one resource's series: `traces.span.metrics.duration`, a cumulative Histogram. */
function writeDurations(
  w: ProtobufWriter,
  list: readonly OtlpSeries[],
  boundsSeconds: readonly number[],
  startNs: bigint,
  nowNs: bigint,
): void {
  const duration = w.begin(2);
  w.string(1, 'traces.span.metrics.duration', true);
  w.string(3, 's', true);
  const hist = w.begin(9);
  for (const s of list) {
    const p = w.begin(1);
    fixed64(w, 2, startNs);
    fixed64(w, 3, nowNs);
    fixed64(w, 4, BigInt(s.count));
    w.double(5, s.sum, true);
    const counts = boundsSeconds.map((_, i) => s.buckets[i] ?? 0);
    // The bucket above the last bound: what the per-bucket counts do not hold.
    counts.push(Math.max(0, s.count - counts.reduce((a, b) => a + b, 0)));
    writePacked(w, 6, counts, 'uint64');
    writePacked(w, 7, boundsSeconds, 'double');
    w.raw(pointAttributes(s, 9));
    w.end(p);
  }
  w.uint32(2, 2); // CUMULATIVE
  w.end(hist);
  w.end(duration);
}

/**
 * The request for `series` (cumulative since `startNs`, observed at `nowNs`) and the number of data points in it
 * (two per series: its calls and its duration histogram).
 */
export function encodeSpanMetrics(
  series: readonly OtlpSeries[],
  boundsSeconds: readonly number[],
  startNs: bigint,
  nowNs: bigint,
): { request: Buffer; points: number } {
  // One ResourceMetrics per resource: the series of each service under its spans' resource.
  const byResource = new Map<Uint8Array | string, OtlpSeries[]>();
  for (const s of series) {
    const key = s.resource ?? s.labels.service;
    const list = byResource.get(key);
    if (list) list.push(s);
    else byResource.set(key, [s]);
  }
  const w = new ProtobufWriter(4096);
  for (const [key, list] of byResource) {
    const rm = w.begin(1);
    if (typeof key === 'string') {
      const res = w.begin(1);
      w.raw(encodeAttributeFields(1, [{ key: 'service.name', value: av.string(key) }]));
      w.end(res);
    } else w.bytes(1, key, true);
    const sm = w.begin(2);
    w.bytes(1, SCOPE, true);
    writeCalls(w, list, startNs, nowNs);
    writeDurations(w, list, boundsSeconds, startNs, nowNs);
    w.end(sm);
    w.end(rm);
  }
  return { request: Buffer.from(w.finish()), points: series.length * 2 };
}
