/**
 * Logs for the issue 16 sampler tests: requests encoded by the OpenTelemetry SDK's own serializer
 * (otlp-transformer's ProtobufLogsSerializer, from records shaped as sdk-logs' ReadableLogRecord), decoded
 * independently with protobufjs (logs.proto field numbers), and a consumer that collects logs batches.
 */
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { SignalBatch } from '../../src/otlp/index.js';
import { CollectingConsumer } from './collecting-consumer.js';
import { signalRequestType } from './otlp-signals-protobufjs.js';

export interface LogSpec {
  readonly traceId?: string | undefined;
  readonly spanId?: string;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: string;
  readonly attributes?: Record<string, string | number | boolean>;
  /** ms since the epoch */
  readonly timeMs?: number;
}

const resources = new Map<string, Resource>();
function resourceOf(service: string): Resource {
  let r = resources.get(service);
  if (r === undefined) {
    r = resourceFromAttributes({ 'service.name': service });
    resources.set(service, r);
  }
  return r;
}
const SCOPE = { name: 'app-logger', version: '1.0.0' };

function hrTime(ms: number): [number, number] {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** An ExportLogsServiceRequest as the SDK's OTLP/protobuf log exporters send it. */
export function encodeLogs(specs: readonly LogSpec[], service = 'checkout'): Uint8Array {
  const resource = resourceOf(service);
  const records = specs.map((s) => ({
    resource,
    instrumentationScope: SCOPE,
    hrTime: hrTime(s.timeMs ?? 1_700_000_000_000),
    hrTimeObserved: hrTime((s.timeMs ?? 1_700_000_000_000) + 1),
    severityNumber: s.severityNumber,
    severityText: s.severityText,
    body: s.body ?? 'hello',
    attributes: s.attributes ?? {},
    droppedAttributesCount: 0,
    spanContext:
      s.traceId !== undefined
        ? { traceId: s.traceId, spanId: s.spanId ?? '0102030405060708', traceFlags: 1 }
        : undefined,
  }));
  const bytes = ProtobufLogsSerializer.serializeRequest(records as never);
  if (bytes === undefined) throw new Error('the SDK serializer returned nothing');
  return bytes;
}

/** A logs batch as the receivers hand it on. */
export function logsBatch(specs: readonly LogSpec[], service?: string): SignalBatch {
  const encoded = encodeLogs(specs, service);
  return { encoded, itemCount: specs.length, bytes: encoded.byteLength };
}

const LogsRequest = signalRequestType('logs');

/** A decoded log record, as the tests check it. */
export interface DecodedLog {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: string;
  readonly attributes: Record<string, unknown>;
  /** `sampling.weight`, undefined when absent. */
  readonly weight: number | undefined;
}

interface PbKv {
  key: string;
  value?: { s?: string; b?: boolean; i?: unknown; d?: number };
}
function kvValue(v: PbKv['value']): unknown {
  if (v === undefined) return undefined;
  return v.s ?? v.b ?? (v.i !== undefined ? Number(v.i) : v.d);
}

/** Decodes an ExportLogsServiceRequest with protobufjs (independently of Sentinel's scanner). */
export function decodeLogs(bytes: Uint8Array): DecodedLog[] {
  const msg = LogsRequest.toObject(LogsRequest.decode(bytes), { longs: String, bytes: Buffer }) as {
    resourceLogs?: Array<{
      resource?: { attributes?: PbKv[] };
      scopeLogs?: Array<{
        logRecords?: Array<{
          traceId?: Buffer;
          spanId?: Buffer;
          severityNumber?: number;
          severityText?: string;
          body?: PbKv['value'];
          attributes?: PbKv[];
        }>;
      }>;
    }>;
  };
  const out: DecodedLog[] = [];
  for (const rl of msg.resourceLogs ?? []) {
    const service = String(
      kvValue(rl.resource?.attributes?.find((a) => a.key === 'service.name')?.value) ?? '',
    );
    for (const sl of rl.scopeLogs ?? [])
      for (const lr of sl.logRecords ?? []) {
        const attributes: Record<string, unknown> = {};
        for (const a of lr.attributes ?? []) attributes[a.key] = kvValue(a.value);
        const w = attributes['sampling.weight'];
        out.push({
          service,
          traceId: lr.traceId ? lr.traceId.toString('hex') : '',
          spanId: lr.spanId ? lr.spanId.toString('hex') : '',
          severityNumber: lr.severityNumber ?? 0,
          severityText: lr.severityText ?? '',
          body: String(kvValue(lr.body) ?? ''),
          attributes,
          weight: typeof w === 'number' ? w : undefined,
        });
      }
  }
  return out;
}

/** A CollectingConsumer that takes logs too. */
export class LogsCollectingConsumer extends CollectingConsumer {
  readonly logBatches: SignalBatch[] = [];
  async consumeLogs(batch: SignalBatch): Promise<void> {
    this.logBatches.push(batch);
  }
  /** Every log record received so far, decoded. */
  logs(): DecodedLog[] {
    return this.logBatches.flatMap((b) => decodeLogs(b.encoded));
  }
}
