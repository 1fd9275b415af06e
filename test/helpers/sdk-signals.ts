/**
 * The official OpenTelemetry JS SDK's logs and metrics as test clients (issue 16): records of every shape the SDK
 * writes, and exporter wrappers that keep what the SDK handed its exporter (its own view of what it sends).
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  LoggerProvider,
  SimpleLogRecordProcessor,
  type LogRecordExporter,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

/** Wraps an SDK exporter, keeping what it was handed (the SDK's own view of what it sends). */
export class CapturingLogs implements LogRecordExporter {
  readonly records: ReadableLogRecord[] = [];
  constructor(private readonly inner: LogRecordExporter) {}
  export(records: ReadableLogRecord[], cb: Parameters<LogRecordExporter['export']>[1]): void {
    this.records.push(...records);
    this.inner.export(records, cb);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export class CapturingMetrics implements PushMetricExporter {
  readonly batches: ResourceMetrics[] = [];
  constructor(private readonly inner: PushMetricExporter) {}
  // The OTLP exporters choose cumulative temporality and the default aggregations; kept as they choose.
  selectAggregationTemporality(
    t: Parameters<NonNullable<PushMetricExporter['selectAggregationTemporality']>>[0],
  ) {
    return this.inner.selectAggregationTemporality!(t);
  }
  export(metrics: ResourceMetrics, cb: Parameters<PushMetricExporter['export']>[1]): void {
    this.batches.push(metrics);
    this.inner.export(metrics, cb);
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** An SDK exporter that sends nothing (for capturing what the SDK would send). */
export const NOWHERE: LogRecordExporter & PushMetricExporter = {
  export: (_data: unknown, cb: (r: { code: number }) => void) => cb({ code: 0 }),
  forceFlush: async () => {},
  shutdown: async () => {},
  selectAggregationTemporality: () => 1,
} as never;

/** Records log records of every shape the SDK writes (bodies of each kind, severities, span context, event names). */
export async function emitLogs(exporter: CapturingLogs, label: string): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': 'checkout',
      'service.version': '1.4.2',
      'app.tier': 2,
    }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('checkout.payments', '0.9.1', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
  });
  logger.emit({ body: `plain string over ${label}`, severityNumber: 9, severityText: 'INFO' });
  logger.emit({
    body: { order: 'o-1', amount: 12.5, items: [1, 2, 3], nested: { ok: true } },
    severityNumber: 17,
    severityText: 'ERROR',
    attributes: { 'http.route': '/pay', retries: 3, ratio: 0.25, flags: [true, false], raw: 'x' },
  });
  logger.emit({
    body: 42,
    severityNumber: 13,
    eventName: 'payment.declined',
    attributes: { 'exception.type': 'CardDeclined' },
    timestamp: 1_700_000_000_123,
  });
  logger.emit({ body: new Uint8Array([1, 2, 3, 250]), severityNumber: 5 });
  await provider.forceFlush();
  await provider.shutdown();
}

export async function recordMetrics(exporter: CapturingMetrics): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.4.2' }),
    readers: [reader],
  });
  const meter = provider.getMeter('checkout.metrics', '2.0.0');
  const counter = meter.createCounter('orders', { description: 'Orders placed', unit: '{order}' });
  counter.add(3, { region: 'eu' });
  counter.add(4, { region: 'us' });
  const histogram = meter.createHistogram('latency', { unit: 's' });
  for (const v of [0.01, 0.2, 1.5, 7]) histogram.record(v, { route: '/pay' });
  const updown = meter.createUpDownCounter('queue.depth', { valueType: 1 as never });
  updown.add(5);
  updown.add(-2);
  const gauge = meter.createObservableGauge('temperature');
  gauge.addCallback((r) => r.observe(21.5, { room: 'a' }));
  await reader.forceFlush();
  await provider.shutdown();
}
