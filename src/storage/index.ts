export { CountingObjectStore } from './object-store.js';
export type { ObjectInfo, ObjectStore, ObjectStoreStats } from './object-store.js';
export { LocalObjectStore } from './local-object-store.js';
export { S3ObjectStore } from './s3-object-store.js';
export type { S3Options } from './s3-object-store.js';
export { openObjectStore } from './open-object-store.js';
export { dedupeSpans, flattenTraceData, toTraceData } from './stored-span.js';
export type { StoredSpan } from './stored-span.js';
export { BLOCK_COLUMNS, sampleWeight, spanKindName, statusCodeName } from './block-columns.js';
export type { BlockColumn, BlockRow } from './block-columns.js';
export {
  BLOCK_FORMAT,
  BLOCKS_PREFIX,
  blockKeys,
  metaKeyFor,
  newBlockId,
  parseBlockKey,
  parseBlockMeta,
  partitionPrefix,
  partitionStartMs,
} from './block-meta.js';
export type {
  BlockMeta,
  BlockSearchSummary,
  RowGroupRange,
  SummaryAttribute,
  SummaryValue,
} from './block-meta.js';
export {
  BlockBuilder,
  BlockWriter,
  DEFAULT_ROW_GROUP_SIZE,
  encodeBlock,
  uploadBlock,
  writeBlock,
} from './block-writer.js';
export type { BlockWriteOptions, EncodedBlock } from './block-writer.js';
export {
  SMALL_BLOCK_BYTES,
  blockMayHoldTrace,
  readBlockBytes,
  readBlockRowGroups,
  readDistinctColumn,
  readTraceFromBlock,
  scanBlock,
} from './block-reader.js';
export type { BlockRowGroupRead, RowGroupStatistics } from './block-reader.js';
export { buildSearchSummary } from './block-summary.js';
export { listBlockMetas, listVisibleBlocks, visibleBlocks } from './block-listing.js';
export type { BlockSkipReason, ListBlocksOptions } from './block-listing.js';
export { BlockEncoder } from './block-encoder.js';
export { mergeBlocks } from './block-merge.js';
export type { BlockToEncode } from './block-encoder.js';
export { BloomFilter } from './bloom-filter.js';
export { DEFAULT_BLOCK_CODEC } from './parquet-codec.js';
export type { BlockCodec } from './parquet-codec.js';
export { decodeAttributes, encodeAnyValue, encodeAttributes } from './typed-json.js';
export {
  anyValueAsString,
  compareLogRows,
  flattenLogsData,
  LOGS_COLUMNS,
  LogsRowDecoder,
  logServiceName,
  logSeverity,
  logTimestamp,
  toLogsData,
} from './logs-columns.js';
export type { LogsColumn, LogsRow, StoredLog } from './logs-columns.js';
export {
  encodeLogsBlock,
  encodeLogsPayloads,
  listLogsBlocks,
  LOGS_BLOCK_FORMAT,
  LOGS_PREFIX,
  logsBlockKeys,
  logsBlockMayHoldTrace,
  logsMetaKeyFor,
  parseLogsBlockKey,
  parseLogsBlockMeta,
  readLogsBlockBytes,
  scanLogsBlock,
  uploadLogsBlock,
} from './logs-block.js';
export type { EncodedLogsBlock, LogsBlockMeta, LogsBlockWriteOptions } from './logs-block.js';
export { LogsEncoder } from './logs-encoder.js';
