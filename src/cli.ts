#!/usr/bin/env node
/**
 * `sentinel`: one binary, one subcommand per part (CONTRACT.md "CLI").
 * Each room exports a `run*` function taking the remaining argv; it resolves with the exit code.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  store: {
    summary: 'the central store: OTLP in, WAL, Parquet blocks on S3 or a directory, query API',
    load: async () => (await import('./store/index.js')).runStore,
  },
  agent: {
    summary: 'the sidecar: OTLP in, enrich, measure, tail-sample, export',
    load: async () => (await import('./agent/index.js')).runAgent,
  },
  injector: {
    summary: 'the admission webhook that adds the agent to pods',
    load: async () => (await import('./injector/index.js')).runInjector,
  },
  compare: {
    summary: 'canary versus baseline from stored spans (exit 0 pass, 1 fail, 2 inconclusive)',
    load: async () => {
      const { runCompare } = await import('./compare/index.js');
      return (argv) => runCompare(argv);
    },
  },
  demo: {
    summary: 'the tour: a store, a baseline and a canary agent, a simulated app; prints the comparison',
    load: async () => {
      const { runDemo } = await import('./demo/index.js');
      return (argv) =>
        runDemo(argv, {
          stdout: (t) => process.stdout.write(t),
          stderr: (t) => process.stderr.write(t),
          now: Date.now,
        });
    },
  },
  policy: {
    summary: 'policy check FILE: validate a tail-sampling policy file (exit 0, or 1 with the errors)',
    load: async () => {
      const { runPolicyCommand } = await import('./sampling/index.js');
      return (argv) => runPolicyCommand(argv);
    },
  },
};

const USAGE = `usage: sentinel <command> [options]

commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "sentinel <command> --help" for a command's options.`;

/** Dispatches argv to a subcommand; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    const { SENTINEL_VERSION } = await import('./version.js');
    process.stdout.write(SENTINEL_VERSION + '\n');
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`sentinel: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  const run = await command.load();
  return run(rest);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // A handle left open by a library must not keep a drained process alive; unref'd, so a clean exit is not delayed.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      const e = err as { code?: string; message?: string };
      process.stderr.write(`sentinel: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
