import type { Clock } from '../clock.js';
import type { StoreConfig } from '../config/index.js';
import type { DecisionLog } from '../decision-feed/index.js';
import type { ResolveHost } from '../http/index.js';
import { FileTls, receiversFromConfig, type ReceiverAuthorize } from '../receiver/index.js';
import { BlockEncoder, S3ObjectStore, openObjectStore, type ObjectStore } from '../storage/index.js';
import { AdminServer, type Logger, type Metrics } from '../telemetry/index.js';
import { BlockCatalog } from './block-catalog.js';
import { BlockPipeline } from './block-pipeline.js';
import { Compactor } from './compactor.js';
import { PeerReplicas } from './peer-spans.js';
import type { LogsPipeline } from './logs-pipeline.js';
import type { LogsQuery } from './logs-query.js';
import { storeLogs, withLogs } from './store-logs.js';
import { QueryEngine } from './query-engine.js';
import { PolicyHttp, type PolicyParser } from './policy-http.js';
import { loadPolicyParser } from '../sampling/index.js';
import { QueryServer } from './query-server.js';
import { ServiceGraph } from './service-graph.js';
// Tempo's HTTP API registers its routes with the query server's table.
import './tempo-api.js';
import './compare-api.js';
import './logs-api.js';
import { roleForPath } from './access-role.js';
import { StoreAuth } from './store-auth.js';
import { storeOptionsFrom, type StoreOptions } from './store-options.js';
import {
  abortStages,
  clockOf,
  openDecisions,
  startLogs,
  stoppers,
  type BlockStages,
} from './store-lifecycle.js';
import {
  compactionLeadership,
  logCompactionRole,
  startCompactionTimer,
  type Leadership,
} from './compaction-leadership.js';

export { compactionLeadership } from './compaction-leadership.js';

/** What an embedding (the CLI, a test, a benchmark) may replace in the store. */
export interface StoreDependencies {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Replaces the store opened from `storage.url` (tests: a counting store, s3rver credentials). */
  readonly objectStore?: ObjectStore;
  /**
   * Time for every part (default `systemClock`): tests pass a ManualClock to set the date and move block ages,
   * or a ScaledClock to play upload backoff fast.
   */
  readonly clock?: Clock;
  /** How often token and TLS files are polled for rotation. */
  readonly filePollIntervalMs?: number;
  /** Where `POD_NAME` / `HOSTNAME` are read for `compaction.leader` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Resolves `query.peers.dns` (tests replace DNS). */
  readonly resolve?: ResolveHost;
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

/** Checks tokens (files, TokenReview) when `auth.required`; undefined lets every request through. */
async function openAuth(
  config: StoreConfig,
  options: StoreOptions,
  deps: StoreDependencies,
): Promise<StoreAuth | undefined> {
  const { logger, metrics } = deps;
  if (!options.auth) {
    if (config.auth.token_review.enabled)
      logger.warn(
        'auth.token_review.enabled has no effect while auth.required is false: no request is checked',
      );
    return undefined;
  }
  const auth = new StoreAuth({
    ...options.auth,
    logger,
    metrics,
    pollIntervalMs: deps.filePollIntervalMs ?? 1000,
    ...clockOf(deps),
  });
  try {
    await auth.init();
  } catch (err) {
    auth.close();
    throw err;
  }
  return auth;
}

function buildBlockStages(
  config: StoreConfig,
  options: StoreOptions,
  objectStore: ObjectStore,
  leadership: Leadership,
  deps: StoreDependencies,
): BlockStages {
  const { logger, metrics } = deps;
  const catalog = new BlockCatalog({
    store: objectStore,
    logger,
    metrics,
    ...options.catalog,
    ...clockOf(deps),
  });
  // One encoder thread for new blocks and compaction.
  const encoder = new BlockEncoder({ logger, ...options.encoder });
  const pipeline = new BlockPipeline({
    encoder,
    store: objectStore,
    ...options.pipeline,
    logger,
    metrics,
    onBlock: (meta) => catalog.add(meta),
    ...clockOf(deps),
  });
  const peers =
    options.peers &&
    new PeerReplicas({ ...options.peers, logger, metrics, resolve: deps.resolve, ...clockOf(deps) });
  const engine = new QueryEngine({ store: objectStore, catalog, pending: pipeline, peers, logger, metrics });
  const compactor = new Compactor({
    store: objectStore,
    catalog,
    logger,
    metrics,
    ...options.compactor,
    active: leadership.here,
    encoder,
    ...clockOf(deps),
  });
  const logs = config.logs.enabled ? storeLogs(config, deps, objectStore) : undefined;
  return { catalog, encoder, pipeline, engine, compactor, logs, peers };
}

/** Who may talk to the store, and over what: shared by the receivers and the query server. */
interface Access {
  readonly tls: FileTls | undefined;
  readonly authorize: ReceiverAuthorize | undefined;
}

/** The store's servers: OTLP receivers, the query API (with its feeds and graph), the admin server. */
function buildServers(
  config: StoreConfig,
  options: StoreOptions,
  parts: {
    readonly stages: BlockStages;
    readonly decisions: DecisionLog;
    readonly access: Access;
    readonly parse: PolicyParser;
  },
  deps: StoreDependencies,
) {
  const { logger, metrics } = deps;
  const { stages, decisions, access } = parts;
  // Issue 19: the service graph sees each batch once the WAL has taken it (docs/service-graph.md).
  const graph = config.service_graph.enabled
    ? new ServiceGraph({ config: config.service_graph, metrics, logger, ...clockOf(deps) })
    : undefined;
  const spans = graph ? graph.tap(stages.pipeline) : stages.pipeline;
  const receivers = receiversFromConfig(config, {
    consumer: stages.logs ? withLogs(spans, stages.logs.pipeline) : spans,
    metrics,
    logger,
    ...access,
  });
  const pollIntervalMs = deps.filePollIntervalMs ?? 1000;
  const policy = new PolicyHttp({
    file: config.policy.file,
    logger,
    metrics,
    pollIntervalMs,
    parse: parts.parse,
  });
  const isReady = () => receivers.ready;
  const query = new QueryServer({
    ...options.query,
    engine: stages.engine,
    logger,
    metrics,
    ...access,
    isReady,
    decisions,
    policy,
    serviceGraph: graph,
    logs: stages.logs?.query,
    ...clockOf(deps),
  });
  const admin = new AdminServer({ endpoint: config.admin.endpoint, metrics, logger, isReady });
  const closeAll = async () => {
    await Promise.allSettled([receivers.stop(), query.close(), admin.close()]);
  };
  return { graph, receivers, policy, query, admin, closeAll };
}

type Servers = ReturnType<typeof buildServers>;

/** Listens on every port; on failure, closes everything started. */
async function listen(
  servers: Servers,
  stages: BlockStages,
  decisions: DecisionLog,
): Promise<RunningStore['ports']> {
  try {
    const admin = await servers.admin.start();
    const query = await servers.query.start();
    const { grpcPort, httpPort } = await servers.receivers.start();
    return { grpc: grpcPort, http: httpPort, query, admin };
  } catch (err) {
    await servers.closeAll();
    await abortStages(stages);
    await decisions.close();
    throw err;
  }
}

function logStarted(
  config: StoreConfig,
  facts: {
    readonly storage: string;
    readonly replayedSpans: number;
    readonly replayedLogs: number;
    readonly decisions: DecisionLog;
    /** The bound ports (an endpoint's port 0 is the one the system chose). */
    readonly ports: RunningStore['ports'];
  },
  tls: boolean,
  logger: Logger,
): void {
  const otlp = config.receivers.otlp;
  const { decisions } = facts;
  logger.info(
    {
      storage: facts.storage,
      grpc: otlp.grpc.endpoint,
      http: otlp.http.endpoint,
      query: config.query.endpoint,
      admin: config.admin.endpoint,
      ports: facts.ports,
      walDir: config.wal_dir,
      replayedSpans: facts.replayedSpans,
      replayedLogs: facts.replayedLogs,
      decisionFeed: { epoch: decisions.epoch, head: decisions.head.seq, retained: decisions.size },
      tls,
      authRequired: config.auth.required,
      tokenReview: config.auth.required && config.auth.token_review.enabled,
    },
    'sentinel store is receiving OTLP',
  );
}

/** Builds and starts `sentinel store` from its config. */
export async function startStore(config: StoreConfig, deps: StoreDependencies): Promise<RunningStore> {
  const { logger } = deps;
  const options = storeOptionsFrom(config);
  const objectStore = deps.objectStore ?? openObjectStore(config.storage.url, options.objectStore);
  const auth = await openAuth(config, options, deps);
  const access: Access = {
    tls: options.tls && new FileTls({ ...options.tls, pollIntervalMs: deps.filePollIntervalMs ?? 1000 }),
    // The receivers and the query server ask the same role decision (access-role.ts) for each request's path.
    authorize: auth && ((a: string | undefined, path: string) => auth.authorize(a, roleForPath(path))),
  };
  const leadership = compactionLeadership(config.compaction.leader, deps.env ?? process.env);
  const stages = buildBlockStages(config, options, objectStore, leadership, deps);
  const { encoder, pipeline, engine, compactor } = stages;

  const { replayedSpans } = await pipeline.start();
  const replayedLogs = await startLogs(stages);
  const decisions = await openDecisions(options, stages, deps);
  const parse = await loadPolicyParser();
  const servers = buildServers(config, options, { stages, decisions, access, parse }, deps);
  const ports = await listen(servers, stages, decisions);
  // A headless Service lists this replica too: from now on it knows its own address.
  stages.peers?.listening(ports.query);

  const logsQuery = stages.logs?.query;
  const compactionTimer = startCompactionTimer(
    config,
    compactor,
    leadership,
    logger,
    logsQuery && (() => logsQuery.applyRetention(config.logs.retention || config.retention)),
    deps.clock,
  );
  const facts = { storage: objectStore.url, replayedSpans, replayedLogs, decisions, ports };
  logStarted(config, facts, access.tls !== undefined, logger);
  logCompactionRole(config, leadership, logger);

  const release = () => {
    compactionTimer?.stop();
    servers.graph?.close();
    auth?.close();
    servers.policy.close();
    access.tls?.close();
    stages.peers?.close();
  };
  const destroyClient = () => {
    if (objectStore instanceof S3ObjectStore && !deps.objectStore) objectStore.destroy();
  };
  return {
    ports,
    pipeline,
    catalog: stages.catalog,
    engine,
    compactor,
    objectStore,
    decisions,
    logs: stages.logs,
    ...stoppers({
      release,
      closeAll: servers.closeAll,
      destroyClient,
      stop: async () => {
        await servers.receivers.stop();
        await pipeline.shutdown();
        await stages.logs?.pipeline.shutdown();
        await stages.logs?.encoder.close();
        await compactor.idle();
        await encoder.close();
        await Promise.allSettled([servers.query.close(), servers.admin.close()]);
      },
      stages,
      decisions,
      logger,
    }),
  };
}
