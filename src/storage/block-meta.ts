import { randomBytes } from 'node:crypto';
import { SentinelError } from '../errors.js';

/** The format tag of every meta object this version writes and reads. */
export const BLOCK_FORMAT = 'sentinel-block/v1';

/** Where a row group of a block lies, so a lookup reads one byte range, not one request per column. */
export interface RowGroupRange {
  rowStart: number;
  rowEnd: number;
  minTraceId: string;
  maxTraceId: string;
  byteStart: number;
  byteEnd: number;
}

/**
 * The meta object of a block, written after the Parquet file (Tempo's rule: a block without its meta does
 * not exist for readers). Times are unix nanoseconds as decimal strings.
 */
export interface BlockMeta {
  format: typeof BLOCK_FORMAT;
  blockId: string;
  /** Key of the Parquet object, relative to the store root. */
  parquetKey: string;
  parquetBytes: number;
  /** Offset of the Parquet footer; `[footerStart, parquetBytes)` is all a reader needs to plan a read. */
  footerStart: number;
  /** Earliest span start in the block. */
  minStartUnixNano: string;
  /** Latest span end in the block. */
  maxEndUnixNano: string;
  spanCount: number;
  traceCount: number;
  services: string[];
  variants: string[];
  minTraceId: string;
  maxTraceId: string;
  /** Bloom filter over the block's trace ids (the trace-id index). */
  traceIdBloom: { bits: number; hashes: number; data: string };
  rowGroups: RowGroupRange[];
  createdAt: string;
  /** 0 for a block cut from live data; compaction writes its inputs' level + 1. */
  compactionLevel: number;
  /** Compaction's inputs, so a reader that sees both can prefer the merged block. */
  replaces: string[];
  /** What search may skip the block on and tags are listed from; absent in blocks written before it. */
  search?: BlockSearchSummary;
}

/** A typed attribute value as Tempo's tag-values API lists it. */
export interface SummaryValue {
  type: 'string' | 'int' | 'float' | 'bool';
  value: string;
}

/** An attribute key of a block, with its distinct values unless there are more than `SUMMARY_MAX_VALUES`. */
export interface SummaryAttribute {
  scope: 'span' | 'resource';
  key: string;
  /** Absent when the key has more distinct values than the summary keeps (then nothing can be skipped on it). */
  values?: SummaryValue[];
}

/**
 * The block's search summary (issue 15): distinct span names, statuses, kinds, the span duration range and
 * attribute keys with their values, bounded so a meta stays small. A list that would pass its bound is
 * left out, which tells a reader "unknown, do not skip".
 */
export interface BlockSearchSummary {
  spanNames?: string[];
  statuses: string[];
  kinds: string[];
  minDurationNanos: string;
  maxDurationNanos: string;
  /** Absent when the block has more than `SUMMARY_MAX_KEYS` keys. */
  attributes?: SummaryAttribute[];
}

export const SUMMARY_MAX_NAMES = 1_000;
export const SUMMARY_MAX_KEYS = 500;
export const SUMMARY_MAX_VALUES = 64;

const BLOCKS_DIR = 'blocks';
const KEY_RE = /^blocks\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([A-Za-z0-9_-]+)\.(parquet|meta\.json)$/;

/** A new block id: sortable by creation time, unique across store replicas and agents. */
export function newBlockId(nowMs: number = Date.now()): string {
  return `${nowMs.toString(36).padStart(9, '0')}-${randomBytes(8).toString('hex')}`;
}

/** `blocks/dt=YYYY-MM-DD/hour=HH/` for a time in unix nanoseconds (UTC), Hive-style for engines that prune. */
export function partitionPrefix(unixNano: bigint): string {
  const d = new Date(Number(unixNano / 1_000_000n));
  const iso = Number.isNaN(d.getTime()) ? '1970-01-01T00' : d.toISOString();
  return `${BLOCKS_DIR}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}/`;
}

/** Keys of a block's two objects. */
export function blockKeys(
  minStartUnixNano: bigint,
  blockId: string,
): { parquetKey: string; metaKey: string } {
  const p = partitionPrefix(minStartUnixNano);
  return { parquetKey: `${p}${blockId}.parquet`, metaKey: `${p}${blockId}.meta.json` };
}

/** The meta key beside a Parquet key. */
export function metaKeyFor(parquetKey: string): string {
  return parquetKey.replace(/\.parquet$/, '.meta.json');
}

/** What a key under `blocks/` names, or undefined for a foreign object. */
export function parseBlockKey(
  key: string,
): { date: string; hour: number; blockId: string; kind: 'parquet' | 'meta' } | undefined {
  const m = KEY_RE.exec(key);
  if (!m) return undefined;
  return { date: m[1]!, hour: Number(m[2]), blockId: m[3]!, kind: m[4] === 'parquet' ? 'parquet' : 'meta' };
}

/** The hour a partition key names, as unix milliseconds of its start. */
export function partitionStartMs(date: string, hour: number): number {
  return Date.parse(`${date}T${String(hour).padStart(2, '0')}:00:00Z`);
}

export const BLOCKS_PREFIX = `${BLOCKS_DIR}/`;

/** Parses and checks a meta object; throws SENTINEL_ERR_BLOCK_INVALID naming what is wrong. */
export function parseBlockMeta(key: string, body: Uint8Array): BlockMeta {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(body));
  } catch (err) {
    throw new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${key}: meta is not JSON`, { cause: err });
  }
  const m = doc as Partial<BlockMeta> | null;
  const bad = (what: string) => new SentinelError('SENTINEL_ERR_BLOCK_INVALID', `${key}: meta ${what}`);
  if (!m || typeof m !== 'object') throw bad('is not an object');
  if (m.format !== BLOCK_FORMAT)
    throw bad(`has format ${JSON.stringify(m.format)}, expected "${BLOCK_FORMAT}"`);
  const isStr = (v: unknown) => typeof v === 'string';
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!isStr(m.blockId) || !isStr(m.parquetKey) || !parseBlockKey(m.parquetKey as string))
    throw bad('names no block');
  if (!isNum(m.parquetBytes) || !isNum(m.footerStart) || !isNum(m.spanCount) || !isNum(m.traceCount))
    throw bad('has no sizes or counts');
  if (!/^-?\d+$/.test(String(m.minStartUnixNano)) || !/^-?\d+$/.test(String(m.maxEndUnixNano)))
    throw bad('has no time range');
  if (!Array.isArray(m.rowGroups) || !Array.isArray(m.services) || !Array.isArray(m.variants))
    throw bad('has no row groups, services or variants');
  const bloom = m.traceIdBloom;
  if (!bloom || !isNum(bloom.bits) || !isNum(bloom.hashes) || !isStr(bloom.data))
    throw bad('has no trace-id index');
  const { search, ...rest } = m as BlockMeta;
  return {
    ...rest,
    // A summary that is not well formed is dropped: the block is then searched, never wrongly skipped.
    ...(search !== undefined && isSearchSummary(search) ? { search } : {}),
    replaces: Array.isArray(m.replaces) ? m.replaces : [],
    compactionLevel: isNum(m.compactionLevel) ? (m.compactionLevel as number) : 0,
  };
}

function isSearchSummary(v: unknown): v is BlockSearchSummary {
  const s = v as Partial<BlockSearchSummary> | null;
  const strings = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'string');
  return (
    !!s &&
    typeof s === 'object' &&
    (s.spanNames === undefined || strings(s.spanNames)) &&
    strings(s.statuses) &&
    strings(s.kinds) &&
    /^-?\d+$/.test(String(s.minDurationNanos)) &&
    /^-?\d+$/.test(String(s.maxDurationNanos)) &&
    (s.attributes === undefined ||
      (Array.isArray(s.attributes) &&
        s.attributes.every(
          (a) =>
            !!a &&
            typeof a.key === 'string' &&
            (a.scope === 'span' || a.scope === 'resource') &&
            (a.values === undefined ||
              (Array.isArray(a.values) &&
                a.values.every((x) => !!x && typeof x.value === 'string' && typeof x.type === 'string'))),
        )))
  );
}
