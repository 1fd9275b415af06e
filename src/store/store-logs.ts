import { join } from 'node:path';
import type { StoreConfig } from '../config/index.js';
import { LogsEncoder, type ObjectStore } from '../storage/index.js';
import { LogsPipeline } from './logs-pipeline.js';
import { LogsQuery } from './logs-query.js';
import type { StoreDependencies } from './store.js';
import { clockOf } from './store-lifecycle.js';

export { withLogs } from './logs-pipeline.js';

/** The logs pipeline (its WAL in `<wal_dir>/logs`) and the logs queries of a store (issue 16). */
export function storeLogs(
  config: StoreConfig,
  deps: StoreDependencies,
  store: ObjectStore,
): { pipeline: LogsPipeline; query: LogsQuery; encoder: LogsEncoder } {
  const { logger, metrics } = deps;
  const encoder = new LogsEncoder({ logger, useWorker: true });
  const pipeline = new LogsPipeline({
    encoder,
    store,
    walDir: join(config.wal_dir, 'logs'),
    walMaxBytes: config.logs.wal_max_bytes,
    maxBlockBytes: config.logs.max_block_bytes,
    maxBlockRecords: config.block.max_spans,
    maxBlockAgeMs: config.block.max_age,
    rowGroupSize: config.block.row_group_spans,
    retryInitialMs: config.upload_retry.initial_interval,
    retryMaxMs: config.upload_retry.max_interval,
    logger,
    metrics,
    onBlock: (meta) => query.add(meta),
    ...clockOf(deps),
  });
  const query = new LogsQuery({
    store,
    pending: pipeline,
    logger,
    metrics,
    refreshIntervalMs: config.query.refresh_interval,
    ...clockOf(deps),
  });
  return { pipeline, query, encoder };
}
