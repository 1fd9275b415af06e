/**
 * Writing kept log records back out (issue 16). A logs request is assembled by `RequestAssembler` (the field
 * numbers of ResourceLogs / ScopeLogs / log_records are those of ResourceSpans / ScopeSpans / spans); this file
 * adds what the sampler splices into a kept record, `sampling.weight` (and `sampling.completed`) as LogRecord
 * attributes (field 6), and reads what log policies ask of a record's bytes. Every other byte is copied as it
 * came.
 */
import type { KeyValue } from './model.js';
import { decodeKeyValueMessage } from './protobuf-decode.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';
import { SAMPLING_COMPLETED_ATTRIBUTE, SAMPLING_WEIGHT_ATTRIBUTE } from './sentinel-attributes.js';
import {
  encodeAttributeFields,
  keyValueKeyEquals,
  rewriteMessage,
  type RequestAssembler,
} from './wire-encode.js';
import { LOG_RECORD_ATTRIBUTES_FIELD, type WireLogs } from './wire-logs.js';
import { MARK_COMPLETED, MARK_WEIGHT, type WireScope } from './wire-scan.js';

const { LEN } = WireType;
const WEIGHT_KEY = Buffer.from(SAMPLING_WEIGHT_ATTRIBUTE);
const ENCODED_COMPLETED = encodeAttributeFields(LOG_RECORD_ATTRIBUTES_FIELD, [
  { key: SAMPLING_COMPLETED_ATTRIBUTE, value: { kind: 'bool', value: true } },
]);
const suffixes = new Map<number, { plain: Buffer; completed: Buffer }>();

/** The attribute fields appended to a kept record: `sampling.weight`, and `sampling.completed` when asked. */
export function logWeightSuffix(weight: number, completed: boolean): Buffer {
  let s = suffixes.get(weight);
  if (s === undefined) {
    const plain = encodeAttributeFields(LOG_RECORD_ATTRIBUTES_FIELD, [
      { key: SAMPLING_WEIGHT_ATTRIBUTE, value: { kind: 'double', value: weight } },
    ]);
    s = { plain, completed: Buffer.concat([plain, ENCODED_COMPLETED]) };
    // Weights come from the policies' percentages, so there are few; the bound guards odd configurations.
    if (suffixes.size >= 1024) suffixes.clear();
    suffixes.set(weight, s);
  }
  return completed ? s.completed : s.plain;
}

/**
 * Adds one kept log record to `out` with `sampling.weight` = `weight` appended (and `sampling.completed: true`
 * when `completed`). A record that already carries `sampling.weight` has it replaced (rewritten), as a span's.
 * `weight` undefined: the record is added as it came.
 */
export function addKeptLogRecord(
  out: RequestAssembler,
  scope: WireScope,
  src: Uint8Array,
  start: number,
  end: number,
  marks: number,
  weight: number | undefined,
  completed = false,
): void {
  if (weight === undefined) {
    out.add(scope, src, start, end);
    return;
  }
  const alreadyCompleted = completed && (marks & MARK_COMPLETED) !== 0;
  const suffix = logWeightSuffix(weight, completed && !alreadyCompleted);
  if ((marks & MARK_WEIGHT) === 0) {
    out.add(scope, src, start, end, suffix);
    return;
  }
  const rewritten = rewriteMessage(
    src,
    start,
    end,
    (field, s, e, buf) => field === LOG_RECORD_ATTRIBUTES_FIELD && keyValueKeyEquals(buf, s, e, WEIGHT_KEY),
    suffix,
  );
  out.add(scope, rewritten, 0, rewritten.length);
}

/** Adds record `i` of `logs` (see addKeptLogRecord). */
export function addKeptLog(
  out: RequestAssembler,
  logs: WireLogs,
  i: number,
  weight: number | undefined,
  completed = false,
): void {
  const off = logs.offsets[i] as number;
  addKeptLogRecord(
    out,
    logs.scope(i),
    logs.buf,
    off,
    off + (logs.lengths[i] as number),
    logs.marks[i] as number,
    weight,
    completed,
  );
}

/** The attributes (field 6) of a LogRecord whose key is in `keys` (every attribute when undefined). */
export function readLogAttributes(
  src: Uint8Array,
  start: number,
  end: number,
  keys: ReadonlySet<string> | undefined,
): KeyValue[] {
  const r = new ProtobufReader(src.subarray(start, end));
  const out: KeyValue[] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag !== ((LOG_RECORD_ATTRIBUTES_FIELD << 3) | LEN)) {
      r.skip(tag & 7);
      continue;
    }
    const { start: s, end: e } = r.lengthDelimited();
    const kv = decodeKeyValueMessage(r.buf.subarray(s, e));
    if (keys === undefined || keys.has(kv.key)) out.push(kv);
  }
  return out;
}
