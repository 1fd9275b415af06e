/**
 * The official OpenTelemetry JS SDK as a test client: spans recorded by the tracer, sent by the real
 * OTLP exporters, and the same spans converted independently into Sentinel's model for comparison.
 */
import {
  SpanKind as ApiSpanKind,
  SpanStatusCode,
  type Attributes,
  type AttributeValue,
  type Link,
} from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { AnyValue, KeyValue, Span } from '../../src/otlp/index.js';
import { SeededIds } from './seeded-ids.js';

export type SdkTransport = 'grpc' | 'proto' | 'json';

/** An OTLP exporter of the kind named, aimed at a receiver on 127.0.0.1. */
export function sdkExporter(
  transport: SdkTransport,
  ports: { grpcPort: number; httpPort: number },
  extra: { compression?: 'gzip' | 'none'; headers?: Record<string, string> } = {},
): SpanExporter {
  const compression = extra.compression === 'gzip' ? ('gzip' as never) : ('none' as never);
  switch (transport) {
    case 'grpc':
      return new GrpcExporter({ url: `http://127.0.0.1:${ports.grpcPort}`, compression });
    case 'proto':
      return new ProtoExporter({
        url: `http://127.0.0.1:${ports.httpPort}/v1/traces`,
        compression,
        ...(extra.headers ? { headers: extra.headers } : {}),
      });
    case 'json':
      return new HttpJsonExporter({
        url: `http://127.0.0.1:${ports.httpPort}/v1/traces`,
        compression,
        ...(extra.headers ? { headers: extra.headers } : {}),
      });
  }
}

/** Attributes of every OTLP AnyValue type the JS API can carry. */
export function richAttributes(i: number): Attributes {
  return {
    'str.attr': `value-${i}`,
    'bool.attr': i % 2 === 0,
    'int.attr': i,
    'negative.int': -1234567 - i,
    'double.attr': i + 0.25,
    'str.array': ['a', `b${i}`],
    'int.array': [1, 2, i],
    'bool.array': [true, false],
    'double.array': [0.5, 1.5],
    'bytes.attr': new Uint8Array([0, 1, 2, 255, i % 256]) as unknown as AttributeValue,
    'kvlist.attr': { nested: 'yes', depth: 2, inner: { flag: true } } as unknown as AttributeValue,
    'mixed.array': ['x', 1, true] as unknown as AttributeValue,
  };
}

/**
 * An app's tracer provider sending to an agent over OTLP/HTTP protobuf: `resource`, ids seeded with `seed`,
 * batches of up to 500 spans every 100 ms, a queue of `maxQueueSize` spans, exports timing out after 30 s.
 */
export function agentTracerProvider(
  resource: Resource,
  agent: { ports: { grpc: number; http: number } },
  seed: number,
  maxQueueSize: number,
): TracerProvider {
  return new TracerProvider({
    resource,
    idGenerator: new SeededIds(seed),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: sdkExporter('proto', { grpcPort: agent.ports.grpc, httpPort: agent.ports.http }),
        scheduledDelayMillis: 100,
        maxQueueSize,
        maxExportBatchSize: 500,
        exportTimeoutMillis: 30_000,
      }),
    ],
  });
}

/**
 * Records `count` spans through a real tracer, sending them with `exporter` (when given) and keeping a copy.
 * Spans carry every attribute type, events, links and (every 7th) error status; each trace is a root and a child.
 */
export async function recordAndSend(
  count: number,
  exporter: SpanExporter | undefined,
  options: { serviceName?: string; maxExportBatchSize?: number } = {},
): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const processors: Array<SimpleSpanProcessor | BatchSpanProcessor> = [
    new SimpleSpanProcessor({ exporter: memory }),
  ];
  if (exporter) {
    processors.push(
      new BatchSpanProcessor({
        exporter,
        maxExportBatchSize: options.maxExportBatchSize ?? 200,
        maxQueueSize: count + 10,
        scheduledDelayMillis: 50,
        exportTimeoutMillis: 30_000,
      }),
    );
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName ?? 'checkout',
      'service.version': '1.2.3',
      'host.cores': 2,
    }),
    spanProcessors: processors,
  });
  const tracer = provider.getTracer('sentinel-test', '0.0.1', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
  });
  let made = 0;
  let previous: Link | undefined;
  while (made < count) {
    const root = tracer.startSpan(`GET /items/${made % 5}`, {
      kind: ApiSpanKind.SERVER,
      attributes: richAttributes(made),
      ...(previous ? { links: [previous] } : {}),
    });
    root.addEvent('cache.miss', { 'cache.key': `k${made}`, 'cache.size': made });
    made++;
    if (made < count) {
      const ctx = (await import('@opentelemetry/api')).trace.setSpan(
        (await import('@opentelemetry/api')).context.active(),
        root,
      );
      const child = tracer.startSpan(
        'SELECT items',
        { kind: ApiSpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } },
        ctx,
      );
      if (made % 7 === 0) {
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock detected' });
        child.recordException(new Error('deadlock detected'));
      }
      child.end();
      made++;
    }
    root.setStatus({ code: SpanStatusCode.OK });
    root.end();
    previous = { context: root.spanContext(), attributes: { 'link.reason': 'previous request' } };
  }
  await provider.forceFlush();
  const recorded = [...memory.getFinishedSpans()];
  await provider.shutdown();
  return recorded;
}

/** Exact nanoseconds of an HrTime ([seconds, nanos]); the SDK's own helper goes through a float. */
function hrTimeToBigInt(t: readonly [number, number]): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

function toAnyValue(v: unknown): AnyValue {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'boolean') return { kind: 'bool', value: v };
  if (typeof v === 'number')
    return Number.isInteger(v) ? { kind: 'int', value: BigInt(v) } : { kind: 'double', value: v };
  if (v instanceof Uint8Array) return { kind: 'bytes', value: new Uint8Array(v) };
  if (Array.isArray(v)) return { kind: 'array', value: v.map(toAnyValue) };
  if (v !== null && typeof v === 'object')
    return { kind: 'kvlist', value: Object.entries(v).map(([key, x]) => ({ key, value: toAnyValue(x) })) };
  return { kind: 'empty' };
}

function toKeyValues(attrs: Attributes | undefined): KeyValue[] {
  return Object.entries(attrs ?? {}).map(([key, value]) => ({ key, value: toAnyValue(value) }));
}

/** What Sentinel's model must hold for a span the SDK recorded, converted without Sentinel's code. */
export function expectedSpan(s: ReadableSpan): Span {
  const ctx = s.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceState: ctx.traceState?.serialize() ?? '',
    parentSpanId: s.parentSpanContext?.spanId ?? '',
    flags: ctx.traceFlags | 0x100 | (s.parentSpanContext?.isRemote ? 0x200 : 0),
    name: s.name,
    kind: s.kind + 1,
    startTimeUnixNano: hrTimeToBigInt(s.startTime),
    endTimeUnixNano: hrTimeToBigInt(s.endTime),
    attributes: toKeyValues(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: hrTimeToBigInt(e.time),
      name: e.name,
      attributes: toKeyValues(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      attributes: toKeyValues(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
      flags: l.context.traceFlags | 0x100 | (l.context.isRemote ? 0x200 : 0),
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code, message: s.status.message ?? '' },
  };
}

/** The resource attributes the SDK sent, as the model holds them. */
export function expectedResource(s: ReadableSpan): KeyValue[] {
  return toKeyValues(s.resource.attributes as Attributes);
}

export { SpanStatusCode };
