import { z } from 'zod';
import { duration, size } from './schema-types.js';

/** `sampling:` of the agent config (issues 4 and 9). */
export const samplingSchema = () =>
  z
    .strictObject({
      policy_file: z.string().default(''),
      decision_wait: duration().prefault('10s'),
      num_traces: z.number().int().positive().default(50_000),
      /** Decoded bytes the trace buffer holds at most; beyond, the oldest traces are decided early (issue 4). */
      max_buffered_bytes: size().prefault('16MiB'),
      /** Recently decided trace ids, so late spans follow their trace (the Collector's decision_cache). */
      decision_cache: z
        .strictObject({
          sampled_cache_size: z.number().int().nonnegative().default(10_000),
          non_sampled_cache_size: z.number().int().nonnegative().default(50_000),
        })
        .prefault({}),
      completion: z
        .strictObject({
          enabled: z.boolean().default(false),
          window: duration().prefault('30s'),
          max_bytes: size().prefault('32MiB'),
          poll_interval: duration().prefault('1s'),
          stores: z.array(z.string()).default([]),
          stores_dns: z.string().default(''),
        })
        .prefault({}),
    })
    .prefault({});
