import { every, systemClock, type Clock, type ClockInterval } from '../clock.js';
import type { StoreConfig } from '../config/index.js';
import type { Logger } from '../telemetry/index.js';
import type { Compactor } from './compactor.js';

/** Whether this store compacts, and its own pod name. */
export interface Leadership {
  readonly here: boolean;
  readonly self: string;
}

/**
 * Whether this store compacts: always when `leader` is empty, otherwise only when its pod name (`POD_NAME`, from
 * the Downward API, else `HOSTNAME`, which Kubernetes sets to the pod name) equals `leader`.
 */
export function compactionLeadership(
  leader: string,
  env: Readonly<Record<string, string | undefined>>,
): Leadership {
  const self = env['POD_NAME'] || env['HOSTNAME'] || '';
  return { here: leader === '' || leader === self, self };
}

/** Says where compaction and retention run (`compaction.leader`), and warns when nowhere. */
export function logCompactionRole(config: StoreConfig, leadership: Leadership, logger: Logger): void {
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
}

/**
 * Runs compaction and retention every `compaction.interval`, on the leader only; `logsRetention` applies the
 * logs' retention in the same pass (issue 16: logs blocks are not compacted).
 */
export function startCompactionTimer(
  config: StoreConfig,
  compactor: Compactor,
  leadership: Leadership,
  logger: Logger,
  logsRetention: (() => Promise<unknown>) | undefined,
  clock: Clock = systemClock,
): ClockInterval | undefined {
  if (config.compaction.interval <= 0 || !leadership.here) return undefined;
  return every(clock, config.compaction.interval, () => {
    compactor.runOnce().catch((err: unknown) => logger.warn({ err }, 'compaction pass failed'));
    logsRetention?.().catch((err: unknown) => logger.warn({ err }, 'logs retention pass failed'));
  });
}
