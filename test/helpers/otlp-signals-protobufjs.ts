import type protobuf from 'protobufjs';
import { otlpProtobufjsRoot } from './otlp-protobufjs.js';

/**
 * OTLP's logs and metrics messages for protobufjs (issue 16), written by hand from the field numbers of
 * opentelemetry-proto logs/v1/logs.proto and metrics/v1/metrics.proto: an independent decoder for tests.
 * `LogsRequest` is ExportLogsServiceRequest, `MetricsRequest` ExportMetricsServiceRequest.
 */
const kvs = (id: number) => ({ rule: 'repeated', type: 'KeyValue', id });
const f = (type: string, id: number) => ({ type, id });
const rep = (type: string, id: number) => ({ rule: 'repeated', type, id });

const signals: Record<string, protobuf.IType> = {
  LogRecord: {
    fields: {
      timeUnixNano: f('fixed64', 1),
      observedTimeUnixNano: f('fixed64', 11),
      severityNumber: f('int32', 2),
      severityText: f('string', 3),
      body: f('AnyValue', 5),
      attributes: kvs(6),
      droppedAttributesCount: f('uint32', 7),
      flags: f('fixed32', 8),
      traceId: f('bytes', 9),
      spanId: f('bytes', 10),
      eventName: f('string', 12),
    },
  },
  ScopeLogs: { fields: { scope: f('Scope', 1), logRecords: rep('LogRecord', 2), schemaUrl: f('string', 3) } },
  ResourceLogs: {
    fields: { resource: f('Resource', 1), scopeLogs: rep('ScopeLogs', 2), schemaUrl: f('string', 3) },
  },
  LogsRequest: { fields: { resourceLogs: rep('ResourceLogs', 1) } },
  Exemplar: {
    fields: {
      filteredAttributes: kvs(7),
      timeUnixNano: f('fixed64', 2),
      asDouble: f('double', 3),
      asInt: f('sfixed64', 6),
      spanId: f('bytes', 4),
      traceId: f('bytes', 5),
    },
  },
  NumberDataPoint: {
    fields: {
      attributes: kvs(7),
      startTimeUnixNano: f('fixed64', 2),
      timeUnixNano: f('fixed64', 3),
      asDouble: f('double', 4),
      asInt: f('sfixed64', 6),
      exemplars: rep('Exemplar', 5),
      flags: f('uint32', 8),
    },
  },
  HistogramDataPoint: {
    fields: {
      attributes: kvs(9),
      startTimeUnixNano: f('fixed64', 2),
      timeUnixNano: f('fixed64', 3),
      count: f('fixed64', 4),
      sum: f('double', 5),
      bucketCounts: rep('fixed64', 6),
      explicitBounds: rep('double', 7),
      exemplars: rep('Exemplar', 8),
      flags: f('uint32', 10),
      min: f('double', 11),
      max: f('double', 12),
    },
  },
  Buckets: { fields: { offset: f('sint32', 1), bucketCounts: rep('uint64', 2) } },
  ExponentialHistogramDataPoint: {
    fields: {
      attributes: kvs(1),
      startTimeUnixNano: f('fixed64', 2),
      timeUnixNano: f('fixed64', 3),
      count: f('fixed64', 4),
      sum: f('double', 5),
      scale: f('sint32', 6),
      zeroCount: f('fixed64', 7),
      positive: f('Buckets', 8),
      negative: f('Buckets', 9),
      flags: f('uint32', 10),
      exemplars: rep('Exemplar', 11),
      min: f('double', 12),
      max: f('double', 13),
      zeroThreshold: f('double', 14),
    },
  },
  Gauge: { fields: { dataPoints: rep('NumberDataPoint', 1) } },
  Sum: {
    fields: {
      dataPoints: rep('NumberDataPoint', 1),
      aggregationTemporality: f('int32', 2),
      isMonotonic: f('bool', 3),
    },
  },
  Histogram: { fields: { dataPoints: rep('HistogramDataPoint', 1), aggregationTemporality: f('int32', 2) } },
  ExponentialHistogram: {
    fields: { dataPoints: rep('ExponentialHistogramDataPoint', 1), aggregationTemporality: f('int32', 2) },
  },
  Metric: {
    fields: {
      name: f('string', 1),
      description: f('string', 2),
      unit: f('string', 3),
      gauge: f('Gauge', 5),
      sum: f('Sum', 7),
      histogram: f('Histogram', 9),
      exponentialHistogram: f('ExponentialHistogram', 10),
      metadata: kvs(12),
    },
  },
  ScopeMetrics: { fields: { scope: f('Scope', 1), metrics: rep('Metric', 2), schemaUrl: f('string', 3) } },
  ResourceMetrics: {
    fields: { resource: f('Resource', 1), scopeMetrics: rep('ScopeMetrics', 2), schemaUrl: f('string', 3) },
  },
  MetricsRequest: { fields: { resourceMetrics: rep('ResourceMetrics', 1) } },
};

const root = otlpProtobufjsRoot(signals);

/** The protobufjs type of ExportLogsServiceRequest (`logs`) or ExportMetricsServiceRequest (`metrics`). */
export function signalRequestType(kind: 'logs' | 'metrics'): protobuf.Type {
  return root.lookupType(kind === 'logs' ? 'LogsRequest' : 'MetricsRequest');
}

/** Decodes a logs or metrics request into plain objects (longs as strings, bytes as hex). */
export function decodeSignalRequest(kind: 'logs' | 'metrics', bytes: Uint8Array): Record<string, unknown> {
  const type = signalRequestType(kind);
  return type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: false }) as Record<
    string,
    unknown
  >;
}
