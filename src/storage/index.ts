export type { ObjectInfo, ObjectStore } from './object-store.js';
export { S3ObjectStore } from './s3-object-store.js';
export type { S3Options } from './s3-object-store.js';
export { openObjectStore } from './open-object-store.js';
export { dedupeSpans, flattenTraceData, toTraceData } from './stored-span.js';
export type { StoredSpan } from './stored-span.js';
export { sampleWeight, spanKindName } from './block-columns.js';
export type { BlockRow } from './block-columns.js';
export { BLOCKS_PREFIX, metaKeyFor, newBlockId, parseBlockKey, partitionPrefix } from './block-meta.js';
export type { BlockMeta, BlockSearchSummary, SummaryValue } from './block-meta.js';
export { encodeBlock, uploadBlock } from './block-writer.js';
export type { EncodedBlock } from './block-writer.js';
export {
  blockMayHoldTrace,
  readBlockRowGroups,
  readDistinctColumn,
  readTraceFromBlock,
  scanBlock,
} from './block-reader.js';
export type { RowGroupStatistics } from './block-reader.js';
export { buildSearchSummary } from './block-summary.js';
export { listBlockMetas, listVisibleBlocks, visibleBlocks } from './block-listing.js';
export { BlockEncoder } from './block-encoder.js';
export { mergeBlocks } from './block-merge.js';
export type { BlockCodec } from './parquet-codec.js';
export { flattenLogsData, logServiceName, logSeverity, logTimestamp, toLogsData } from './logs-columns.js';
export type { LogsRow, StoredLog } from './logs-columns.js';
export {
  encodeLogsPayloads,
  listLogsBlocks,
  logsBlockMayHoldTrace,
  logsMetaKeyFor,
  scanLogsBlock,
  uploadLogsBlock,
} from './logs-block.js';
export type { EncodedLogsBlock, LogsBlockMeta } from './logs-block.js';
export { LogsEncoder } from './logs-encoder.js';
