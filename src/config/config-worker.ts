/**
 * The config worker (a bundle entry, run in its own process by read-on-worker.ts): reads and validates one
 * command's config with zod and yaml, outside the agent's process (issue 13). Answers with the validated config, which is plain data,
 * or with the text to print and the exit code; an invalid config throws its SentinelError across. A follow-up
 * module named by the caller runs here with the validated config (read-on-worker.ts FollowUp).
 */
import { agentConfigSchema } from './agent-config.js';
import { answerCommandConfig } from './command-config.js';
import { injectorConfigSchema } from './injector.js';
import type { CommandConfigs, ConfigWorkerAnswer, ConfigWorkerRequest } from './read-on-worker.js';
import { storeConfigSchema } from './store.js';

const SCHEMAS = { agent: agentConfigSchema, store: storeConfigSchema, injector: injectorConfigSchema };

export async function handle(
  request: ConfigWorkerRequest,
): Promise<ConfigWorkerAnswer<CommandConfigs[keyof CommandConfigs]>> {
  const schema = SCHEMAS[request.command]();
  const answer = answerCommandConfig(request.command, [...request.argv], schema, request.env);
  if (request.followUp === undefined || answer.kind !== 'run') return { answer };
  try {
    const module = (await import(request.followUp)) as { afterConfig(config: unknown): unknown };
    return { answer, followUp: await module.afterConfig(answer.config) };
  } catch {
    // The follow-up is a saving, never a condition: without its answer the caller does the work itself (the
    // agent's policy source validates its start policy in a process of its own and reports what is wrong).
    return { answer };
  }
}
