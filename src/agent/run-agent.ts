import { agentConfigSchema, readCommandConfig } from '../config/index.js';
import { Metrics, createLogger, installShutdown } from '../telemetry/index.js';
import { startAgent } from './agent.js';

/** `sentinel agent`. */
export async function runAgent(argv: string[]): Promise<number> {
  const command = readCommandConfig('agent', argv, agentConfigSchema());
  if (command.kind === 'exit') return command.code;
  const { config } = command;
  const logger = createLogger(config.log.level, 'sentinel-agent');
  const metrics = new Metrics({ processMetrics: true });
  const agent = await startAgent(config, { logger, metrics });
  return installShutdown({ logger, timeoutMs: config.shutdown_timeout, shutdown: () => agent.shutdown() });
}
