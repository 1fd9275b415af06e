export { createTailSampler } from './create-sampler.js';
export { loadPolicyParser } from './policy-parser.js';
export { startPolicyValidation } from './policy-validation.js';
export { formatPolicyProblems } from './policy-problems.js';
export { runPolicyCommand } from './policy-command.js';
export { POLICY_MEDIA_TYPE, POLICY_PATH } from './policy-protocol.js';
