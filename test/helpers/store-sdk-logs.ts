/**
 * Log records made by the official OpenTelemetry JS SDK (sdk-logs' LoggerProvider and in-memory exporter), serialized
 * by otlp-transformer's protobuf and JSON serializers: the store's logs tests compare against them field for field.
 */
import { ROOT_CONTEXT, trace, type AnyValue as ApiAnyValue, type Attributes } from '@opentelemetry/api';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';

/** One record to emit. */
export interface LogSpec {
  readonly service: string;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: ApiAnyValue;
  readonly attributes?: Attributes;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly eventName?: string;
  /** Unix milliseconds. */
  readonly timeMs?: number;
  readonly resource?: Attributes;
}

/** Emits `specs` through the SDK and returns the records it finished (one LoggerProvider per service). */
export async function sdkLogRecords(specs: readonly LogSpec[]): Promise<ReadableLogRecord[]> {
  const out: ReadableLogRecord[] = [];
  const providers = new Map<string, { provider: LoggerProvider; exporter: InMemoryLogRecordExporter }>();
  for (const s of specs) {
    const key = s.service + JSON.stringify(s.resource ?? {});
    let p = providers.get(key);
    if (!p) {
      const exporter = new InMemoryLogRecordExporter();
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': s.service, ...(s.resource ?? {}) }),
        processors: [new SimpleLogRecordProcessor({ exporter })],
      });
      providers.set(key, (p = { provider, exporter }));
    }
    const logger = p.provider.getLogger('shop.orders', '2.1.0', {
      schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
    });
    const context =
      s.traceId && s.spanId
        ? trace.setSpanContext(ROOT_CONTEXT, { traceId: s.traceId, spanId: s.spanId, traceFlags: 1 })
        : ROOT_CONTEXT;
    logger.emit({
      ...(s.severityNumber !== undefined ? { severityNumber: s.severityNumber } : {}),
      ...(s.severityText !== undefined ? { severityText: s.severityText } : {}),
      ...(s.body !== undefined ? { body: s.body } : {}),
      ...(s.attributes ? { attributes: s.attributes } : {}),
      ...(s.eventName ? { eventName: s.eventName } : {}),
      ...(s.timeMs !== undefined ? { timestamp: s.timeMs } : {}),
      context,
    });
  }
  for (const { provider, exporter } of providers.values()) {
    await provider.forceFlush();
    out.push(...exporter.getFinishedLogRecords());
  }
  return out;
}

/** The SDK's protobuf `ExportLogsServiceRequest` for `records`. */
export function sdkLogsProtobuf(records: ReadableLogRecord[]): Uint8Array {
  return ProtobufLogsSerializer.serializeRequest(records)!;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * The SDK's OTLP/JSON for `records`, normalised to the spec's canonical form: proto3 defaults (zero counts, empty
 * lists) left out and int64 values as decimal strings, as Sentinel writes them.
 */
export function sdkLogsJson(records: ReadableLogRecord[]): Json {
  const doc = JSON.parse(new TextDecoder().decode(JsonLogsSerializer.serializeRequest(records)!)) as Json;
  return canonical(doc);
}

function canonical(v: Json, key = ''): Json {
  if (Array.isArray(v)) return v.map((x) => canonical(x));
  if (v && typeof v === 'object') {
    const o: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'droppedAttributesCount' || k === 'flags' || k === 'severityNumber') && x === 0) continue;
      if (k === 'intValue' && typeof x === 'number') o[k] = String(x);
      else o[k] = canonical(x, k);
    }
    return o;
  }
  void key;
  return v;
}

/** Sentinel's OTLP/JSON with the keys sorted and empty attribute lists dropped, for deepEqual against the SDK. */
export function sortedJson(v: unknown): Json {
  if (Array.isArray(v)) return v.map(sortedJson);
  if (v && typeof v === 'object') {
    const o: { [k: string]: Json } = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (k === 'attributes' && Array.isArray(x) && x.length === 0) continue;
      o[k] = sortedJson(x);
    }
    return o;
  }
  return v as Json;
}

/**
 * Every record of an OTLP/JSON `LogsData` with its resource and scope beside it, in sorted key order, as sorted
 * strings: two answers that group or order records differently compare equal when they hold the same records.
 */
export function flatLogRecords(doc: unknown): string[] {
  const out: string[] = [];
  const root = sortedJson(doc) as { resourceLogs?: Json[] };
  for (const rl of (root.resourceLogs ?? []) as { [k: string]: Json }[]) {
    for (const sl of (rl['scopeLogs'] ?? []) as { [k: string]: Json }[]) {
      for (const rec of (sl['logRecords'] ?? []) as Json[]) {
        out.push(
          JSON.stringify({
            resource: rl['resource'] ?? null,
            resourceSchemaUrl: rl['schemaUrl'] ?? '',
            scope: sl['scope'] ?? null,
            scopeSchemaUrl: sl['schemaUrl'] ?? '',
            record: rec,
          }),
        );
      }
    }
  }
  return out.sort();
}
