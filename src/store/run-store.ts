import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { loadConfig, storeConfigSchema } from '../config/index.js';
import { Metrics, createLogger } from '../telemetry/index.js';
import { onShutdownSignal } from './signal-shutdown.js';
import { startStore } from './store.js';

const HELP = `usage: sentinel store [--config FILE] [--print-config]

  --config FILE    YAML config (default: $SENTINEL_CONFIG; none: the embedded defaults)
  --print-config   print the effective config (durations in ms, sizes in bytes) and exit
`;

/** `sentinel store`: the central store (OTLP in, WAL, Parquet blocks on S3 or a directory, query API). */
export async function runStore(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'print-config': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = values.config ?? process.env['SENTINEL_CONFIG'] ?? undefined;
  const config = loadConfig(storeConfigSchema, { file: file || undefined, env: process.env });
  if (values['print-config']) {
    process.stdout.write('# effective sentinel store config (durations in milliseconds, sizes in bytes)\n');
    process.stdout.write(toYaml(config));
    return 0;
  }
  const logger = createLogger(config.log.level, 'sentinel-store');
  const metrics = new Metrics({ processMetrics: true });
  const store = await startStore(config, { logger, metrics });
  const code = await onShutdownSignal({
    logger,
    timeoutMs: config.shutdown_timeout,
    shutdown: () => store.shutdown(),
  });
  // Past the timeout, stop retrying uploads: the WAL keeps the rest for the next start.
  if (code !== 0) await store.abort();
  return code;
}
