export { agentConfigSchema } from './agent-config.js';
export type { AgentConfig, ExporterConfig } from './agent-config.js';
export { applyEnvOverrides, loadConfig, validateConfig } from './load-config.js';
export type { ConfigSources } from './load-config.js';
export { duration, endpoint, size } from './schema-types.js';
export { adminSchema, logSchema, otlpReceiversSchema, shutdownTimeout } from './common.js';
export { s3Schema } from './exporters.js';
export { parseDurationMs, parseEndpoint, parseSizeBytes } from './units.js';
