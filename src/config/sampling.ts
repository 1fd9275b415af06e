import { z } from 'zod';
import { duration, replicaUrls, size, storeClientTls } from './schema-types.js';

/**
 * Whole traces across pods (issue 9): dropped traces are held for `window` (at most `max_bytes`, on top of
 * memory_limit_mib) and exported when the stores' decision feed says another agent kept them by a rule.
 */
const completionSchema = () =>
  z
    .strictObject({
      enabled: z.boolean().default(false),
      window: duration().prefault('30s'),
      max_bytes: size().prefault('32MiB'),
      poll_interval: duration().prefault('1s'),
      /** Query URLs of every store replica (http://host:3200 or https://...). */
      stores: replicaUrls('http://sentinel-store-0.sentinel-store:3200'),
      /**
       * A headless Service resolved to every replica each poll: `name`, `name:port` or `http(s)://name:port`
       * (port 3200 by default).
       */
      stores_dns: z.string().default(''),
      /** Sent as `Authorization: Bearer` to the stores' query API when it requires auth; re-read on change. */
      bearer_token_file: z.string().default(''),
      tls: storeClientTls(),
    })
    .prefault({})
    .refine((c) => !c.enabled || c.stores.length > 0 || c.stores_dns !== '', {
      message:
        'completion is enabled but names no store: set sampling.completion.stores (URLs) or stores_dns (a headless Service)',
    });

/** `sampling:` of the agent config (issues 4 and 9). */
export const samplingSchema = () =>
  z
    .strictObject({
      /** A local policy file; wins over central_policy and policy_snapshot (a pod annotation may name one). */
      policy_file: z.string().default(''),
      /**
       * The cluster's policy, polled from a store's `/api/policy` (issue 14): hot-reloaded on change, the last
       * good one kept on a bad one. Until the first fetch succeeds, `policy_snapshot` applies.
       */
      central_policy: z
        .strictObject({
          /** The store's query URL (`http://sentinel-store:3200`; `/api/policy` is added when it has no path). */
          url: z
            .union([
              z.literal(''),
              z.url({
                protocol: /^https?$/,
                error: 'expected an http(s) URL of the store, such as http://sentinel-store:3200',
              }),
            ])
            .default(''),
          poll_interval: duration().prefault('30s'),
          /** Sent as `Authorization: Bearer` (the projected ServiceAccount token); re-read on change. */
          bearer_token_file: z.string().default(''),
          tls: z.strictObject({ ca_file: z.string().default('') }).prefault({}),
        })
        .prefault({}),
      /** The policy YAML the injector puts in at admission: applied until the first central fetch succeeds. */
      policy_snapshot: z.string().default(''),
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
      completion: completionSchema(),
    })
    .prefault({});
