/**
 * The policy worker (a bundle entry, started by policy-validation.ts): parses and validates one policy text with
 * yaml and zod, off the agent's main thread (issue 13). Its answer is plain data: the validated blocks and the
 * warnings, or the problems.
 */
import { parsePolicyText, type PolicyParseResult } from './policy-config.js';

export function handle(text: string): PolicyParseResult {
  return parsePolicyText(text);
}
