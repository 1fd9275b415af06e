/** `sentinel policy check FILE`: validates a sampling policy file offline (exit 0, or 1 with the errors). */
import { readFile } from 'node:fs/promises';
import { loadPolicyParser } from './policy-parser.js';
import { formatPolicyProblems } from './policy-problems.js';

const USAGE = `usage: sentinel policy check FILE

Validates a tail-sampling policy file (the OpenTelemetry Collector tail_sampling "policies:" syntax).
Exit status 0 when it is valid, 1 with one "FILE:LINE:COLUMN: message" line per problem otherwise.`;

/** Streams the command writes to; injectable for tests. */
export interface CommandIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export async function runPolicyCommand(argv: string[], io: CommandIo = process): Promise<number> {
  const [verb, file, ...extra] = argv;
  if (verb === '--help' || verb === '-h' || verb === 'help') {
    io.stdout.write(USAGE + '\n');
    return 0;
  }
  if (verb !== 'check' || file === undefined || extra.length > 0) {
    io.stderr.write(USAGE + '\n');
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    io.stderr.write(`${file}: cannot read: ${(err as Error).message}\n`);
    return 1;
  }
  // Loaded here: the sampling room's index, which the agent loads, must not load zod and yaml (issue 13).
  const parsePolicyText = await loadPolicyParser();
  const result = parsePolicyText(text);
  if (!result.ok) {
    io.stderr.write(formatPolicyProblems(file, result.errors) + '\n');
    io.stderr.write(`${file}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  if (result.warnings.length > 0) io.stderr.write(formatPolicyProblems(file, result.warnings) + '\n');
  const names = result.config.policies.map((p) => `${p.name} (${p.type})`).join(', ');
  const logs = result.config.logs?.policies.map((p) => `${p.name} (${p.type})`).join(', ');
  io.stdout.write(
    `${file}: ok, ${result.config.policies.length} policies: ${names}` +
      (logs !== undefined ? `; ${result.config.logs?.policies.length} logs policies: ${logs}` : '') +
      '\n',
  );
  return 0;
}
