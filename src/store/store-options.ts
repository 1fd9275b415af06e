import { join } from 'node:path';
import type { StoreConfig } from '../config/index.js';
import type { S3Options } from '../storage/index.js';
import { blockEncodeShare, type BlockPipelineOptions } from './block-pipeline.js';
import type { CompactorOptions } from './compactor.js';
import type { PeerSpansOptions } from './peer-spans.js';
import type { QueryServerOptions } from './query-server.js';
import type { StoreAuthOptions } from './store-auth.js';

/**
 * The store's config, turned into each part's options in one place (issue 17: `optionsFrom(config)`). Only what
 * the config decides is here; the parts that tie them together (logger, metrics, the object store, the clock) are
 * passed by `startStore`.
 */
export const storeOptionsFrom = (config: StoreConfig) => {
  const review = config.auth.token_review;
  // One encoder thread for new blocks and compaction, one job at a time; its share of memory_limit_mib is
  // block-pipeline.ts's maxEncodeBytes (docs/store-robustness.md "Memory").
  const encodeShare = blockEncodeShare(config.memory_limit_mib);
  return {
    objectStore: {
      endpoint: config.storage.s3.endpoint,
      region: config.storage.s3.region,
      forcePathStyle: config.storage.s3.force_path_style,
    } satisfies S3Options,
    /** Undefined when `auth.required` is false: no request is checked. */
    auth: config.auth.required
      ? ({
          required: true,
          agentTokenFiles: config.auth.token_files,
          readerTokenFiles: config.auth.reader_token_files,
          ...(review.enabled
            ? {
                tokenReview: {
                  audience: review.audience,
                  cacheTtlMs: review.cache_ttl,
                  kubeconfig: review.kubeconfig,
                },
              }
            : {}),
        } satisfies Partial<StoreAuthOptions>)
      : undefined,
    /** Undefined without a certificate: plain HTTP and gRPC. */
    tls:
      config.tls.cert_file || config.tls.key_file
        ? {
            certFile: config.tls.cert_file,
            keyFile: config.tls.key_file,
            clientCaFile: config.tls.client_ca_file || undefined,
          }
        : undefined,
    catalog: { refreshIntervalMs: config.query.refresh_interval },
    encoder: {
      useWorker: true,
      rowGroupSize: config.block.row_group_spans,
      workerHeapMiB: encodeShare.workerHeapMiB,
    },
    pipeline: {
      walDir: config.wal_dir,
      walMaxBytes: config.wal_max_bytes,
      maxBlockBytes: config.block.max_bytes,
      maxBlockSpans: config.block.max_spans,
      maxBlockAgeMs: config.block.max_age,
      maxEncodeBytes: encodeShare.maxEncodeBytes,
      rowGroupSize: config.block.row_group_spans,
      retryInitialMs: config.upload_retry.initial_interval,
      retryMaxMs: config.upload_retry.max_interval,
    } satisfies Partial<BlockPipelineOptions>,
    compactor: {
      compaction: config.compaction.enabled,
      maxBlockSpans: config.compaction.max_block_spans,
      minAgeMs: config.compaction.min_age,
      retentionMs: config.retention,
      rowGroupSize: config.block.row_group_spans,
    } satisfies Partial<CompactorOptions>,
    decisions: {
      dir: config.decisions.dir || join(config.wal_dir, 'decisions'),
      maxEntries: config.decisions.max_entries,
      retentionMs: config.decisions.retention,
    },
    query: {
      endpoint: config.query.endpoint,
      maxLimit: config.query.max_limit,
      maxSearchWindowMs: config.query.max_search_window,
      maxSearchBytes: config.query.max_search_bytes,
    } satisfies Partial<QueryServerOptions>,
    /** Undefined when no other replica is named: lookups read this replica and the blocks only. */
    peers: peerOptions(config),
  };
};

/** What `storeOptionsFrom` returns. */
export type StoreOptions = ReturnType<typeof storeOptionsFrom>;

/** `query.peers` as PeerReplicas' options, or undefined when it names no replica. */
function peerOptions(config: StoreConfig) {
  const p = config.query.peers;
  if (p.urls.length === 0 && p.dns === '') return undefined;
  return {
    urls: p.urls,
    dns: p.dns,
    timeoutMs: p.timeout,
    bearerTokenFile: p.bearer_token_file || undefined,
    tls: { caFile: p.tls.ca_file, insecureSkipVerify: p.tls.insecure_skip_verify },
  } satisfies Partial<PeerSpansOptions>;
}
