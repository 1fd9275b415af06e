import { z } from 'zod';
import { duration, size } from './schema-types.js';

/** `sampling:` of the agent config (issues 4 and 9). */
export const samplingSchema = () =>
  z
    .strictObject({
      policy_file: z.string().default(''),
      decision_wait: duration().prefault('10s'),
      num_traces: z.number().int().positive().default(50_000),
      /**
       * Bytes the trace buffer holds at most, counted like memory_limit_mib (the receivers' heap estimate);
       * beyond, the oldest traces are decided early (issue 4). Below the 64 MiB budget, so that the sampler
       * decides early before the receivers have to refuse.
       */
      max_buffered_bytes: size().prefault('48MiB'),
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
