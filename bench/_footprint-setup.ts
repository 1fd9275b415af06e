/**
 * The agent as the chart configures it, for the agent benches (bench/agent-idle.ts): `helm template` renders
 * the injector's agent config and the cluster policy; a compiled `sentinel store` child with the chart's store
 * config is started; the agent config is written with what one machine needs replaced (listen addresses, paths
 * in a temp dir, the exporter endpoint, the completion feed's and central policy's URLs: the store child).
 * Used by bench/agent-footprint.ts and bench/agent-idle.ts.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startSentinel, type SentinelChild } from '../test/helpers/child.js';
import { helmTemplate } from '../test/helpers/helm-template.js';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered YAML documents, edited in place
export type Yaml = Record<string, any>;
type K8sObject = { kind: string; metadata: { name: string }; data?: Record<string, string> };

/** `npm run build` (scripts/build.mjs, the bundle): the benches run dist/, as the image does. */
export function buildDist(): void {
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error('scripts/build.mjs failed');
}

/** VmRSS of a process (bytes), from /proc. */
export function procRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** SIGTERM, then SIGKILL when the drain takes longer than `graceMs`. */
export async function stopChild(
  p: { child: ChildProcess; exited: Promise<unknown> } | undefined,
  graceMs = 25_000,
): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

function limitMiB(quantity: string): number {
  const m = /^(\d+)Mi$/.exec(quantity);
  if (!m) throw new Error(`expected the chart's agent memory limit in Mi, got ${quantity}`);
  return Number(m[1]);
}

export interface ChartAgentSetup {
  /** The agent config file (YAML) to pass with --config. */
  agentConfigFile: string;
  /** The pod's identity, as the injector gives it. */
  agentEnv: NodeJS.ProcessEnv;
  /** The NODE_OPTIONS the injector sets for the chart's agent memory limit. */
  nodeOptions: string;
  /** The injector's other process env for the agent (glibc's MALLOC_MMAP_THRESHOLD_), without NODE_OPTIONS. */
  processEnv: NodeJS.ProcessEnv;
  /** The agent config as written (after `editAgentConfig`). */
  agentConfig: Yaml;
  /** The agent container's resources as the injector sets them (completion's bytes in the limit), and the limit. */
  agentResources: { requests: { memory: string }; limits: { memory: string } };
  agentLimitMiB: number;
  /** The store child's pid. */
  storePid: number;
  stop(): Promise<void>;
}

/** Renders the chart, starts the store child and writes the agent's config; `stop()` ends the store. */
export async function chartAgentSetup(
  /** Changes the agent config before it is written (experiments; not the chart's figures). */
  editAgentConfig: (config: Yaml) => void = () => undefined,
): Promise<ChartAgentSetup> {
  const docs = helmTemplate<K8sObject>([]);
  const configMap = (suffix: string) => {
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith(suffix));
    if (!cm?.data) throw new Error(`the chart rendered no ConfigMap named *${suffix}`);
    return cm.data;
  };
  const injector = parse(configMap('-injector')['injector.yaml']!) as {
    agent: { config: Yaml; resources: { requests: { memory: string }; limits: { memory: string } } };
  };
  const policy = configMap('-policy')['policy.yaml']!;
  const sc = parse(configMap('-store')['store.yaml']!) as Yaml;
  const { agentProcessEnv } = await import('../src/injector/node-heap.js');
  const agentLimitMiB = limitMiB(injector.agent.resources.limits.memory);
  const processEnv = Object.fromEntries(
    agentProcessEnv(injector.agent.resources.limits.memory).map((e) => [e.name, e.value]),
  );
  const nodeOptions = processEnv['NODE_OPTIONS'] ?? '';
  delete processEnv['NODE_OPTIONS'];

  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-agent-'));
  for (const d of ['podinfo', 'queue', 'wal', 'data', 'decisions']) mkdirSync(join(dir, d));
  const token = 'bench-token-0123456789abcdefghijklmnopqrstuvwxyz';
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(join(dir, 'reader-token'), `reader-${token}`);
  writeFileSync(
    join(dir, 'podinfo', 'labels'),
    'app.kubernetes.io/name="checkout"\npod-template-hash="7d9f"\n',
  );
  writeFileSync(join(dir, 'podinfo', 'annotations'), '');
  writeFileSync(join(dir, 'policy.yaml'), policy);

  const ports = {
    grpc: await freePort(),
    http: await freePort(),
    query: await freePort(),
    admin: await freePort(),
  };
  sc['admin'].endpoint = `127.0.0.1:${ports.admin}`;
  sc['query'].endpoint = `127.0.0.1:${ports.query}`;
  sc['receivers'].otlp.grpc.endpoint = `127.0.0.1:${ports.grpc}`;
  sc['receivers'].otlp.http.endpoint = `127.0.0.1:${ports.http}`;
  sc['auth'].token_files = [join(dir, 'token')];
  sc['auth'].reader_token_files = [join(dir, 'reader-token')];
  if (sc['auth'].token_review) sc['auth'].token_review.enabled = false; // no Kubernetes API here
  if (sc['policy']) sc['policy'].file = join(dir, 'policy.yaml');
  sc['storage'].url = `file://${join(dir, 'data')}`;
  sc['wal_dir'] = join(dir, 'wal');
  sc['decisions'].dir = join(dir, 'decisions');
  sc['log'] = { level: 'warn' };
  writeFileSync(join(dir, 'store.yaml'), stringify(sc));
  let store: SentinelChild | undefined = startSentinel(
    ['store', '--config', join(dir, 'store.yaml')],
    { POD_NAME: 'sentinel-store-0' },
    [join(ROOT, 'dist', 'cli.js')],
  );
  const stop = async () => {
    await stopChild(store);
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      if (store.child.exitCode !== null) throw new Error('the store exited at start');
      const ok = await fetch(`http://127.0.0.1:${ports.admin}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 600) throw new Error('the store did not become ready');
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const ac = injector.agent.config;
  // The caller's edits first, so that what follows (this machine's addresses and paths) applies to them too: an
  // exporter switched to `protocol: http` is pointed at the store's OTLP/HTTP port.
  editAgentConfig(ac);
  ac['admin'].endpoint = '127.0.0.1:0';
  ac['receivers'].otlp.grpc.endpoint = '127.0.0.1:0';
  ac['receivers'].otlp.http.endpoint = '127.0.0.1:0';
  ac['enrich'] = { ...ac['enrich'], podinfo_dir: join(dir, 'podinfo') };
  for (const e of ac['exporters'] as Yaml[]) {
    // The store child's port for the exporter's protocol (BENCH_AGENT_CONFIG may set `protocol: http`).
    e['endpoint'] = `http://127.0.0.1:${e['protocol'] === 'http' ? ports.http : ports.grpc}`;
    if (e['bearer_token_file']) e['bearer_token_file'] = join(dir, 'token');
    if (e['queue']?.dir) e['queue'].dir = join(dir, 'queue');
  }
  const completion = ac['sampling'].completion as Yaml | undefined;
  if (completion?.enabled) {
    delete completion['stores_dns'];
    completion['stores'] = [`http://127.0.0.1:${ports.query}`];
    if (completion['bearer_token_file']) completion['bearer_token_file'] = join(dir, 'token');
  }
  ac['sampling'].policy_snapshot = policy;
  const central = ac['sampling'].central_policy as Yaml | undefined;
  if (central) {
    central['url'] = `http://127.0.0.1:${ports.query}/api/policy`;
    if (central['bearer_token_file']) central['bearer_token_file'] = join(dir, 'token');
  }
  writeFileSync(join(dir, 'agent.yaml'), stringify(ac));
  return {
    agentConfigFile: join(dir, 'agent.yaml'),
    agentConfig: ac,
    agentResources: injector.agent.resources,
    agentLimitMiB,
    agentEnv: {
      POD_NAME: 'checkout-7d9f-0',
      POD_NAMESPACE: 'shop',
      POD_UID: '00000000-0000-0000-0000-000000000001',
      NODE_NAME: 'node-0',
      POD_IP: '10.0.0.1',
      K8S_CONTAINER_NAME: 'app',
    },
    nodeOptions,
    processEnv,
    storePid: store.child.pid!,
    stop,
  };
}

/**
 * Pins every thread of process `pid` to the CPUs in `cpus` (taskset's list, e.g. "0" or "1-3"); threads it
 * starts later inherit it. Returns false where taskset is missing or refuses.
 */
export function pinToCpus(pid: number, cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}
