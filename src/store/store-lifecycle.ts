import { systemClock, wallClockNow } from '../clock.js';
import { DecisionLog } from '../decision-feed/index.js';
import type { BlockEncoder } from '../storage/index.js';
import type { Logger } from '../telemetry/index.js';
import type { BlockCatalog } from './block-catalog.js';
import type { BlockPipeline } from './block-pipeline.js';
import type { Compactor } from './compactor.js';
import type { PeerReplicas } from './peer-spans.js';
import type { QueryEngine } from './query-engine.js';
import type { RunningStore, StoreDependencies } from './store.js';
import type { storeLogs } from './store-logs.js';
import type { StoreOptions } from './store-options.js';

/** How the store's parts start and stop together: a failed start stops what started, shutdown drains in order. */

/** The clock when the embedding gave one: the parts keep their own default (`systemClock`) otherwise. */
export const clockOf = (deps: StoreDependencies) => (deps.clock ? { clock: deps.clock } : {});

/** The parts behind the receivers: blocks, their catalog, the query engine and the compactor. */
export interface BlockStages {
  readonly catalog: BlockCatalog;
  readonly encoder: BlockEncoder;
  readonly pipeline: BlockPipeline;
  readonly engine: QueryEngine;
  readonly compactor: Compactor;
  /** Logs blocks beside span blocks (issue 16), when `logs.enabled`. */
  readonly logs: ReturnType<typeof storeLogs> | undefined;
  /** The other replicas (`query.peers`), when configured. */
  readonly peers: PeerReplicas | undefined;
}

/** Stops the block stages at once (a start that failed half way): the WALs keep what they hold. */
export async function abortStages(stages: BlockStages): Promise<void> {
  await stages.encoder.close();
  await stages.pipeline.abort();
  await stages.logs?.pipeline.abort();
  await stages.logs?.encoder.close();
}

/** Replays the logs WAL (issue 16); on failure, stops the block stages. Resolves with the logs replayed. */
export async function startLogs(stages: BlockStages): Promise<number> {
  try {
    return (await stages.logs?.pipeline.start())?.replayedLogs ?? 0;
  } catch (err) {
    await stages.encoder.close();
    await stages.pipeline.abort();
    await stages.logs?.encoder.close();
    throw err;
  }
}

/** Opens the decision log (issue 9); on failure, stops what was started before it. */
export async function openDecisions(
  options: StoreOptions,
  stages: BlockStages,
  deps: StoreDependencies,
): Promise<DecisionLog> {
  const clock = deps.clock ?? systemClock;
  try {
    return await DecisionLog.open({
      ...options.decisions,
      logger: deps.logger,
      metrics: deps.metrics,
      // Wall-clock on purpose: the log stamps each decision with the time it was appended, and keeps retention
      // by it.
      now: () => wallClockNow(clock),
    });
  } catch (err) {
    await abortStages(stages);
    throw err;
  }
}

/** `shutdown` (drain, once) and `abort` (stop at once, the WAL keeps the rest) of a started store. */
export function stoppers(parts: {
  readonly release: () => void;
  readonly closeAll: () => Promise<void>;
  readonly destroyClient: () => void;
  /** Stops accepting and drains the pipeline into blocks. */
  readonly stop: () => Promise<void>;
  readonly stages: BlockStages;
  readonly decisions: DecisionLog;
  readonly logger: Logger;
}): Pick<RunningStore, 'shutdown' | 'abort'> {
  const { release, closeAll, destroyClient, stages, decisions } = parts;
  let stopping: Promise<void> | undefined;
  return {
    shutdown: () => {
      stopping ??= (async () => {
        release();
        await parts.stop();
        await decisions.close();
        destroyClient();
        parts.logger.info('sentinel store stopped');
      })();
      return stopping;
    },
    abort: async () => {
      release();
      await closeAll();
      // The pipeline stops retrying before the shared encoder closes under a block in progress: the other way
      // round, the failed encode was logged as an error and retried after upload_retry.max_interval (30 s).
      const aborting = stages.pipeline.abort();
      await stages.encoder.close();
      await aborting;
      const abortingLogs = stages.logs?.pipeline.abort();
      await stages.logs?.encoder.close();
      await abortingLogs;
      await stages.compactor.idle();
      await decisions.close();
      destroyClient();
    },
  };
}
