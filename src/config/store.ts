import { z } from 'zod';
import { adminSchema, logSchema, otlpReceiversSchema, shutdownTimeout } from './common.js';
import { s3Schema } from './exporters.js';
import { duration, endpoint, replicaUrls, size, storeClientTls } from './schema-types.js';
import { serviceGraphSchema } from './service-graph.js';

/**
 * The store's config file (CONTRACT.md "Store config"); keys beyond the contract's are additions with defaults.
 * A factory, as the sections are: built when the store reads its config, not by every process that imports the
 * config room (the agent carried the store's and the injector's schemas, about 1.4 MiB of V8 heap, issue 13).
 */
export const storeConfigSchema = () =>
  z.strictObject({
    receivers: otlpReceiversSchema({ host: '0.0.0.0', maxRequestBytes: '16MiB' }),
    ...storageSections(),
    ...querySections(),
    ...accessSections(),
    /** Edges between services from CLIENT/SERVER pairs, as Tempo's metric names (issue 19, docs/service-graph.md). */
    service_graph: serviceGraphSchema(),
    logs: logsSection(),
  });

export type StoreConfig = z.output<ReturnType<typeof storeConfigSchema>>;

/** Budget, storage, WAL, blocks, uploads, compaction, retention. */
const storageSections = () => ({
  /** In-flight memory budget of the receivers plus the spans held for blocks not yet uploaded. */
  memory_limit_mib: z.number().positive().default(1024),
  admin: adminSchema(),
  log: logSchema(),
  shutdown_timeout: shutdownTimeout(),
  storage: z
    .strictObject({
      url: z.string().default('file://./data'),
      s3: s3Schema(),
    })
    .prefault({}),
  wal_dir: z.string().default('./wal'),
  /** The WAL's bound: over it, agents are refused (and retry) until uploads catch up. */
  wal_max_bytes: size().prefault('1GiB'),
  block: z
    .strictObject({
      max_bytes: size().prefault('64MiB'),
      max_spans: z.number().int().positive().default(1_000_000),
      max_age: duration().prefault('1m'),
      /** Rows per Parquet row group: the unit a trace lookup reads. */
      row_group_spans: z.number().int().positive().default(2_000),
    })
    .prefault({}),
  /** Backoff of block uploads; they are retried as long as the WAL holds the spans. */
  upload_retry: z
    .strictObject({
      initial_interval: duration().prefault('1s'),
      max_interval: duration().prefault('30s'),
    })
    .prefault({}),
  compaction: z
    .strictObject({
      enabled: z.boolean().default(true),
      interval: duration().prefault('5m'),
      /** Blocks with fewer spans than this are merged with others of the same hour. */
      max_block_spans: z.number().int().positive().default(1_000_000),
      /** Blocks younger than this are left alone (their hour may still be filling). */
      min_age: duration().prefault('2m'),
      /**
       * Empty: this store compacts (when `enabled`) and applies retention. Otherwise only the store whose pod name
       * (`$POD_NAME`, else `$HOSTNAME`) equals it does: replicas sharing storage have no coordination between
       * compactors, and two would merge the same blocks.
       */
      leader: z.string().default(''),
    })
    .prefault({}),
  retention: duration().prefault('336h'),
});

/** The query API and the decision feed. */
const querySections = () => ({
  query: z
    .strictObject({
      endpoint: endpoint().default('0.0.0.0:3200'),
      /** The largest `limit` a search or /spans may ask for. */
      max_limit: z.number().int().positive().default(1000),
      /** The widest `start`..`end` window a search may scan. */
      max_search_window: duration().prefault('168h'),
      /** Block bytes one search may read; past it the search answers with what it found so far. */
      max_search_bytes: size().prefault('1GiB'),
      /** How often the block list is re-read from storage (new blocks of other writers, compaction). */
      refresh_interval: duration().prefault('10s'),
      /**
       * The other replicas of this store (docs/query-api.md "Several replicas"): a trace lookup also asks each
       * of them for the trace's spans they hold and have not written to a block yet.
       */
      peers: z
        .strictObject({
          /** Query URLs of the other replicas (this one may be listed: it is not asked). */
          urls: replicaUrls('http://sentinel-store-1.sentinel-store-headless:3200'),
          /**
           * A headless Service resolved to every replica at each lookup: `name`, `name:port` or
           * `http(s)://name:port` (port 3200 by default). This replica's own address is left out.
           */
          dns: z.string().default(''),
          /** How long a lookup waits for a replica; one that does not answer in time is left out of the answer. */
          timeout: duration().prefault('2s'),
          /** Sent as `Authorization: Bearer` to the other replicas (a reader token when `auth.required`). */
          bearer_token_file: z.string().default(''),
          tls: storeClientTls(),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The decision feed (issue 9): trace ids agents kept by a rule, published to and polled from each replica. */
  decisions: z
    .strictObject({
      /** Empty: `<wal_dir>/decisions`. Holds the epoch file and the segment files. */
      dir: z.string().default(''),
      /** Entries retained in memory and on disk (24 B each on disk). */
      max_entries: z.number().int().positive().default(262_144),
      /** Older entries are dropped even under max_entries. */
      retention: duration().prefault('10m'),
    })
    .prefault({}),
});

/** Who may talk to the store: TLS, tokens, TokenReview; the policy it serves to agents. */
const accessSections = () => ({
  tls: z
    .strictObject({
      cert_file: z.string().default(''),
      key_file: z.string().default(''),
      client_ca_file: z.string().default(''),
    })
    .prefault({}),
  auth: z
    .strictObject({
      required: z.boolean().default(false),
      /** Static agent tokens (stores outside Kubernetes): ingest, decision feed and policy, not reading. */
      token_files: z.array(z.string()).default([]),
      /** Reader tokens: search, trace lookup, compare and every other query route (issue 14). */
      reader_token_files: z.array(z.string()).default([]),
      /** Agents' projected ServiceAccount tokens checked with the Kubernetes TokenReview API (issue 14). */
      token_review: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** The audience the agents' projected tokens are made for; the review must confirm it. */
          audience: z.string().min(1).default('sentinel'),
          /** How long a positive review is trusted (never past the token's own `exp`). */
          cache_ttl: duration().prefault('60s'),
          /** Empty: the in-cluster config (the pod's ServiceAccount). */
          kubeconfig: z.string().default(''),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The cluster's sampling policy served to agents on `GET /api/policy` (issue 14). */
  policy: z
    .strictObject({
      /** A policy file (a mounted ConfigMap), re-read when it changes; empty: /api/policy answers 404. */
      file: z.string().default(''),
    })
    .prefault({}),
});

/** Logs (issue 16): their own WAL under `<wal_dir>/logs`, blocks under `logs/`, retention (docs/store-logs.md). */
const logsSection = () =>
  z
    .strictObject({
      /** false: the store answers OTLP logs with 404 / UNIMPLEMENTED, as before issue 16. */
      enabled: z.boolean().default(true),
      /** The logs WAL's bound, apart from the spans' `wal_max_bytes`. */
      wal_max_bytes: size().prefault('256MiB'),
      /** A logs block is cut at this many protobuf bytes, `block.max_spans` records or `block.max_age`. */
      max_block_bytes: size().prefault('16MiB'),
      /** Logs blocks whose newest record is older are deleted; empty (0): the spans' `retention`. */
      retention: duration().prefault('0s'),
    })
    .prefault({});
