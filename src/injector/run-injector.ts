/** `sentinel injector [--config FILE]`: the admission webhook process. */
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { injectorConfigSchema, loadConfig, type InjectorConfig } from '../config/index.js';
import { AdminServer, createLogger, Metrics, type Logger } from '../telemetry/index.js';
import { SENTINEL_VERSION } from '../version.js';
import type { MutateOptions } from './mutate.js';
import { WebhookServer } from './webhook-server.js';

const HELP = `usage: sentinel injector [--config FILE]

The mutating admission webhook that adds the Sentinel agent to pods.
  --config FILE   injector config (YAML); default $SENTINEL_CONFIG, else built-in defaults
`;

/** The image injected when `agent.image` is empty: the one this injector was released with. */
export const DEFAULT_AGENT_IMAGE = `ghcr.io/sentinel/sentinel:${SENTINEL_VERSION}`;

/** What `mutate` needs, from a validated config. */
export function mutateOptionsFrom(
  config: InjectorConfig,
  env: NodeJS.ProcessEnv = process.env,
): MutateOptions {
  const own = config.namespace || env['POD_NAMESPACE'] || '';
  const excluded = new Set(config.exclude_namespaces);
  excluded.add('kube-system');
  if (own) excluded.add(own);
  return {
    excludedNamespaces: excluded,
    nativeSidecar: config.agent.native_sidecar,
    agent: {
      image: config.agent.image || DEFAULT_AGENT_IMAGE,
      imagePullPolicy: config.agent.image_pull_policy,
      configMap: config.agent.config_map,
      tokenSecret: config.agent.token_secret,
      resources: config.agent.resources,
      queueSizeLimit: config.agent.queue_size_limit,
      version: SENTINEL_VERSION,
    },
  };
}

/** Runs the injector until SIGTERM or SIGINT; resolves with the exit code. */
export async function runInjector(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    process.stderr.write(`sentinel injector: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = values.config ?? process.env['SENTINEL_CONFIG'];
  const config = loadConfig(injectorConfigSchema, { file, env: process.env });
  const logger = createLogger(config.log.level, 'sentinel-injector');
  const metrics = new Metrics({ processMetrics: true });
  // Handlers first: a SIGTERM that lands between "listening" and the handler would kill us without a drain.
  const signal = waitForSignal();
  const injector = await startInjector(config, { logger, metrics });
  logger.info(
    { listen: config.listen, admin: config.admin.endpoint, version: SENTINEL_VERSION },
    'injector listening',
  );
  logger.info({ signal: await signal }, 'shutting down');
  // Keep answering while the endpoints controller removes this replica; a review sent to a closed port would
  // be let through without the agent (failurePolicy: Ignore).
  injector.webhook.beginDrain();
  await delay(Math.min(config.shutdown_delay, config.shutdown_timeout));
  await injector.close(config.shutdown_timeout);
  return 0;
}

/** A running injector: the webhook and the admin server. */
export interface RunningInjector {
  readonly webhook: WebhookServer;
  readonly webhookPort: number;
  readonly adminPort: number;
  close(timeoutMs?: number): Promise<void>;
}

/** Starts the webhook and the admin server from a config; used by the CLI and by tests. */
export async function startInjector(
  config: InjectorConfig,
  deps: { logger: Logger; metrics: Metrics; env?: NodeJS.ProcessEnv },
): Promise<RunningInjector> {
  const webhook = new WebhookServer({
    listen: config.listen,
    certFile: config.tls.cert_file,
    keyFile: config.tls.key_file,
    maxRequestBytes: config.max_request_bytes,
    mutate: mutateOptionsFrom(config, deps.env),
    logger: deps.logger,
    metrics: deps.metrics,
  });
  const webhookPort = await webhook.start();
  const admin = new AdminServer({
    endpoint: config.admin.endpoint,
    metrics: deps.metrics,
    logger: deps.logger,
    isReady: () => webhook.isReady(),
  });
  let adminPort: number;
  try {
    adminPort = await admin.start();
  } catch (err) {
    await webhook.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    webhook,
    webhookPort,
    adminPort,
    close(timeoutMs = 20_000) {
      closing ??= (async () => {
        const done = Promise.all([webhook.close(), admin.close()]).then(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
          timer.unref();
        });
        await Promise.race([done, timeout]);
        if (timer) clearTimeout(timer);
      })();
      return closing;
    },
  };
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
