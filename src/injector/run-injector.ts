/** `sentinel injector [--config FILE]`: the admission webhook process. */
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import {
  agentConfigSchema,
  injectorConfigSchema,
  loadConfig,
  validateConfig,
  type InjectorConfig,
} from '../config/index.js';
import { AdminServer, createLogger, Metrics, type Logger } from '../telemetry/index.js';
import { SENTINEL_VERSION } from '../version.js';
import { AgentConfigRenderer } from './agent-config.js';
import { agentSignals } from './agent-signals.js';
import type { MutateOptions } from './mutate.js';
import {
  kubernetesNodeLister,
  NodeVersionWatch,
  parseKubeletVersion,
  type NativeSidecarChoice,
  type NodeLister,
} from './node-versions.js';
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
  deps: { nativeSidecar?: () => NativeSidecarChoice; renderer?: AgentConfigRenderer } = {},
): MutateOptions {
  const own = config.namespace || env['POD_NAMESPACE'] || '';
  const excluded = new Set(config.exclude_namespaces);
  excluded.add('kube-system');
  if (own) excluded.add(own);
  const fixed = config.agent.native_sidecar;
  const renderer =
    deps.renderer ??
    new AgentConfigRenderer({ template: config.agent.config, policyFile: config.policy_file });
  return {
    excludedNamespaces: excluded,
    nativeSidecar:
      fixed === 'auto'
        ? (deps.nativeSidecar ?? (() => ({ native: false, warning: 'sentinel: no node information' })))
        : () => ({ native: fixed }),
    agent: {
      image: config.agent.image || DEFAULT_AGENT_IMAGE,
      imagePullPolicy: config.agent.image_pull_policy,
      imagePullSecrets: config.agent.image_pull_secrets,
      extraEnv: config.agent.extra_env,
      renderConfig: (choices) => renderer.render(choices),
      tokenAudience: config.agent.token_audience,
      tokenExpirationSeconds: config.agent.token_expiration_seconds,
      runAsUser: config.agent.run_as_user,
      runAsGroup: config.agent.run_as_group,
      resources: config.agent.resources,
      queueSizeLimit: config.agent.queue_size_limit,
      version: SENTINEL_VERSION,
      signals: agentSignals(config.agent.config),
    },
  };
}

/**
 * Checks that the agent config every pod would get is one the agent accepts (the template with the policy
 * snapshot, and with a local policy), so a bad `agent.config` stops the injector's rollout instead of every
 * injected agent.
 */
export function checkAgentTemplate(renderer: AgentConfigRenderer): void {
  for (const localPolicy of [false, true]) {
    const yaml = renderer.render({ localPolicy });
    validateConfig(
      agentConfigSchema(),
      parseYaml(yaml) ?? {},
      `injector agent.config${localPolicy ? ' (with a pod policy)' : ''}`,
    );
  }
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
  const config = loadConfig(injectorConfigSchema(), { file, env: process.env });
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

type InjectorDeps = { logger: Logger; metrics: Metrics; env?: NodeJS.ProcessEnv; listNodes?: NodeLister };

/** Renders each pod's agent config from `agent.config` and the cluster policy; warns on retired keys. */
function agentConfigRenderer(config: InjectorConfig, deps: InjectorDeps): AgentConfigRenderer {
  const policyReadFailures = deps.metrics.counter(
    'injector_policy_read_failures_total',
    'Reads of the cluster policy file (policy_file) that failed; pods get the last content read',
  );
  const renderer = new AgentConfigRenderer({
    template: config.agent.config,
    policyFile: config.policy_file,
    logger: deps.logger,
    onPolicyReadFailure: () => policyReadFailures.inc(),
  });
  checkAgentTemplate(renderer);
  for (const key of ['config_map', 'token_secret'] as const) {
    if (config.agent[key] !== undefined) {
      deps.logger.warn(
        { key: `agent.${key}` },
        'deprecated injector config key ignored: agents take their config from the pod spec (agent.config) and their identity from a projected token (agent.token_audience)',
      );
    }
  }
  return renderer;
}

/** With `agent.native_sidecar: auto`: the oldest kubelet's version, from the listed Nodes (cached). */
async function startNodeWatch(
  config: InjectorConfig,
  deps: InjectorDeps,
): Promise<NodeVersionWatch | undefined> {
  if (config.agent.native_sidecar !== 'auto') return undefined;
  const nodeLists = deps.metrics.counter(
    'injector_node_lists_total',
    'Lists of the cluster Nodes (for agent.native_sidecar: auto), by outcome',
    ['outcome'],
  );
  const minimum = parseKubeletVersion(config.agent.native_sidecar_min_kubelet) ?? [1, 29, 0];
  const timeoutMs = config.kubernetes_api.timeout;
  let lister = deps.listNodes;
  const nodes = new NodeVersionWatch({
    list: async () => {
      lister ??= await kubernetesNodeLister(config.kubernetes_api.kubeconfig, timeoutMs);
      return lister();
    },
    minimum,
    ttlMs: config.kubernetes_api.node_cache_ttl,
    logger: deps.logger,
    onListResult: (outcome) => nodeLists.inc({ outcome }),
  });
  await nodes.start();
  return nodes;
}

/** Closes the webhook and the admin server, waiting at most `timeoutMs`. */
async function closeWithin(servers: readonly { close(): Promise<void> }[], timeoutMs: number): Promise<void> {
  const done = Promise.all(servers.map((s) => s.close())).then(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  await Promise.race([done, timeout]);
  if (timer) clearTimeout(timer);
}

/** Starts the webhook and the admin server from a config; used by the CLI and by tests. */
export async function startInjector(config: InjectorConfig, deps: InjectorDeps): Promise<RunningInjector> {
  const renderer = agentConfigRenderer(config, deps);
  const nodes = await startNodeWatch(config, deps);
  const webhook = new WebhookServer({
    listen: config.listen,
    certFile: config.tls.cert_file,
    keyFile: config.tls.key_file,
    maxRequestBytes: config.max_request_bytes,
    mutate: mutateOptionsFrom(config, deps.env, {
      renderer,
      ...(nodes ? { nativeSidecar: () => nodes.choice() } : {}),
    }),
    logger: deps.logger,
    metrics: deps.metrics,
  });
  let webhookPort: number;
  try {
    webhookPort = await webhook.start();
  } catch (err) {
    nodes?.stop();
    throw err;
  }
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
    nodes?.stop();
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
        nodes?.stop();
        await closeWithin([webhook, admin], timeoutMs);
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
