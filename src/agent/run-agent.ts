import { readCommandConfigOnWorker } from '../config/runtime.js';
import { startPolicyValidation } from '../sampling/index.js';
import { Metrics, createLogger, installShutdown } from '../telemetry/index.js';
import { startAgent } from './agent.js';

/**
 * `sentinel agent`. Its config, and the policy it starts with, are validated in one worker process: zod and yaml
 * never load here (issue 13).
 */
export async function runAgent(argv: string[]): Promise<number> {
  const command = readCommandConfigOnWorker('agent', argv, process.env, startPolicyValidation());
  if (command.kind === 'exit') return command.code;
  const { config } = command;
  const logger = createLogger(config.log.level, 'sentinel-agent');
  const metrics = new Metrics({ processMetrics: true });
  const agent = await startAgent(config, { logger, metrics });
  return installShutdown({ logger, timeoutMs: config.shutdown_timeout, shutdown: () => agent.shutdown() });
}
