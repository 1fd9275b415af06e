/**
 * Policy-file problems as users read them: a message that names the policy (with its parents, `outer > inner`),
 * the key, what was expected and what was found, with the YAML line and column of the spot. Plain data: the
 * policy worker sends them to the agent; policy-issues.ts makes them from zod's issues.
 */

/** One problem in a policy file, with where it is. */
export interface PolicyProblem {
  /** `policy "outer > inner": key.path: what was expected, got what (line L, column C)` */
  readonly message: string;
  /** The message without the position. */
  readonly detail?: string;
  readonly line?: number;
  readonly column?: number;
  readonly policy?: string;
  readonly key?: string;
}

/** Renders problems one per line, for the CLI and logs. */
export function formatPolicyProblems(file: string, problems: readonly PolicyProblem[]): string {
  return problems.map((p) => `${file}:${p.line ?? 0}:${p.column ?? 0}: ${p.detail ?? p.message}`).join('\n');
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function posText(pos: { line?: number; column?: number }): string {
  return pos.line !== undefined ? ` (line ${pos.line}, column ${pos.column ?? 0})` : '';
}
