/**
 * src/config's second door: what a running process needs of config without loading zod, yaml or a schema
 * (issue 13: the agent never does; index.ts loads every schema). The unit parsers, the types of validated
 * configs, and the config read in a short-lived worker process (config-worker.ts), with the one mechanism for
 * such calls (worker-call.ts), which the sampler's policy validation uses too. Nothing here may import zod or yaml
 * at run time; test/build.test.ts checks the agent's bundle.
 */
export { parseDurationMs, parseEndpoint, parseSizeBytes } from './units.js';
export type { AgentConfig, ExporterConfig } from './agent-config.js';
export type { CommandConfig } from './command-answer.js';
export { readCommandConfigOnWorker } from './read-on-worker.js';
export type { CommandConfigs, FollowUp } from './read-on-worker.js';
export { callWorker, callWorkerSync, WorkerCallError, workerModuleUrl } from './worker-call.js';
