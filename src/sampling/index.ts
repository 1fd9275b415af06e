export { createTailSampler } from './create-sampler.js';
export { validatePolicyText } from './policy-validation.js';
export { formatPolicyProblems } from './policy-problems.js';
export { runPolicyCommand } from './policy-command.js';
export { POLICY_MEDIA_TYPE, POLICY_PATH } from './policy-protocol.js';
