/**
 * Logs blocks (issue 16): one Parquet object of log records with the `otel_logs` columns (logs-columns.ts) and a
 * meta beside it, under `logs/dt=YYYY-MM-DD/hour=HH/<blockId>.parquet|.meta.json` (the span blocks' layout under
 * their own prefix, so span readers, compaction and `compare` never meet a logs object). The meta is written last:
 * no meta, no block.
 */
import { parquetMetadata, parquetRead } from 'hyparquet';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import { SentinelError } from '../errors.js';
import { decodeLogsRequest, keepValidLogs } from '../otlp/index.js';
import { BloomFilter } from './bloom-filter.js';
import { newBlockId } from './block-meta.js';
import {
  compareLogRows,
  flattenLogsData,
  logServiceName,
  logSeverity,
  logsBlockSchema,
  LOGS_COLUMNS,
  LogsRowDecoder,
  logTimestamp,
  toLogsColumnData,
  type LogsRow,
  type StoredLog,
} from './logs-columns.js';
import type { ObjectStore } from './object-store.js';
import {
  blockCompressors,
  blockDecompressors,
  DEFAULT_BLOCK_CODEC,
  type BlockCodec,
} from './parquet-codec.js';

/** The format tag of every logs meta this version writes and reads. */
export const LOGS_BLOCK_FORMAT = 'sentinel-logs/v1';

/** Where logs blocks live in storage. */
export const LOGS_PREFIX = 'logs/';

const KEY_RE = /^logs\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([A-Za-z0-9_-]+)\.(parquet|meta\.json)$/;

/** The meta object of a logs block. Times are unix nanoseconds as decimal strings. */
export interface LogsBlockMeta {
  format: typeof LOGS_BLOCK_FORMAT;
  blockId: string;
  parquetKey: string;
  parquetBytes: number;
  /** Earliest and latest `Timestamp` in the block. */
  minTimeUnixNano: string;
  maxTimeUnixNano: string;
  recordCount: number;
  /** Distinct non-empty trace ids. */
  traceCount: number;
  services: string[];
  /** The range of `logSeverity` (severity_number, else the number severity_text names). */
  minSeverityNumber: number;
  maxSeverityNumber: number;
  /** Bloom filter over the block's trace ids, for `GET /api/traces/<id>?logs=true`. */
  traceIdBloom: { bits: number; hashes: number; data: string };
  createdAt: string;
}

/** A logs block encoded in memory, ready to upload. */
export interface EncodedLogsBlock {
  readonly parquet: Uint8Array;
  readonly meta: LogsBlockMeta;
  readonly metaKey: string;
}

/** Keys of a logs block's two objects, partitioned by the hour of its earliest record. */
export function logsBlockKeys(
  minTimeUnixNano: bigint,
  blockId: string,
): { parquetKey: string; metaKey: string } {
  const d = new Date(Number(minTimeUnixNano / 1_000_000n));
  const iso = Number.isNaN(d.getTime()) ? '1970-01-01T00' : d.toISOString();
  const p = `${LOGS_PREFIX}dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/${blockId}`;
  return { parquetKey: `${p}.parquet`, metaKey: `${p}.meta.json` };
}

/** The meta key beside a logs Parquet key. */
export function logsMetaKeyFor(parquetKey: string): string {
  return parquetKey.replace(/\.parquet$/, '.meta.json');
}

/** What a key under `logs/` names, or undefined for a foreign object. */
export function parseLogsBlockKey(key: string): { blockId: string; kind: 'parquet' | 'meta' } | undefined {
  const m = KEY_RE.exec(key);
  return m ? { blockId: m[3]!, kind: m[4] === 'parquet' ? 'parquet' : 'meta' } : undefined;
}

export interface LogsBlockWriteOptions {
  readonly rowGroupSize?: number;
  readonly codec?: BlockCodec;
  readonly blockId?: string;
  readonly nowMs?: number;
}

/** Encodes log rows as one block, sorted as `otel_logs` is (service, time). Synchronous CPU work. */
export function encodeLogsBlock(
  input: readonly StoredLog[],
  options: LogsBlockWriteOptions = {},
): EncodedLogsBlock {
  if (input.length === 0) throw new RangeError('encodeLogsBlock: a block needs at least one log record');
  const rows = [...input].sort(compareLogRows);
  const writer = new ByteWriter(1 << 20);
  const pending = parquetWrite({
    writer,
    columnData: toLogsColumnData(rows),
    schema: logsBlockSchema(),
    codec: options.codec ?? DEFAULT_BLOCK_CODEC,
    compressors: blockCompressors,
    rowGroupSize: Math.max(1, options.rowGroupSize ?? 2_000),
    statisticsTruncateLength: 32,
    kvMetadata: [{ key: 'sentinel.format', value: LOGS_BLOCK_FORMAT }],
    createdBy: 'sentinel',
  });
  if (pending) throw new Error('hyparquet-writer: expected a synchronous write into ByteWriter');
  const parquet = new Uint8Array(writer.getBuffer());

  let minTime = logTimestamp(rows[0]!.record);
  let maxTime = minTime;
  let minSeverity = Infinity;
  let maxSeverity = 0;
  const services = new Set<string>();
  const traceIds = new Set<string>();
  for (const row of rows) {
    const t = logTimestamp(row.record);
    if (t < minTime) minTime = t;
    if (t > maxTime) maxTime = t;
    const severity = logSeverity(row.record);
    minSeverity = Math.min(minSeverity, severity);
    maxSeverity = Math.max(maxSeverity, severity);
    services.add(logServiceName(row));
    if (row.record.traceId) traceIds.add(row.record.traceId);
  }
  const bloom = BloomFilter.forCount(Math.max(1, traceIds.size), 0.001);
  for (const id of traceIds) bloom.add(id);
  const nowMs = options.nowMs ?? Date.now();
  const blockId = options.blockId ?? newBlockId(nowMs);
  const { parquetKey, metaKey } = logsBlockKeys(minTime, blockId);
  const meta: LogsBlockMeta = {
    format: LOGS_BLOCK_FORMAT,
    blockId,
    parquetKey,
    parquetBytes: parquet.byteLength,
    minTimeUnixNano: minTime.toString(),
    maxTimeUnixNano: maxTime.toString(),
    recordCount: rows.length,
    traceCount: traceIds.size,
    services: [...services].sort(),
    minSeverityNumber: minSeverity,
    maxSeverityNumber: maxSeverity,
    traceIdBloom: bloom.toJSON(),
    createdAt: new Date(nowMs).toISOString(),
  };
  return { parquet, meta, metaKey };
}

/** Uploads a logs block: the Parquet object first, the meta last. */
export async function uploadLogsBlock(store: ObjectStore, block: EncodedLogsBlock): Promise<LogsBlockMeta> {
  await store.put(block.meta.parquetKey, block.parquet);
  await store.put(block.metaKey, new TextEncoder().encode(JSON.stringify(block.meta)));
  return block.meta;
}

/** Parses and checks a logs meta; throws SENTINEL_ERR_BLOCK_INVALID naming what is wrong. */
export function parseLogsBlockMeta(key: string, body: Uint8Array): LogsBlockMeta {
  const bad = (what: string, cause?: unknown) =>
    new SentinelError(
      'SENTINEL_ERR_BLOCK_INVALID',
      `${key}: logs meta ${what}`,
      cause ? { cause } : undefined,
    );
  let m: Partial<LogsBlockMeta> | null;
  try {
    m = JSON.parse(new TextDecoder().decode(body)) as Partial<LogsBlockMeta> | null;
  } catch (err) {
    throw bad('is not JSON', err);
  }
  if (!m || typeof m !== 'object') throw bad('is not an object');
  if (m.format !== LOGS_BLOCK_FORMAT)
    throw bad(`has format ${JSON.stringify(m.format)}, expected "${LOGS_BLOCK_FORMAT}"`);
  if (typeof m.parquetKey !== 'string' || parseLogsBlockKey(m.parquetKey)?.kind !== 'parquet')
    throw bad('names no block');
  if (logsMetaKeyFor(m.parquetKey) !== key) throw bad(`names ${m.parquetKey}, not its own block`);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!num(m.parquetBytes) || !num(m.recordCount)) throw bad('has no sizes or counts');
  if (!/^\d+$/.test(String(m.minTimeUnixNano)) || !/^\d+$/.test(String(m.maxTimeUnixNano)))
    throw bad('has no time range');
  if (!Array.isArray(m.services) || !m.traceIdBloom || !num(m.traceIdBloom.bits)) throw bad('has no index');
  return m as LogsBlockMeta;
}

/** Every logs block in storage whose meta and Parquet object are both there. Unreadable metas are reported. */
export async function listLogsBlocks(
  store: ObjectStore,
  known: ReadonlyMap<string, LogsBlockMeta> = new Map(),
  onSkip: (key: string, message: string) => void = () => {},
): Promise<Map<string, LogsBlockMeta>> {
  const objects = await store.list(LOGS_PREFIX);
  const parquet = new Set<string>();
  const metas: string[] = [];
  for (const o of objects) {
    const k = parseLogsBlockKey(o.key);
    if (k?.kind === 'parquet') parquet.add(o.key);
    else if (k?.kind === 'meta') metas.push(o.key);
    else onSkip(o.key, 'not a Sentinel logs block');
  }
  const out = new Map<string, LogsBlockMeta>();
  for (const key of metas) {
    let meta = known.get(key);
    if (!meta) {
      try {
        const body = await store.get(key);
        if (!body) continue;
        meta = parseLogsBlockMeta(key, body);
      } catch (err) {
        onSkip(key, (err as Error).message);
        continue;
      }
    }
    if (parquet.has(meta.parquetKey)) out.set(key, meta);
  }
  return out;
}

/** True when the block's trace-id bloom filter says it may hold `traceId`. */
export function logsBlockMayHoldTrace(meta: LogsBlockMeta, traceId: string): boolean {
  if (meta.traceCount === 0) return false;
  let bloom = blooms.get(meta);
  if (!bloom) blooms.set(meta, (bloom = BloomFilter.fromJSON(meta.traceIdBloom)));
  return bloom.mayContain(traceId);
}
const blooms = new WeakMap<LogsBlockMeta, BloomFilter>();

/** Decodes the rows of a logs block held in memory that `filter` keeps. */
export async function readLogsBlockBytes(
  body: Uint8Array,
  key: string,
  filter: (row: LogsRow) => boolean = () => true,
): Promise<StoredLog[]> {
  try {
    const buffer = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
    const metadata = parquetMetadata(buffer);
    const missing = LOGS_COLUMNS.filter((c) => !metadata.schema.some((s) => s.name === c));
    if (missing.length > 0)
      throw new Error(`not a Sentinel logs block: missing columns ${missing.join(', ')}`);
    let rows: LogsRow[] = [];
    await parquetRead({
      file: buffer,
      metadata,
      rowFormat: 'object',
      compressors: blockDecompressors,
      parsers: { timestampFromNanoseconds: (n: bigint) => n },
      onComplete: (r) => {
        rows = r as LogsRow[];
      },
    });
    const decoder = new LogsRowDecoder();
    const out: StoredLog[] = [];
    for (const row of rows) if (filter(row)) out.push(decoder.decode(row));
    return out;
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${key}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Every row of a logs block that `filter` keeps (one GET of the whole object: logs blocks are read whole). */
export async function scanLogsBlock(
  store: ObjectStore,
  meta: LogsBlockMeta,
  filter?: (row: LogsRow) => boolean,
): Promise<StoredLog[]> {
  const body = await store.get(meta.parquetKey);
  if (!body)
    throw new SentinelError(
      'SENTINEL_ERR_BLOCK_INVALID',
      `${meta.parquetKey}: the Parquet object is missing`,
    );
  return readLogsBlockBytes(body, meta.parquetKey, filter);
}

/** Decodes, validates and encodes; also the in-process path when the worker cannot run. */
export function encodeLogsPayloads(
  payloads: readonly Uint8Array[],
  options: LogsBlockWriteOptions,
): { records: number; block?: ReturnType<typeof encodeLogsBlock> } {
  const rows: StoredLog[] = [];
  for (const p of payloads) {
    const data = decodeLogsRequest(p);
    keepValidLogs(data);
    flattenLogsData(data, rows);
  }
  return rows.length > 0 ? { records: rows.length, block: encodeLogsBlock(rows, options) } : { records: 0 };
}
