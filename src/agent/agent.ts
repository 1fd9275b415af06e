import type { AgentConfig } from '../config/index.js';
import {
  createExporter,
  ExporterStage,
  exporterName,
  exporterStageOptions,
  FanOutConsumer,
  type SpanExporter,
} from '../export/index.js';
import { Enricher } from '../enrich/index.js';
import { SpanMetricsStage } from '../measure/index.js';
import type { TraceConsumer } from '../otlp/index.js';
import { receiversFromConfig, type OtlpReceivers } from '../receiver/index.js';
import { DecisionFeedClient } from '../decision-feed/index.js';
import { createTailSampler } from '../sampling/index.js';
import { AdminServer, type Logger, type Metrics } from '../telemetry/index.js';
import { type Clock } from '../clock.js';

/** What an embedding (the CLI, a test, the demo) may replace in the agent. */
export interface AgentDependencies {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Replaces the configured exporters (tests, benchmarks). */
  readonly exporters?: readonly SpanExporter[];
  /** The Downward API environment (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Drives batch timeouts and retry backoff of the exporters (tests run a 60 s outage faster). */
  readonly exportClock?: Clock;
  /** Resolves `sampling.completion.stores_dns` (tests replace DNS). */
  readonly resolve?: (host: string) => Promise<string[]>;
}

/** A started agent. */
export interface RunningAgent {
  readonly ports: { readonly grpc: number; readonly http: number; readonly admin: number };
  readonly receivers: OtlpReceivers;
  /** Stops accepting, drains everything accepted through the pipeline, then closes. Runs once. */
  shutdown(): Promise<void>;
}

/**
 * The export stage: one ExporterConsumer (batch -> queue -> retry -> exporter) per configured exporter,
 * fanned out. Replays each persistent queue before the receivers open.
 */
async function startExportStage(config: AgentConfig, deps: AgentDependencies): Promise<FanOutConsumer> {
  const { logger, metrics } = deps;
  const clock = deps.exportClock ? { clock: deps.exportClock } : {};
  // The drain of queued batches gets half the shutdown budget; a persistent queue keeps what is left.
  const drainTimeoutMs = Math.max(1000, config.shutdown_timeout / 2);
  // Async: a storage exporter imports its modules (Parquet, S3) only when the config names one (issue 13).
  const built = deps.exporters
    ? []
    : await Promise.all(config.exporters.map((c, i) => createExporter(c, i, { logger })));
  const stages = deps.exporters
    ? deps.exporters.map((e) => new ExporterStage(e, metrics, logger, { ...clock, drainTimeoutMs }))
    : config.exporters.map((c, i) => {
        const exporter = built[i]!;
        const stage = new ExporterStage(
          exporter,
          metrics,
          logger,
          { ...exporterStageOptions(c), ...clock, drainTimeoutMs },
          c.signals,
        );
        logger.info(
          { exporter: exporterName(c, i), type: c.type, queue_dir: c.queue.dir, signals: [...stage.signals] },
          'exporter configured',
        );
        return stage;
      });
  await Promise.all(stages.map((s) => s.start()));
  return new FanOutConsumer(stages);
}

/**
 * True when no policy can apply, so every trace is kept: no local file, no central policy, no snapshot. (An
 * injected agent has no file and gets its policy from the store; the warning it triggers was wrong there.)
 */
export function keepsEverything(sampling: AgentConfig['sampling']): boolean {
  return (
    sampling.policy_file === '' &&
    sampling.central_policy.url === '' &&
    sampling.policy_snapshot.trim() === ''
  );
}

/**
 * The sampler and, with `sampling.completion`, the decision feed (issue 9): the feed publishes what rules kept
 * here and releases what rules kept elsewhere.
 */
function startSampling(config: AgentConfig, deps: AgentDependencies, next: TraceConsumer) {
  const { logger, metrics } = deps;
  const completion = config.sampling.completion;
  const env = deps.env ?? process.env;
  let feed: DecisionFeedClient | undefined;
  const sampler = createTailSampler(config.sampling, {
    next,
    metrics,
    logger,
    ...(completion.enabled
      ? {
          onDecision: (traceId, decision) => {
            if (decision.reason === 'rule') feed?.publish(traceId);
          },
        }
      : {}),
  });
  if (completion.enabled) {
    feed = new DecisionFeedClient({
      stores: completion.stores,
      storesDns: completion.stores_dns,
      pollIntervalMs: completion.poll_interval,
      podName: env['POD_NAME'] ?? env['HOSTNAME'] ?? '',
      bearerTokenFile: completion.bearer_token_file,
      tls: { caFile: completion.tls.ca_file, insecureSkipVerify: completion.tls.insecure_skip_verify },
      onIds: (ids) => sampler.release(ids),
      metrics,
      logger,
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
    });
  }
  return { sampler, feed };
}

/** Starts polling the decision feed, saying so (and warning when every trace is kept anyway). */
function startFeed(config: AgentConfig, feed: DecisionFeedClient, logger: Logger): void {
  const completion = config.sampling.completion;
  if (keepsEverything(config.sampling))
    logger.warn(
      'sampling.completion is on but there is no policy (policy_file, central_policy.url or policy_snapshot): every trace is kept, so there is nothing to complete',
    );
  feed.start();
  logger.info(
    { stores: completion.stores, stores_dns: completion.stores_dns, window: completion.window },
    'decision feed on: dropped traces are held and completed when another agent keeps them',
  );
}

/** Builds the agent's pipeline from its config, then starts receivers and the admin server. */
export async function startAgent(config: AgentConfig, deps: AgentDependencies): Promise<RunningAgent> {
  const { logger, metrics } = deps;
  // The data path, built back to front: receive -> enrich -> measure -> sample -> export.
  const exportStage = await startExportStage(config, deps);
  const { sampler, feed } = startSampling(config, deps, exportStage);
  // Span metrics count every span before the sampler drops any (issue 8).
  const measured: TraceConsumer = config.measure.enabled
    ? new SpanMetricsStage({ next: sampler, config: config.measure, metrics, logger })
    : sampler;
  const env = deps.env ?? process.env;
  const pipeline: TraceConsumer = new Enricher({
    next: measured,
    config: config.enrich,
    env,
    metrics,
    logger,
  });

  const otlp = config.receivers.otlp;
  // The byte path (issue 13): the pipeline gets scanned protobuf, never the decoded model.
  // Logs and metrics (issue 16) are served when an exporter carries them; they pass enrich, measure and the sampler.
  const receivers = receiversFromConfig(config, {
    consumer: pipeline,
    metrics,
    logger,
    wire: true,
    signals: exportStage.signals(),
  });
  const admin = new AdminServer({
    endpoint: config.admin.endpoint,
    metrics,
    logger,
    isReady: () => receivers.ready,
  });
  const adminPort = await admin.start();
  let ports: { grpcPort: number; httpPort: number };
  try {
    ports = await receivers.start();
  } catch (err) {
    await feed?.stop();
    await admin.close();
    await receivers.stop().catch(() => undefined);
    throw err;
  }
  logger.info(
    {
      grpc: otlp.grpc.endpoint,
      http: otlp.http.endpoint,
      admin: config.admin.endpoint,
      ports: { grpc: ports.grpcPort, http: ports.httpPort, admin: adminPort },
    },
    'sentinel agent is receiving OTLP',
  );
  if (feed) startFeed(config, feed, logger);

  let stopping: Promise<void> | undefined;
  return {
    ports: { grpc: ports.grpcPort, http: ports.httpPort, admin: adminPort },
    receivers,
    shutdown() {
      stopping ??= (async () => {
        logger.info('draining: refusing new data, flushing what was accepted');
        await receivers.stop();
        await pipeline.shutdown();
        // After the sampler decided everything: the ids it kept by rule at shutdown are published last.
        await feed?.stop();
        await admin.close();
        logger.info('drained');
      })();
      return stopping;
    },
  };
}
