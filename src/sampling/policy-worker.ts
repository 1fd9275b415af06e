/**
 * The policy worker (a bundle entry, run in its own process by policy-validation.ts): parses and validates one
 * policy text with yaml and zod, outside the agent's process (issue 13). Its answer is plain data: the validated blocks and the
 * warnings, or the problems.
 */
import { parsePolicyText, type PolicyParseResult } from './policy-config.js';

export function handle(text: string): PolicyParseResult {
  return parsePolicyText(text);
}
