import { z } from 'zod';
import { adminSchema, logSchema, otlpReceiversSchema, shutdownTimeout } from './common.js';
import { enrichSchema } from './enrich.js';
import { exportersSchema } from './exporters.js';
import { measureSchema } from './measure.js';
import { samplingSchema } from './sampling.js';

/** The agent's config file (CONTRACT.md "Agent config"). With no file, these defaults are the whole config. */
export const agentConfigSchema = z.strictObject({
  receivers: otlpReceiversSchema({ host: '127.0.0.1', maxRequestBytes: '4MiB' }),
  memory_limit_mib: z.number().positive().default(64),
  admin: adminSchema(),
  log: logSchema(),
  shutdown_timeout: shutdownTimeout(),
  enrich: enrichSchema(),
  measure: measureSchema(),
  sampling: samplingSchema(),
  exporters: exportersSchema(),
});

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type ExporterConfig = AgentConfig['exporters'][number];
