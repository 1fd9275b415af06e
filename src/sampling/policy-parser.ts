import type { parsePolicyText } from './policy-config.js';

/**
 * parsePolicyText, imported when asked: for the store, which validates the policy it serves in-process (it loads
 * zod for its own config anyway), while the sampling room's index, which the agent loads, loads no zod (issue 13).
 */
export async function loadPolicyParser(): Promise<typeof parsePolicyText> {
  return (await import('./policy-config.js')).parsePolicyText;
}
