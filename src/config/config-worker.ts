/**
 * The config worker (a bundle entry, run in its own process by read-on-worker.ts): reads and validates one
 * command's config with zod and yaml, outside the agent's process (issue 13). Answers with the validated config, which is plain data,
 * or with the text to print and the exit code; an invalid config throws its SentinelError across.
 */
import { agentConfigSchema } from './agent-config.js';
import type { CommandConfigAnswer } from './command-answer.js';
import { answerCommandConfig } from './command-config.js';
import { injectorConfigSchema } from './injector.js';
import type { CommandConfigs, ConfigWorkerRequest } from './read-on-worker.js';
import { storeConfigSchema } from './store.js';

const SCHEMAS = { agent: agentConfigSchema, store: storeConfigSchema, injector: injectorConfigSchema };

export function handle(
  request: ConfigWorkerRequest,
): CommandConfigAnswer<CommandConfigs[keyof CommandConfigs]> {
  const schema = SCHEMAS[request.command]();
  return answerCommandConfig(request.command, [...request.argv], schema, request.env);
}
