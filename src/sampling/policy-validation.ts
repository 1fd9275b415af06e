import { callWorkerSync } from '../config/runtime.js';
import type { PolicyParseResult } from './policy-config.js';

/**
 * parsePolicyText (policy-config.ts) run on a short-lived worker (policy-worker.ts): the same blocks, warnings
 * and problems, while this thread never loads yaml, zod or a policy schema (issue 13). The agent's policy
 * sources call it at start and for each changed policy text; they compile the blocks here (compilePolicy).
 */
export function validatePolicyText(text: string): PolicyParseResult {
  return callWorkerSync<string, PolicyParseResult>(import.meta.url, 'policy-worker', text);
}
