import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { agentConfigSchema, loadConfig } from '../config/index.js';
import { Metrics, createLogger } from '../telemetry/index.js';
import { startAgent } from './agent.js';
import { installShutdown } from './shutdown.js';

const HELP = `usage: sentinel agent [--config FILE] [--print-config]

  --config FILE    YAML config (default: $SENTINEL_CONFIG; none: the embedded defaults)
  --print-config   print the effective config (durations in ms, sizes in bytes) and exit
`;

/** `sentinel agent`. */
export async function runAgent(argv: string[]): Promise<number> {
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
  const config = loadConfig(agentConfigSchema, { file: file || undefined, env: process.env });
  if (values['print-config']) {
    process.stdout.write('# effective sentinel agent config (durations in milliseconds, sizes in bytes)\n');
    process.stdout.write(toYaml(config));
    return 0;
  }
  const logger = createLogger(config.log.level, 'sentinel-agent');
  const metrics = new Metrics({ processMetrics: true });
  const agent = await startAgent(config, { logger, metrics });
  return installShutdown({ logger, timeoutMs: config.shutdown_timeout, shutdown: () => agent.shutdown() });
}
