import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import type { z } from 'zod';
import { loadConfig } from './load-config.js';

/** What a long-running command should do: run with a config, or exit now with a code. */
export type CommandConfig<T> =
  { readonly kind: 'run'; readonly config: T } | { readonly kind: 'exit'; readonly code: number };

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
    process.stdout.write(`usage: sentinel ${command} [--config FILE] [--print-config]

  --config FILE    YAML config (default: $SENTINEL_CONFIG; none: the embedded defaults);
                   env:NAME reads the YAML from environment variable NAME
  --print-config   print the effective config (durations in ms, sizes in bytes) and exit
`);
    return { kind: 'exit', code: 0 };
  }
  const file = values.config ?? env['SENTINEL_CONFIG'] ?? undefined;
  const config = loadConfig(schema, { file: file || undefined, env });
  if (values['print-config']) {
    process.stdout.write(
      `# effective sentinel ${command} config (durations in milliseconds, sizes in bytes)\n`,
    );
    process.stdout.write(toYaml(config));
    return { kind: 'exit', code: 0 };
  }
  return { kind: 'run', config };
}
