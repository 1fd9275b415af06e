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
): CommandConfig<CommandConfigs[C]> {
  const answer = callWorkerSync<ConfigWorkerRequest, CommandConfigAnswer<CommandConfigs[C]>>(
    import.meta.url,
    'config-worker',
    { command, argv, env: { ...env } },
  );
  return commandConfigOf(answer.kind === 'run' ? { kind: 'run', config: deepFreeze(answer.config) } : answer);
}
