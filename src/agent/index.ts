export { startAgent } from './agent.js';
export type { AgentDependencies, RunningAgent } from './agent.js';
export { runAgent } from './run-agent.js';
