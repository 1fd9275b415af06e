import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import type { z } from 'zod';
import { loadConfig } from './load-config.js';
import { commandConfigOf, type CommandConfig, type CommandConfigAnswer } from './command-answer.js';

export type { CommandConfig } from './command-answer.js';

/**
 * The `[--config FILE] [--print-config] [--help]` part every long-running command shares (CONTRACT.md "CLI"):
 * `--config` defaults to `$SENTINEL_CONFIG`, then to the embedded defaults; `SENTINEL_*` variables override.
 */
export function readCommandConfig<S extends z.ZodType>(
  command: string,
  argv: string[],
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): CommandConfig<z.output<S>> {
  return commandConfigOf(answerCommandConfig(command, argv, schema, env));
}

/** readCommandConfig without writing: what to print is in the answer (the config worker's, config-worker.ts). */
export function answerCommandConfig<S extends z.ZodType>(
  command: string,
  argv: string[],
  schema: S,
  env: NodeJS.ProcessEnv,
): CommandConfigAnswer<z.output<S>> {
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
    const stdout = `usage: sentinel ${command} [--config FILE] [--print-config]

  --config FILE    YAML config (default: $SENTINEL_CONFIG; none: the embedded defaults);
                   env:NAME reads the YAML from environment variable NAME
  --print-config   print the effective config (durations in ms, sizes in bytes) and exit
`;
    return { kind: 'exit', code: 0, stdout };
  }
  const file = values.config ?? env['SENTINEL_CONFIG'] ?? undefined;
  const config = loadConfig(schema, { file: file || undefined, env });
  if (values['print-config']) {
    const stdout =
      `# effective sentinel ${command} config (durations in milliseconds, sizes in bytes)\n` + toYaml(config);
    return { kind: 'exit', code: 0, stdout };
  }
  return { kind: 'run', config };
}
