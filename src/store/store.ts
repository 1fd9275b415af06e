import { join } from 'node:path';
import type { StoreConfig } from '../config/index.js';
import { DecisionLog } from '../decision-feed/index.js';
import { FileTls, receiversFromConfig, type ReceiverTls } from '../receiver/index.js';
import { BlockEncoder, S3ObjectStore, openObjectStore, type ObjectStore } from '../storage/index.js';
import { AdminServer, type Logger, type Metrics } from '../telemetry/index.js';
import { BlockCatalog } from './block-catalog.js';
import { BlockPipeline } from './block-pipeline.js';
import { Compactor } from './compactor.js';
import type { LogsPipeline } from './logs-pipeline.js';
import type { LogsQuery } from './logs-query.js';
import { storeLogs, withLogs } from './store-logs.js';
import { QueryEngine } from './query-engine.js';
import { PolicyHttp } from './policy-http.js';
import { QueryServer } from './query-server.js';
import { ServiceGraph } from './service-graph.js';
// Tempo's HTTP API registers its routes with the query server's table.
import './tempo-api.js';
import './compare-api.js';
import './logs-api.js';
import { roleForPath } from './access-role.js';
import { StoreAuth } from './store-auth.js';

/** What an embedding (the CLI, a test, a benchmark) may replace in the store. */
export interface StoreDependencies {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Replaces the store opened from `storage.url` (tests: a counting store, s3rver credentials). */
  readonly objectStore?: ObjectStore;
  readonly now?: () => number;
  /** Sleep between upload retries (tests make it short). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** How often token and TLS files are polled for rotation. */
  readonly filePollIntervalMs?: number;
  /** Where `POD_NAME` / `HOSTNAME` are read for `compaction.leader` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A started store. */
export interface RunningStore {
  readonly ports: {
    readonly grpc: number;
    readonly http: number;
    readonly query: number;
    readonly admin: number;
  };
  readonly pipeline: BlockPipeline;
  readonly catalog: BlockCatalog;
  readonly engine: QueryEngine;
  readonly compactor: Compactor;
  readonly objectStore: ObjectStore;
  /** The decision feed (issue 9) served on `/api/decisions`. */
  readonly decisions: DecisionLog;
  /** Logs (issue 16): their pipeline and queries; absent with `logs.enabled: false`. */
  readonly logs?: { readonly pipeline: LogsPipeline; readonly query: LogsQuery } | undefined;
  /** Stops accepting, uploads what the WAL holds, closes. Runs once. */
  shutdown(): Promise<void>;
  /** Stops at once: whatever is not uploaded stays in the WAL for the next start. */
  abort(): Promise<void>;
}

/** Builds and starts `sentinel store` from its config. */
export async function startStore(config: StoreConfig, deps: StoreDependencies): Promise<RunningStore> {
  const { logger, metrics } = deps;
  const objectStore =
    deps.objectStore ??
    openObjectStore(config.storage.url, {
      endpoint: config.storage.s3.endpoint,
      region: config.storage.s3.region,
      forcePathStyle: config.storage.s3.force_path_style,
    });
  const pollMs = deps.filePollIntervalMs ?? 1000;
  const review = config.auth.token_review;
  const auth = config.auth.required
    ? new StoreAuth({
        required: true,
        agentTokenFiles: config.auth.token_files,
        readerTokenFiles: config.auth.reader_token_files,
        ...(review.enabled
          ? {
              tokenReview: {
                audience: review.audience,
                cacheTtlMs: review.cache_ttl,
                kubeconfig: review.kubeconfig,
              },
            }
          : {}),
        logger,
        metrics,
        pollIntervalMs: pollMs,
        ...(deps.now ? { now: deps.now } : {}),
      })
    : undefined;
  if (!config.auth.required && review.enabled)
    logger.warn(
      'auth.token_review.enabled has no effect while auth.required is false: no request is checked',
    );
  try {
    await auth?.init();
  } catch (err) {
    auth?.close();
    throw err;
  }
  // The receivers and the query server ask the same role decision (access-role.ts) for each request's path.
  const authorize = auth && ((a: string | undefined, path: string) => auth.authorize(a, roleForPath(path)));
  let tls: ReceiverTls | undefined;
  if (config.tls.cert_file || config.tls.key_file) {
    tls = new FileTls({
      certFile: config.tls.cert_file,
      keyFile: config.tls.key_file,
      clientCaFile: config.tls.client_ca_file || undefined,
      pollIntervalMs: pollMs,
    });
  }
  const catalog = new BlockCatalog({
    store: objectStore,
    logger,
    metrics,
    refreshIntervalMs: config.query.refresh_interval,
    ...(deps.now ? { now: deps.now } : {}),
  });
  // One encoder thread for new blocks and compaction.
  const encoder = new BlockEncoder({ logger, useWorker: true, rowGroupSize: config.block.row_group_spans });
  const pipeline = new BlockPipeline({
    encoder,
    store: objectStore,
    walDir: config.wal_dir,
    walMaxBytes: config.wal_max_bytes,
    maxBlockBytes: config.block.max_bytes,
    maxBlockSpans: config.block.max_spans,
    maxBlockAgeMs: config.block.max_age,
    rowGroupSize: config.block.row_group_spans,
    retryInitialMs: config.upload_retry.initial_interval,
    retryMaxMs: config.upload_retry.max_interval,
    logger,
    metrics,
    onBlock: (meta) => catalog.add(meta),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  const logs = config.logs.enabled ? storeLogs(config, deps, objectStore) : undefined;
  const engine = new QueryEngine({ store: objectStore, catalog, pending: pipeline, logger, metrics });
  const leadership = compactionLeadership(config.compaction.leader, deps.env ?? process.env);
  const compactor = new Compactor({
    store: objectStore,
    catalog,
    logger,
    metrics,
    compaction: config.compaction.enabled,
    active: leadership.here,
    maxBlockSpans: config.compaction.max_block_spans,
    minAgeMs: config.compaction.min_age,
    retentionMs: config.retention,
    rowGroupSize: config.block.row_group_spans,
    encoder,
    ...(deps.now ? { now: deps.now } : {}),
  });

  const { replayedSpans } = await pipeline.start();
  let replayedLogs: number;
  try {
    replayedLogs = (await logs?.pipeline.start())?.replayedLogs ?? 0;
  } catch (err) {
    await encoder.close();
    await pipeline.abort();
    await logs?.encoder.close();
    throw err;
  }
  let decisions: DecisionLog;
  try {
    decisions = await DecisionLog.open({
      dir: config.decisions.dir || join(config.wal_dir, 'decisions'),
      maxEntries: config.decisions.max_entries,
      retentionMs: config.decisions.retention,
      logger,
      metrics,
      ...(deps.now ? { now: deps.now } : {}),
    });
  } catch (err) {
    await encoder.close();
    await pipeline.abort();
    await logs?.pipeline.abort();
    await logs?.encoder.close();
    throw err;
  }
  const otlp = config.receivers.otlp;
  // Issue 19: the service graph sees each batch once the WAL has taken it (docs/service-graph.md).
  const graph = config.service_graph.enabled
    ? new ServiceGraph({
        config: config.service_graph,
        metrics,
        logger,
        ...(deps.now ? { now: deps.now } : {}),
      })
    : undefined;
  const receivers = receiversFromConfig(config, {
    consumer: logs
      ? withLogs(graph ? graph.tap(pipeline) : pipeline, logs.pipeline)
      : graph
        ? graph.tap(pipeline)
        : pipeline,
    metrics,
    logger,
    tls,
    authorize,
  });
  const policy = new PolicyHttp({ file: config.policy.file, logger, metrics, pollIntervalMs: pollMs });
  const query = new QueryServer({
    endpoint: config.query.endpoint,
    engine,
    logger,
    metrics,
    tls,
    authorize,
    maxLimit: config.query.max_limit,
    maxSearchWindowMs: config.query.max_search_window,
    maxSearchBytes: config.query.max_search_bytes,
    isReady: () => receivers.ready,
    decisions,
    policy,
    serviceGraph: graph,
    logs: logs?.query,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const admin = new AdminServer({
    endpoint: config.admin.endpoint,
    metrics,
    logger,
    isReady: () => receivers.ready,
  });

  const closeAll = async () => {
    await Promise.allSettled([receivers.stop(), query.close(), admin.close()]);
  };
  let ports: RunningStore['ports'];
  try {
    const adminPort = await admin.start();
    const queryPort = await query.start();
    const { grpcPort, httpPort } = await receivers.start();
    ports = { grpc: grpcPort, http: httpPort, query: queryPort, admin: adminPort };
  } catch (err) {
    await closeAll();
    await encoder.close();
    await pipeline.abort();
    await logs?.pipeline.abort();
    await logs?.encoder.close();
    await decisions.close();
    throw err;
  }

  let compactionTimer: NodeJS.Timeout | undefined;
  if (config.compaction.interval > 0 && leadership.here) {
    compactionTimer = setInterval(() => {
      compactor.runOnce().catch((err: unknown) => logger.warn({ err }, 'compaction pass failed'));
      logs?.query
        .applyRetention(config.logs.retention || config.retention)
        .catch((err: unknown) => logger.warn({ err }, 'logs retention pass failed'));
    }, config.compaction.interval);
    compactionTimer.unref();
  }
  logger.info(
    {
      storage: objectStore.url,
      grpc: otlp.grpc.endpoint,
      http: otlp.http.endpoint,
      query: config.query.endpoint,
      admin: config.admin.endpoint,
      walDir: config.wal_dir,
      replayedSpans,
      replayedLogs,
      decisionFeed: { epoch: decisions.epoch, head: decisions.head.seq, retained: decisions.size },
      tls: tls !== undefined,
      authRequired: config.auth.required,
      tokenReview: config.auth.required && review.enabled,
    },
    'sentinel store is receiving OTLP',
  );
  const compactionLog = {
    leader: config.compaction.leader,
    pod: leadership.self,
    compaction: config.compaction.enabled,
  };
  if (leadership.here) {
    logger.info(
      compactionLog,
      config.compaction.enabled
        ? 'this store runs compaction and retention'
        : 'this store runs retention (compaction.enabled is false)',
    );
  } else if (leadership.self) {
    logger.info(compactionLog, 'compaction and retention run in compaction.leader, not in this store');
  } else {
    // No pod name to compare: a leader name that can never match is most likely a misconfiguration.
    logger.warn(
      compactionLog,
      'compaction.leader is set but neither POD_NAME nor HOSTNAME is: compaction and retention run nowhere here',
    );
  }

  let stopping: Promise<void> | undefined;
  const release = () => {
    if (compactionTimer) clearInterval(compactionTimer);
    graph?.close();
    auth?.close();
    policy.close();
    tls?.close();
  };
  const destroyClient = () => {
    if (objectStore instanceof S3ObjectStore && !deps.objectStore) objectStore.destroy();
  };
  return {
    ports,
    pipeline,
    catalog,
    engine,
    compactor,
    objectStore,
    decisions,
    logs,
    shutdown: () => {
      stopping ??= (async () => {
        release();
        await receivers.stop();
        await pipeline.shutdown();
        await logs?.pipeline.shutdown();
        await logs?.encoder.close();
        await compactor.idle();
        await encoder.close();
        await Promise.allSettled([query.close(), admin.close()]);
        await decisions.close();
        destroyClient();
        logger.info('sentinel store stopped');
      })();
      return stopping;
    },
    abort: async () => {
      release();
      await closeAll();
      // The pipeline stops retrying before the shared encoder closes under a block in progress: the other way
      // round, the failed encode was logged as an error and retried after upload_retry.max_interval (30 s).
      const aborting = pipeline.abort();
      await encoder.close();
      await aborting;
      const abortingLogs = logs?.pipeline.abort();
      await logs?.encoder.close();
      await abortingLogs;
      await compactor.idle();
      await decisions.close();
      destroyClient();
    },
  };
}

/**
 * Whether this store compacts: always when `leader` is empty, otherwise only when its pod name (`POD_NAME`, from
 * the Downward API, else `HOSTNAME`, which Kubernetes sets to the pod name) equals `leader`.
 */
export function compactionLeadership(
  leader: string,
  env: Readonly<Record<string, string | undefined>>,
): { readonly here: boolean; readonly self: string } {
  const self = env['POD_NAME'] || env['HOSTNAME'] || '';
  return { here: leader === '' || leader === self, self };
}
