import { callWorker, callWorkerSync, workerModuleUrl, type FollowUp } from '../config/runtime.js';
import type { PolicyParseResult } from './policy-config.js';

/**
 * The last text validated and its answer (or the answer on its way): the snapshot an agent starts with is most
 * often the central policy it then fetches, and agents sharing a process (the demo, tests) fetch the same text.
 * Validation is a function of the text alone; the answer is read, never changed.
 */
let last:
  { readonly text: string; readonly answer: PolicyParseResult | Promise<PolicyParseResult> } | undefined;

/**
 * parsePolicyText (policy-config.ts) run in a short-lived worker process (policy-worker.ts): the same blocks,
 * warnings and problems, while this process never loads yaml, zod or a policy schema (issue 13). The agent's
 * policy sources call it at start and for each changed policy text, and compile the blocks here (compilePolicy).
 * It blocks until the answer: for a policy file's start and check, whose contract is synchronous.
 */
export function validatePolicyTextSync(text: string): PolicyParseResult {
  if (last?.text === text && !(last.answer instanceof Promise)) return last.answer;
  const answer = callWorkerSync<string, PolicyParseResult>(import.meta.url, 'policy-worker', text);
  last = { text, answer };
  return answer;
}

/** validatePolicyTextSync without blocking: a fetched central policy is validated while the agent goes on. */
export function validatePolicyText(text: string): Promise<PolicyParseResult> {
  if (last?.text === text) return Promise.resolve(last.answer);
  const answer = callWorker<string, PolicyParseResult>(import.meta.url, 'policy-worker', text);
  const entry = { text, answer };
  last = entry;
  // Settled: kept as the value; failed: forgotten, so that the next call tries again.
  answer.then(
    (value) => {
      if (last === entry) last = { text, answer: value };
    },
    () => {
      if (last === entry) last = undefined;
    },
  );
  return answer;
}

/** A policy text and its validation, as the config worker's follow-up answers it (policy-worker.ts afterConfig). */
export interface ValidatedPolicyText {
  readonly text: string;
  readonly answer: PolicyParseResult;
}

/**
 * The follow-up for the agent's config worker: the start policy (a `policy_file`, else the `policy_snapshot`) is
 * validated in the same short-lived process as the config, and its answer kept here as the last validated text,
 * so the policy source's start finds it instead of starting a second process (session 13: time to ready about
 * 90 ms shorter). A text that differs by then (the file changed in between) is validated again as before.
 */
export function startPolicyValidation(): FollowUp {
  return {
    url: workerModuleUrl(import.meta.url, 'policy-worker'),
    take(value: unknown) {
      const v = value as ValidatedPolicyText | undefined;
      if (v !== undefined && typeof v.text === 'string') last = { text: v.text, answer: v.answer };
    },
  };
}
