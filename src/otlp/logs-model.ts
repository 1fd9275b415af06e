/**
 * The store's decoded model of OTLP logs (issue 16), mirroring `opentelemetry.proto.logs.v1` field for field as
 * model.ts mirrors traces: ids are lower-case hex ('' when absent), 64-bit times are `bigint`, the body is an
 * `AnyValue`. Resources, scopes and attributes are the trace model's types. The agent never builds it (its logs
 * stay wire bytes); the store decodes a request once it is in the WAL, to cut blocks and answer queries.
 */
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from './model.js';

/** `opentelemetry.proto.logs.v1.LogRecord`. */
export interface LogRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** `SeverityNumber`: 0 unspecified, 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL. */
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  /** `flags`: the W3C trace flags in the low 8 bits. */
  flags: number;
  /** 32 lower-case hex digits, or ''. */
  traceId: string;
  /** 16 lower-case hex digits, or ''. */
  spanId: string;
  eventName: string;
}

/** `opentelemetry.proto.logs.v1.ScopeLogs`. */
export interface ScopeLogs {
  scope: InstrumentationScope;
  logRecords: LogRecord[];
  schemaUrl: string;
}

/** `opentelemetry.proto.logs.v1.ResourceLogs`. */
export interface ResourceLogs {
  resource: Resource;
  scopeLogs: ScopeLogs[];
  schemaUrl: string;
}

/** The decoded `ExportLogsServiceRequest`. */
export interface LogsData {
  resourceLogs: ResourceLogs[];
}

/** Counts the log records in `data`. */
export function countLogRecords(data: LogsData): number {
  let n = 0;
  for (const rl of data.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

/** The short names of the severity ranges (logs data model "Displaying Severity"), each the range's first number. */
export const SEVERITY_RANGES: Readonly<Record<string, number>> = {
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
};

/**
 * A severity number for a query's `severity=`: a number 0-24, a short name (`WARN`, `warning`, `Error`, case
 * ignored), a numbered name (`INFO2`), or `SEVERITY_NUMBER_WARN`. Undefined when it is none of these.
 */
export function parseSeverity(text: string): number | undefined {
  if (/^\d{1,2}$/.test(text)) {
    const n = Number(text);
    return n <= 24 ? n : undefined;
  }
  const upper = text
    .trim()
    .toUpperCase()
    .replace(/^SEVERITY_NUMBER_/, '');
  const m = /^(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)([1-4])?$/.exec(upper);
  if (!m) return undefined;
  const base = SEVERITY_RANGES[m[1] === 'WARNING' ? 'WARN' : m[1]!]!;
  return base + (m[2] ? Number(m[2]) - 1 : 0);
}
