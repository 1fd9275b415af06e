import { readCommandConfig, storeConfigSchema } from '../config/index.js';
import { Metrics, createLogger, installShutdown } from '../telemetry/index.js';
import { runQuarantine } from './quarantine.js';
import { startStore } from './store.js';

/** `sentinel store`: the central store (OTLP in, WAL, Parquet blocks on S3 or a directory, query API). */
export async function runStore(argv: string[]): Promise<number> {
  if (argv[0] === 'quarantine') return runQuarantine(argv.slice(1));
  const command = readCommandConfig('store', argv, storeConfigSchema());
  if (command.kind === 'exit') return command.code;
  const { config } = command;
  const logger = createLogger(config.log.level, 'sentinel-store');
  const metrics = new Metrics({ processMetrics: true });
  const store = await startStore(config, { logger, metrics });
  const code = await installShutdown({
    logger,
    timeoutMs: config.shutdown_timeout,
    shutdown: () => store.shutdown(),
  });
  // Past the timeout, stop retrying uploads: the WAL keeps the rest for the next start.
  if (code !== 0) await store.abort();
  return code;
}
