/**
 * Issue 9 as the chart wires it: a store started from the chart's store.yaml and two agents' decision-feed
 * clients built from the agent config template in the chart's injector.yaml (what the injector renders into an
 * app pod), each reading the files the chart and the kubelet would put at those paths: the agents their
 * projected ServiceAccount token, which the store checks with a TokenReview endpoint standing in for the API
 * server (issue 14). Only listen addresses and directories change (a test cannot bind 3200 or write /var/lib),
 * and DNS: the headless Service's name and the Service's resolve to 127.0.0.1. With store TLS, an agent's
 * exporter and policy fetch are built from the same template too.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { agentConfigSchema, validateConfig, type AgentConfig } from '../src/config/index.js';
import { AGENT_PATHS } from '../src/injector/names.js';
import { DecisionFeedClient } from '../src/decision-feed/feed-client.js';
import { parseDnsTarget } from '../src/http/replicas.js';
import { createExporter } from '../src/export/create-exporters.js';
import { SUCCESS } from '../src/export/span-exporter.js';
import { CentralPolicySource } from '../src/sampling/central-policy-source.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { projectedToken, startFakeTokenReview } from './helpers/fake-token-review.js';
import { startChartStore } from './helpers/chart-store.js';
import { fakeDns } from './helpers/fake-dns.js';
import { makeCertificates } from './helpers/helm-certs.js';
import { helmTemplate } from './helpers/helm-template.js';
import { makeTraces } from './helpers/store-spans.js';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

const root = mkdtempSync(join(tmpdir(), 'sentinel-chart-feed-'));
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

// Absolute (trailing dot): resolved without the pod's DNS search list.
const HEADLESS = 'sentinel-store-headless.sentinel.svc.cluster.local.';
// The store's ClusterIP Service, where agents export and fetch the policy; absolute too.
const SERVICE = 'sentinel-store.sentinel.svc.cluster.local.';

/** Renders the chart; `at(path)` is where a file the chart names lives in this test's file system. */
function renderChart(dir: string, args: string[]): { objects: Obj[]; at: (path: string) => string } {
  const objects = helmTemplate<Obj>(args);
  return { objects, at: (path: string) => join(dir, 'fs', path) };
}

function put(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

function find(objects: Obj[], kind: string, name: string, namespace: string): Obj {
  const o = objects.find(
    (x) => x.kind === kind && x.metadata.name === name && x.metadata.namespace === namespace,
  );
  assert.ok(o, `${kind} ${namespace}/${name}`);
  return o;
}

interface Wired {
  /** A new agent's feed client, built from the chart's agent config. */
  agent: (pod: string) => { c: DecisionFeedClient; received: string[]; metrics: Metrics };
  /** The agent config the injector renders (the chart's template, validated). */
  config: AgentConfig;
  store: Awaited<ReturnType<typeof startChartStore>>;
  /** Where a file the chart names lives in this test's file system. */
  at: (path: string) => string;
}

/**
 * Starts the store from the chart's store.yaml (its key pair and token placed where the chart mounts them) and
 * returns a factory of agents' feed clients built from the chart's agent.yaml in namespace shop.
 */
async function wire(
  name: string,
  args: string[],
  secrets: { cert?: string; key?: string } = {},
): Promise<Wired> {
  const dir = join(root, name);
  const { objects, at } = renderChart(dir, args);
  // The API server's TokenReview is a stand-in that knows each agent pod's projected token (audience sentinel).
  mkdirSync(dir, { recursive: true });
  const review = await startFakeTokenReview(dir);
  cleanups.push(() => review.close());
  const h = await startChartStore(objects, dir, {
    kubeconfig: review.kubeconfig,
    ...(secrets.cert && secrets.key ? { tls: { cert: secrets.cert, key: secrets.key } } : {}),
  });
  cleanups.push(() => h.dispose());

  // What an agent in shop gets: its config from the injector's template, its projected token from the kubelet,
  // the store's CA (with store TLS) in the environment variable the injector sets from extra_env.
  const injectorYaml = parseYaml(
    find(objects, 'ConfigMap', 'sentinel-injector', 'sentinel').data?.['injector.yaml'] ?? '',
  ) as { agent: { config: unknown; extra_env: { name: string; value: string }[] } };
  for (const e of injectorYaml.agent.extra_env) process.env[e.name] = e.value;
  const projected = projectedToken(`shop:${name}`, 'sentinel', Math.floor(Date.now() / 1000) + 3600);
  review.tokens.set(projected, { username: 'system:serviceaccount:shop:default', audiences: ['sentinel'] });
  put(at(AGENT_PATHS.tokenFile), projected);
  const config = validateConfig(agentConfigSchema(), injectorYaml.agent.config, name);
  const completion = config.sampling.completion;
  assert.equal(completion.enabled, true);
  const target = parseDnsTarget(completion.stores_dns, 'sampling.completion.stores_dns');
  assert.equal(target.host, HEADLESS);
  assert.equal(target.port, 3200);

  return {
    config,
    store: h,
    at,
    agent: (pod: string) => {
      const received: string[] = [];
      const metrics = new Metrics();
      const c = new DecisionFeedClient({
        stores: completion.stores,
        // The Service port 3200 is the test store's ephemeral query port here.
        storesDns: completion.stores_dns.replace(/:3200$/, `:${h.store.ports.query}`),
        pollIntervalMs: completion.poll_interval,
        podName: pod,
        bearerTokenFile: completion.bearer_token_file && at(completion.bearer_token_file),
        tls: {
          // env:SENTINEL_STORE_CA is read from the environment, not the file system.
          caFile:
            completion.tls.ca_file === '' || completion.tls.ca_file.startsWith('env:')
              ? completion.tls.ca_file
              : at(completion.tls.ca_file),
          insecureSkipVerify: completion.tls.insecure_skip_verify,
        },
        onIds: (ids) => received.push(...ids),
        metrics,
        logger: silentLogger(),
        requestTimeoutMs: 2000,
        // The headless Service, as cluster DNS would answer it for a single replica.
        resolve: (host) =>
          host === HEADLESS ? Promise.resolve(['127.0.0.1']) : Promise.reject(new Error(`NXDOMAIN ${host}`)),
      });
      cleanups.push(() => c.stop());
      return { c, received, metrics };
    },
  };
}

async function feedErrors(metrics: Metrics): Promise<number> {
  const text = await metrics.registry.metrics();
  return [...text.matchAll(/^sentinel_sampling_completion_feed_errors_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

/** One agent's rule-kept id reaches another agent through the store, each starting at the feed's head. */
async function passesAnId(
  agent: (pod: string) => { c: DecisionFeedClient; received: string[]; metrics: Metrics },
): Promise<{ received: string[]; errors: number }> {
  const frontend = agent('frontend-7c9d-aaaaa');
  const payments = agent('payments-5b6f-bbbbb');
  await frontend.c.round();
  await payments.c.round();
  const id = randomBytes(16).toString('hex');
  payments.c.publish(id);
  await payments.c.round();
  await frontend.c.round();
  assert.equal(await feedErrors(payments.metrics), 0, 'payments published without an error');
  return { received: frontend.received.filter((x) => x === id), errors: await feedErrors(frontend.metrics) };
}

/** The chart with store TLS on, its certificate (from Helm's genCA) naming `certNames`. */
async function wireTls(name: string, certNames: string[]): Promise<Wired & { helmArgs: string[] }> {
  const dir = join(root, `certs-${name}`);
  const { ca, cert, key } = makeCertificates(dir, certNames);
  put(join(dir, 'ca.crt'), ca);
  const helmArgs = [
    '--set',
    'store.tls.enabled=true',
    '--set',
    'store.tls.secretName=sentinel-store-tls',
    '--set-file',
    `store.tls.caCert=${join(dir, 'ca.crt')}`,
  ];
  return { ...(await wire(name, helmArgs, { cert, key })), helmArgs };
}

test("with the chart's defaults, agents share decisions through the store's headless Service with their projected tokens", async () => {
  const { agent } = await wire('plain', []);
  const { received, errors } = await passesAnId(agent);
  assert.equal(received.length, 1);
  assert.equal(errors, 0);
});

test('with store TLS, agents verify the store with the CA the injector puts in their environment, under the headless name', async () => {
  const { agent } = await wireTls('tls', ['sentinel-store.sentinel.svc', HEADLESS]);
  const { received, errors } = await passesAnId(agent);
  assert.equal(received.length, 1);
  assert.equal(errors, 0);
});

test('with store TLS, a certificate that does not name the headless Service fails the feed, counted', async () => {
  const { agent } = await wireTls('tls-short', ['sentinel-store.sentinel.svc']);
  const frontend = agent('frontend-7c9d-aaaaa');
  await frontend.c.round();
  assert.ok((await feedErrors(frontend.metrics)) > 0);
  assert.deepEqual(frontend.received, []);
});

test('with store TLS, agents export to the store and fetch its policy by its absolute name, verifying a certificate that names it without the dot', async () => {
  const { config, store, at } = await wireTls('tls-absolute', [SERVICE.slice(0, -1), HEADLESS.slice(0, -1)]);
  const dns = fakeDns({ [SERVICE]: '127.0.0.1' });
  cleanups.push(() => dns.restore());

  // The exporter, as the chart renders it (OTLP/HTTP to the store); the Service port 4318 is the test store's
  // ephemeral OTLP/HTTP port here. The same exporter switched to gRPC (agent.exporterProtocol: grpc) goes to
  // 4317, the store's gRPC port, over the same TLS.
  const [exporter] = config.exporters;
  assert.ok(exporter?.type === 'otlp');
  assert.equal(exporter.endpoint, `https://${SERVICE}:4318`);
  assert.equal(exporter.protocol, 'http');
  for (const [protocol, port] of [
    ['http', store.store.ports.http],
    ['grpc', store.store.ports.grpc],
  ] as const) {
    const otlp = await createExporter(
      {
        ...exporter,
        protocol,
        endpoint: exporter.endpoint.replace(/:4318$/, `:${port}`),
        bearer_token_file: at(exporter.bearer_token_file),
      },
      0,
      { logger: silentLogger() },
    );
    cleanups.push(() => otlp.shutdown());
    assert.deepEqual(
      await otlp.export(makeTraces({ traces: 1, spansPerTrace: 2, seed: 7 }), 2),
      SUCCESS,
      protocol,
    );
  }

  // The policy fetch, as the chart renders it.
  const central = config.sampling.central_policy;
  assert.equal(central.url, `https://${SERVICE}:3200/api/policy`);
  const source = new CentralPolicySource({
    url: central.url.replace(':3200/', `:${store.store.ports.query}/`),
    pollIntervalMs: 60_000,
    bearerTokenFile: at(central.bearer_token_file),
    caFile: central.tls.ca_file,
    snapshot: config.sampling.policy_snapshot,
    logger: silentLogger(),
    metrics: new Metrics(),
  });
  cleanups.push(() => source.close());
  assert.equal(await source.poll(), 'reloaded');

  assert.ok(dns.asked.length >= 2, `both asked DNS for ${SERVICE}`);
});

interface TestPod {
  kind: string;
  metadata: { name: string };
  spec: {
    containers: Array<{
      command: string[];
      args: string[];
      env?: Array<{ name: string; value?: string }>;
    }>;
  };
}

test("with store TLS, helm test's readiness pod checks the store's query API against the chart's CA", async () => {
  // The store's Service name, and localhost where this test stands in for cluster DNS (see below).
  const { store, helmArgs } = await wireTls('helm-test', ['sentinel-store.sentinel.svc', 'localhost']);
  const pod = helmTemplate<TestPod>(helmArgs).find(
    (o) => o.kind === 'Pod' && o.metadata.name.endsWith('-test-ready'),
  );
  assert.ok(pod, 'helm test renders its pod');
  const [check] = pod.spec.containers;
  assert.ok(check);
  // The injector is not started here: its readiness is a stand-in that answers 200.
  const injector = createHttpServer((_req, res) => res.writeHead(200).end('ok'));
  await new Promise<void>((r) => injector.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => injector.close(() => r())));
  // Cluster DNS and Service ports, standing in: each rendered address to the local one (the store's https
  // name to localhost, which its certificate names too, so that the check is the real certificate check).
  const network: [string, string][] = [
    [
      'http://sentinel-injector.sentinel.svc:8888',
      `http://127.0.0.1:${(injector.address() as AddressInfo).port}`,
    ],
    ['http://sentinel-store.sentinel.svc:8888', `http://127.0.0.1:${store.store.ports.admin}`],
    ['https://sentinel-store.sentinel.svc:3200', `https://localhost:${store.store.ports.query}`],
  ];
  const argv = [...check.command, ...check.args].map((a) =>
    network.reduce((s, [from, to]) => s.split(from).join(to), a),
  );
  assert.equal(argv[0], 'node');
  for (const [from] of network)
    assert.ok(
      check.args.some((a) => a.startsWith(from)),
      `${from} is checked`,
    );
  // Its env as the kubelet sets it (plain values only); nothing of this process's.
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  for (const e of check.env ?? []) {
    assert.ok(e.value !== undefined, `env ${e.name} is a plain value`);
    env[e.name] = e.value;
  }
  const child = spawn(process.execPath, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, out);
  assert.match(out, /^200 https:\/\/localhost:\d+\/api\/status\/buildinfo$/m);
});
