import { z } from 'zod';
import { adminSchema, logSchema, otlpReceiversSchema, shutdownTimeout } from './common.js';
import { enrichSchema } from './enrich.js';
import { exportersSchema } from './exporters.js';
import { measureSchema } from './measure.js';
import { samplingSchema } from './sampling.js';

/**
 * The agent's config file (CONTRACT.md "Agent config"). With no file, these defaults are the whole config.
 * A factory, as the sections are: the agent builds it, validates its config and drops it, rather than holding
 * its zod schema objects for its life (issue 13: about 1 MiB of old space in the idle agent).
 */
export const agentConfigSchema = () =>
  z.strictObject({
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

export type AgentConfig = z.output<ReturnType<typeof agentConfigSchema>>;
export type ExporterConfig = AgentConfig['exporters'][number];
