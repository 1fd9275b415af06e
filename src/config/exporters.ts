import { z } from 'zod';
import { duration, size } from './schema-types.js';

const batchSchema = () =>
  z
    .strictObject({
      send_batch_size: z.number().int().positive().default(8192),
      send_batch_max_size: z.number().int().nonnegative().default(0),
      timeout: duration().prefault('1s'),
    })
    .prefault({});

const retrySchema = () =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      initial_interval: duration().prefault('1s'),
      max_interval: duration().prefault('30s'),
      max_elapsed_time: duration().prefault('5m'),
    })
    .prefault({});

const queueSchema = () =>
  z
    .strictObject({
      // Empty: memory only. Else one sub-directory per exporter, replayed after a restart.
      dir: z.string().default(''),
      // The bound: disk bytes with dir, estimated heap bytes without; when reached the receivers refuse.
      max_bytes: size().prefault('256MiB'),
      // Batches sent at the same time (the Collector's sending_queue.num_consumers).
      num_consumers: z.number().int().positive().default(4),
    })
    .prefault({});

export const s3Schema = () =>
  z
    .strictObject({
      endpoint: z.string().default(''),
      region: z.string().default('us-east-1'),
      force_path_style: z.boolean().default(false),
    })
    .prefault({});

const common = {
  name: z.string().optional(),
  // The signals this exporter carries (issue 16); absent: every signal it can (otlp and debug: all three).
  signals: z
    .array(z.enum(['traces', 'metrics', 'logs']))
    .min(1)
    .refine((l) => new Set(l).size === l.length, { message: 'expected each signal once' })
    .optional(),
  batch: batchSchema(),
  retry: retrySchema(),
  queue: queueSchema(),
};

/** One entry of `exporters:`; each gets its own batch, retry and queue. */
export const exporterSchema = () =>
  z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('storage'),
      url: z.string().default('file://./data'),
      s3: s3Schema(),
      ...common,
    }),
    z.strictObject({
      type: z.literal('otlp'),
      endpoint: z.string(),
      protocol: z.enum(['grpc', 'http']).default('grpc'),
      compression: z.enum(['gzip', 'none']).default('gzip'),
      headers: z.record(z.string(), z.string()).default({}),
      bearer_token_file: z.string().default(''),
      timeout: duration().prefault('10s'),
      tls: z
        .strictObject({
          ca_file: z.string().default(''),
          insecure_skip_verify: z.boolean().default(false),
        })
        .prefault({}),
      ...common,
    }),
    z.strictObject({
      type: z.literal('debug'),
      verbosity: z.enum(['basic', 'detailed']).default('basic'),
      ...common,
    }),
  ]);

/** Names must differ: each exporter's metrics and queue sub-directory are keyed by it (`<type>/<index>` by default). */
export const exportersSchema = () =>
  z
    .array(exporterSchema())
    .prefault([{ type: 'storage' }])
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((e, i) => {
        const name = e.name ?? `${e.type}/${i}`;
        if (seen.has(name))
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `expected a name no other exporter has, got ${JSON.stringify(name)} twice`,
          });
        seen.add(name);
      });
    });

/**
 * The signals an exporter of `type` carries when its config lists none (issue 16): what it can carry. Mirrors the
 * exporters' `exportLogs` / `exportMetrics` methods (src/export/exporter-stage.ts `signalsOf`), for the injector,
 * which reads the agent config without building exporters: change both together.
 */
export function defaultExporterSignals(
  type: 'storage' | 'otlp' | 'debug',
): Array<'traces' | 'metrics' | 'logs'> {
  return type === 'storage' ? ['traces', 'logs'] : ['traces', 'metrics', 'logs'];
}
