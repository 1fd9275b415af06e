/**
 * The agent's view of an `ExportLogsServiceRequest` (issue 16), in the style of wire-scan.ts: the request's
 * protobuf bytes plus an index. The scanner walks the request once, checks every known field (wire types,
 * lengths, id lengths, attribute nesting: the coded errors of wire-scan.ts, naming the field path and byte
 * offset), finds the ResourceLogs / ScopeLogs / LogRecord boundaries and reads per record only what the sampler
 * uses: trace id, span id, severity, time, whether `sampling.*` is already set. Resource and scope headers are
 * copied out and interned with the spans' (the field numbers of ResourceLogs / ScopeLogs are those of
 * ResourceSpans / ScopeSpans), so `RequestAssembler` writes a logs request from record slices as it writes a
 * traces request from span slices. Every byte the scanner does not read, unknown fields included, stays where
 * it was and leaves in the exported request.
 */
import { dataViewOf } from './byte-copy.js';
import { bytesToHex } from './hex.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';
import {
  allZero,
  ANY_VALUE as ANY_VALUE_RULE,
  attributeMark,
  checkNested,
  fixed64At,
  idField,
  walkRequest,
  want,
  type RequestLayout,
  type WireScope,
} from './wire-scan.js';

const { VARINT, I64, LEN, I32 } = WireType;

/** OpenTelemetry log severity numbers (logs data model): the first of each range of four. */
export const SEVERITY_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  TRACE: 1,
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
  FATAL: 21,
});

/**
 * The severity number a severity text names (`WARN`, `warning`, `Error`, `WARN2`...), or 0. Used when a record
 * has no severity_number (0, unspecified) but a text, as some logging bridges send.
 */
export function severityFromText(text: string): number {
  if (text === '') return 0;
  const m = /^([A-Za-z]+)([2-4])?$/.exec(text);
  if (m === null) return 0;
  let name = (m[1] as string).toUpperCase();
  if (name === 'WARNING') name = 'WARN';
  else if (name === 'CRITICAL') name = 'FATAL';
  const base = SEVERITY_NUMBERS[name];
  if (base === undefined) return 0;
  return base + (m[2] === undefined ? 0 : Number(m[2]) - 1);
}

/**
 * One request's log records, scanned: the request bytes and, per record, where its LogRecord message lies and
 * the fields the sampler reads. Columns, as WireSpans: a held record costs a few bytes of index.
 */
export class WireLogs {
  /** Trace ids as lower-case hex, '' when absent or all zeroes; released once the sampler has read them. */
  traceIds: string[] | undefined;
  /** Span ids as lower-case hex, '' when absent; released with the trace ids. */
  spanIds: string[] | undefined;
  /** severity_text as sent; released with the trace ids. */
  severityTexts: string[] | undefined;
  constructor(
    readonly buf: Buffer,
    /** The request's ScopeLogs headers (ScopeLogs fields other than `log_records`). */
    readonly scopes: WireScope[],
    readonly count: number,
    readonly scopeIndex: Uint32Array,
    readonly offsets: Uint32Array,
    readonly lengths: Uint32Array,
    /** severity_number (0-255 kept as sent; 0 with a known severity_text: the text's number). */
    readonly severities: Uint8Array,
    /** MARK_WEIGHT / MARK_COMPLETED when the record already carries `sampling.*` attributes. */
    readonly marks: Uint8Array,
    /** time_unix_nano (observed_time_unix_nano when 0), high and low 32 bits. */
    readonly timesHi: Uint32Array,
    readonly timesLo: Uint32Array,
    traceIds: string[],
    spanIds: string[],
    severityTexts: string[],
  ) {
    this.traceIds = traceIds;
    this.spanIds = spanIds;
    this.severityTexts = severityTexts;
  }

  private view: DataView | undefined;
  /** A DataView of `buf`, made on first use: copies out of the request (byte-copy.ts) share it. */
  get dataView(): DataView {
    return (this.view ??= dataViewOf(this.buf));
  }

  /** The LogRecord message of record `i` (a view into the request bytes). */
  record(i: number): Buffer {
    const off = this.offsets[i] as number;
    return this.buf.subarray(off, off + (this.lengths[i] as number));
  }

  scope(i: number): WireScope {
    return this.scopes[this.scopeIndex[i] as number] as WireScope;
  }

  /** Time of record `i` in ms since the epoch (0 when the record has none). */
  timeMs(i: number): number {
    return ((this.timesHi[i] as number) * 4294967296 + (this.timesLo[i] as number)) / 1e6;
  }
}

/** Fixed bytes of index per scanned record (its columns in WireLogs), for the held-bytes figures. */
export const WIRE_INDEX_BYTES_PER_LOG = 24;

/** Bytes a scanned logs request holds: its buffer and its index. */
export function wireLogsBytes(logs: WireLogs): number {
  return logs.buf.byteLength + logs.count * WIRE_INDEX_BYTES_PER_LOG;
}

/**
 * Scans protobuf `ExportLogsServiceRequest` bytes. Refuses a known field of the wrong wire type, a truncated
 * message or an id of the wrong length with the scanner's coded errors (SENTINEL_ERR_OTLP_DECODE /
 * SENTINEL_ERR_OTLP_INVALID, naming the field path and byte offset). A record without a trace id is indexed
 * with '' (logs need not belong to a trace).
 */
export function scanLogsRequest(bytes: Uint8Array): WireLogs {
  const r = new ProtobufReader(bytes);
  const b = new LogIndexBuilder(r.buf);
  walkRequest(r, b, LOGS_LAYOUT);
  return b.finish();
}

class LogIndexBuilder {
  scopes: WireScope[] = [];
  count = 0;
  cap = 64;
  scopeIndex = new Uint32Array(this.cap);
  offsets = new Uint32Array(this.cap);
  lengths = new Uint32Array(this.cap);
  severities = new Uint8Array(this.cap);
  marks = new Uint8Array(this.cap);
  timesHi = new Uint32Array(this.cap);
  timesLo = new Uint32Array(this.cap);
  traceIds: string[] = [];
  spanIds: string[] = [];
  severityTexts: string[] = [];
  constructor(readonly buf: Buffer) {}

  /** Appends one record to the columns; its time is the fixed64 at `timeAt` (-1: 0). */
  add(
    scopeNo: number,
    start: number,
    end: number,
    severity: number,
    marks: number,
    timeAt: number,
    traceId: string,
    spanId: string,
    severityText: string,
  ): void {
    if (this.count === this.cap) this.grow();
    const i = this.count++;
    this.scopeIndex[i] = scopeNo;
    this.offsets[i] = start;
    this.lengths[i] = end - start;
    this.severities[i] = severity > 255 ? 255 : severity;
    this.marks[i] = marks;
    this.timesHi[i] = timeAt < 0 ? 0 : this.buf.readUInt32LE(timeAt + 4);
    this.timesLo[i] = timeAt < 0 ? 0 : this.buf.readInt32LE(timeAt);
    this.traceIds.push(traceId);
    this.spanIds.push(spanId);
    this.severityTexts.push(severityText);
  }

  grow(): void {
    this.cap *= 2;
    const g = <T extends Uint32Array | Uint8Array>(a: T, n: T): T => {
      n.set(a);
      return n;
    };
    this.scopeIndex = g(this.scopeIndex, new Uint32Array(this.cap));
    this.offsets = g(this.offsets, new Uint32Array(this.cap));
    this.lengths = g(this.lengths, new Uint32Array(this.cap));
    this.severities = g(this.severities, new Uint8Array(this.cap));
    this.marks = g(this.marks, new Uint8Array(this.cap));
    this.timesHi = g(this.timesHi, new Uint32Array(this.cap));
    this.timesLo = g(this.timesLo, new Uint32Array(this.cap));
  }

  finish(): WireLogs {
    const n = this.count;
    return new WireLogs(
      this.buf,
      this.scopes,
      n,
      this.scopeIndex.slice(0, n),
      this.offsets.slice(0, n),
      this.lengths.slice(0, n),
      this.severities.slice(0, n),
      this.marks.slice(0, n),
      this.timesHi.slice(0, n),
      this.timesLo.slice(0, n),
      this.traceIds,
      this.spanIds,
      this.severityTexts,
    );
  }
}

/** LogRecord field numbers (opentelemetry/proto/logs/v1/logs.proto). */
const LOG_TIME = 1;
const LOG_SEVERITY_NUMBER = 2;
const LOG_SEVERITY_TEXT = 3;
const LOG_BODY = 5;
const LOG_ATTRIBUTES = 6;
const LOG_DROPPED_ATTRIBUTES = 7;
const LOG_FLAGS = 8;
const LOG_TRACE_ID = 9;
const LOG_SPAN_ID = 10;
const LOG_OBSERVED_TIME = 11;
const LOG_EVENT_NAME = 12;

/** LogRecord `attributes` field number, for the attributes the sampler appends. */
export const LOG_RECORD_ATTRIBUTES_FIELD = LOG_ATTRIBUTES;

const LOGS_LAYOUT: RequestLayout<LogIndexBuilder> = {
  resources: 'resource_logs',
  scopes: 'scope_logs',
  items: 'log_records',
  scanItem: (r, b, scopeNo) => scanLogRecord(r, b, scopeNo),
};

/** A trace or span id as hex; '' when empty or all zero (a record outside any trace). */
function nonZeroHexId(r: ProtobufReader, length: number, field: string): string {
  const s = idField(r, length, field);
  return r.pos > s && !allZero(r.buf, s, r.pos) ? bytesToHex(r.buf, s, r.pos) : '';
}

function scanLogRecord(r: ProtobufReader, b: LogIndexBuilder, scopeNo: number): void {
  const start = r.pos;
  const end = r.end;
  let traceId = '';
  let spanId = '';
  let severity = 0;
  let severityText = '';
  let marks = 0;
  let timeAt = -1;
  let observedAt = -1;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    switch (tag >>> 3) {
      case LOG_TIME:
        timeAt = fixed64At(want(r, wt, I64, 'log_record.time_unix_nano'));
        break;
      case LOG_OBSERVED_TIME:
        observedAt = fixed64At(want(r, wt, I64, 'log_record.observed_time_unix_nano'));
        break;
      case LOG_SEVERITY_NUMBER:
        severity = want(r, wt, VARINT, 'log_record.severity_number').uint32();
        break;
      case LOG_SEVERITY_TEXT:
        severityText = want(r, wt, LEN, 'log_record.severity_text').string();
        break;
      case LOG_BODY:
        checkNested(want(r, wt, LEN, 'log_record.body'), ANY_VALUE_RULE);
        break;
      case LOG_ATTRIBUTES:
        marks |= attributeMark(want(r, wt, LEN, 'log_record.attributes'));
        break;
      case LOG_DROPPED_ATTRIBUTES:
        want(r, wt, VARINT, 'log_record.dropped_attributes_count').uint32();
        break;
      case LOG_FLAGS:
        want(r, wt, I32, 'log_record.flags').skip(wt);
        break;
      case LOG_TRACE_ID:
        traceId = nonZeroHexId(want(r, wt, LEN, 'log_record.trace_id'), 16, 'log_record.trace_id');
        break;
      case LOG_SPAN_ID:
        spanId = nonZeroHexId(want(r, wt, LEN, 'log_record.span_id'), 8, 'log_record.span_id');
        break;
      case LOG_EVENT_NAME:
        want(r, wt, LEN, 'log_record.event_name').skip(wt);
        break;
      default:
        r.skip(wt);
    }
  }
  const effective = severity !== 0 ? severity : severityFromText(severityText);
  // A record without time_unix_nano is placed by its observed time.
  const at =
    timeAt >= 0 && (r.buf.readUInt32LE(timeAt) !== 0 || r.buf.readUInt32LE(timeAt + 4) !== 0)
      ? timeAt
      : observedAt;
  b.add(scopeNo, start, end, effective, marks, at, traceId, spanId, severityText);
}

/**
 * What a log policy reads of one record beyond the columns: its severity_text and its body as text (a string
 * body as it is, a bool or number as its text, an array or map as '').
 */
export function readLogText(
  src: Uint8Array,
  start: number,
  end: number,
): { severityText: string; body: string } {
  const r = new ProtobufReader(src.subarray(start, end));
  let body = '';
  let severityText = '';
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag === ((LOG_BODY << 3) | LEN)) {
      const saved = r.enter();
      body = anyValueText(r);
      r.leave(saved);
    } else if (tag === ((LOG_SEVERITY_TEXT << 3) | LEN)) severityText = r.string();
    else r.skip(tag & 7);
  }
  return { severityText, body };
}

/** The body of a record as text (see readLogText). */
export function readLogBody(src: Uint8Array, start: number, end: number): string {
  return readLogText(src, start, end).body;
}

/** A scalar AnyValue as text; arrays and maps as '' (policies match string bodies). */
function anyValueText(r: ProtobufReader): string {
  let out = '';
  while (r.pos < r.end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        out = r.string();
        break;
      case 2:
        out = r.uint32() !== 0 ? 'true' : 'false';
        break;
      case 3:
        out = String(r.int64());
        break;
      case 4:
        out = String(r.double());
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return out;
}
