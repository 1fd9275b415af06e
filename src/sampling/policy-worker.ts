/**
 * The policy worker (a bundle entry, run in its own process by policy-validation.ts): parses and validates one
 * policy text with yaml and zod, outside the agent's process (issue 13). Its answer is plain data: the validated blocks and the
 * warnings, or the problems. Also the follow-up that validates the agent's start policy beside its config.
 */
import { readFileSync } from 'node:fs';
import type { AgentConfig } from '../config/runtime.js';
import { parsePolicyText, type PolicyParseResult } from './policy-config.js';
import type { ValidatedPolicyText } from './policy-validation.js';

export function handle(text: string): PolicyParseResult {
  return parsePolicyText(text);
}

/**
 * The follow-up of the agent's config worker (policy-validation.ts startPolicyValidation): the policy text the
 * agent's policy source validates at start, validated in the same process as the config. That is the one
 * choosePolicySource reads first: the `policy_file` when one is named, else the `policy_snapshot`. A file that
 * cannot be read is left to the source, which says so in its own words.
 */
export function afterConfig(config: AgentConfig): ValidatedPolicyText | undefined {
  const { policy_file: file, policy_snapshot: snapshot } = config.sampling;
  let text: string;
  if (file !== '') {
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  } else if (snapshot.trim() !== '') text = snapshot;
  else return undefined;
  return { text, answer: parsePolicyText(text) };
}
