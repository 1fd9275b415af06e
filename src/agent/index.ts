export { startAgent } from './agent.js';
export { runAgent } from './run-agent.js';
export type { RunningAgent } from './agent.js';
