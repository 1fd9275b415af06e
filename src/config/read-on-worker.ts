import type { AgentConfig } from './agent-config.js';
import {
  commandConfigOf,
  deepFreeze,
  type CommandConfig,
  type CommandConfigAnswer,
} from './command-answer.js';
import type { InjectorConfig } from './injector.js';
import type { StoreConfig } from './store.js';
import { callWorkerSync } from './worker-call.js';

/** The config of each long-running command. */
export interface CommandConfigs {
  agent: AgentConfig;
  store: StoreConfig;
  injector: InjectorConfig;
}

/** What config-worker.ts is asked. */
export interface ConfigWorkerRequest {
  readonly command: keyof CommandConfigs;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A module whose `afterConfig(config)` the worker runs with the validated config (see FollowUp). */
  readonly followUp?: string;
}

/** What config-worker.ts answers: the config's answer, and what the follow-up returned. */
export interface ConfigWorkerAnswer<T> {
  readonly answer: CommandConfigAnswer<T>;
  readonly followUp?: unknown;
}

/**
 * Work that needs the validated config and the worker's modules, done in the same short-lived process instead of
 * a second one (session 13: the agent's start policy, validated with its config; one child instead of two saved
 * about 90 ms of the agent's time to ready). `url` names a module that exports `afterConfig(config)`; its
 * answer, plain data, is handed to `take` in this process before the config is returned. The config room knows
 * nothing of the module: the caller names it.
 */
export interface FollowUp {
  readonly url: string;
  take(value: unknown): void;
}

/**
 * readCommandConfig (command-config.ts) run in a short-lived worker process (config-worker.ts), so that this
 * process never loads zod, yaml or a schema (issue 13: the agent). Same output, exit codes and errors; the config
 * comes back as structured-clone data and is frozen here.
 */
export function readCommandConfigOnWorker<C extends keyof CommandConfigs>(
  command: C,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  followUp?: FollowUp,
): CommandConfig<CommandConfigs[C]> {
  const { answer, followUp: after } = callWorkerSync<
    ConfigWorkerRequest,
    ConfigWorkerAnswer<CommandConfigs[C]>
  >(import.meta.url, 'config-worker', {
    command,
    argv,
    env: { ...env },
    ...(followUp ? { followUp: followUp.url } : {}),
  });
  if (followUp && answer.kind === 'run') followUp.take(after);
  return commandConfigOf(answer.kind === 'run' ? { kind: 'run', config: deepFreeze(answer.config) } : answer);
}
