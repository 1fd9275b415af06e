/** What a long-running command should do: run with a config, or exit now with a code. */
export type CommandConfig<T> =
  { readonly kind: 'run'; readonly config: T } | { readonly kind: 'exit'; readonly code: number };

/** A CommandConfig whose exit carries the text to print on stdout (help, --print-config). */
export type CommandConfigAnswer<T> =
  | { readonly kind: 'run'; readonly config: T }
  | { readonly kind: 'exit'; readonly code: number; readonly stdout: string };

/** Carries an answer out: prints an exit's text on stdout and returns what the command does. */
export function commandConfigOf<T>(answer: CommandConfigAnswer<T>): CommandConfig<T> {
  if (answer.kind === 'run') return answer;
  process.stdout.write(answer.stdout);
  return { kind: 'exit', code: answer.code };
}

/** Freezes `value` and everything in it (a validated config is read-only). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
