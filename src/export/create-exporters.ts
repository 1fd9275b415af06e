import type { ExporterConfig } from '../config/index.js';
import type { ObjectStore } from '../storage/index.js';
import type { Logger } from '../telemetry/index.js';
import { DebugExporter } from './debug-exporter.js';
import type { ExporterConsumerOptions } from './exporter-consumer.js';
import { OtlpHttpExporter } from './otlp-http-exporter.js';
import type { OtlpExporterOptions } from './otlp-options.js';
import type { SpanExporter } from './span-exporter.js';

/** The name an exporter goes by in metrics, logs and its queue directory: `name`, else `<type>/<index>`. */
export function exporterName(config: ExporterConfig, index: number): string {
  return config.name ?? `${config.type}/${index}`;
}

/**
 * Builds the exporter one `exporters:` entry describes. The `storage` exporter's module and the storage room
 * (Parquet, and the S3 client when the URL is s3://) are imported here, only when a config names one: an agent
 * that exports over OTLP does not carry them, and grpc-js is imported only for `protocol: grpc` (issue 13, idle
 * RSS).
 */
export async function createExporter(
  config: ExporterConfig,
  index: number,
  deps: { logger: Logger; objectStore?: (config: ExporterConfig) => ObjectStore | undefined },
): Promise<SpanExporter> {
  const name = exporterName(config, index);
  switch (config.type) {
    case 'debug':
      return new DebugExporter(deps.logger, config.verbosity, name);
    case 'storage': {
      const [{ StorageExporter }, { openObjectStore }] = await Promise.all([
        import('./storage-exporter.js'),
        import('../storage/index.js'),
      ]);
      const store =
        deps.objectStore?.(config) ??
        openObjectStore(config.url, {
          endpoint: config.s3.endpoint,
          region: config.s3.region,
          forcePathStyle: config.s3.force_path_style,
        });
      return new StorageExporter(store, name, deps.logger);
    }
    case 'otlp': {
      const options: OtlpExporterOptions = {
        name,
        endpoint: config.endpoint,
        compression: config.compression,
        headers: config.headers,
        bearerTokenFile: config.bearer_token_file,
        timeoutMs: config.timeout,
        tls: { caFile: config.tls.ca_file, insecureSkipVerify: config.tls.insecure_skip_verify },
      };
      if (config.protocol === 'http') return new OtlpHttpExporter(options);
      // grpc-js (its chunk of the bundle: 640 KB of source) only for a config that exports over gRPC.
      const { OtlpGrpcExporter } = await import('./otlp-grpc-exporter.js');
      return new OtlpGrpcExporter(options);
    }
  }
}

/** The batch, retry and queue keys of one `exporters:` entry, as ExporterConsumer options. */
export function exporterStageOptions(config: ExporterConfig): ExporterConsumerOptions {
  return {
    batch: {
      sendBatchSize: config.batch.send_batch_size,
      sendBatchMaxSize: config.batch.send_batch_max_size,
      timeoutMs: config.batch.timeout,
    },
    retry: {
      enabled: config.retry.enabled,
      initialIntervalMs: config.retry.initial_interval,
      maxIntervalMs: config.retry.max_interval,
      maxElapsedTimeMs: config.retry.max_elapsed_time,
    },
    queue: {
      dir: config.queue.dir,
      maxBytes: config.queue.max_bytes,
      numConsumers: config.queue.num_consumers,
    },
  };
}
