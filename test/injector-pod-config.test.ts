/**
 * Issue 14 in the injector: the agent's config and identity live in the pod spec, native sidecars follow the
 * oldest kubelet, and the app's own OTLP settings (envFrom included) are respected.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fjp from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1/Pod';
import { parse as parseYaml } from 'yaml';
import { injectorConfigSchema, validateConfig } from '../src/config/index.js';
import { readCaFile } from '../src/http/index.js';
import { AgentConfigRenderer } from '../src/injector/agent-config.js';
import { AGENT_CONTAINER_NAME } from '../src/injector/names.js';
import { mutate } from '../src/injector/mutate.js';
import { mutateOptionsFrom, startInjector } from '../src/injector/run-injector.js';
import { NodeVersionWatch, parseKubeletVersion } from '../src/injector/node-versions.js';
import type { JsonPatchOperation } from '../src/injector/pod-patch.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeCertificate } from './fixtures/injector/tls.js';

type AnyRecord = Record<string, unknown>;
type Container = { name: string; env?: { name: string; value?: string }[] } & AnyRecord;

const dir = mkdtempSync(join(tmpdir(), 'sentinel-pod-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(extra: AnyRecord = {}) {
  return validateConfig(
    injectorConfigSchema(),
    { namespace: 'sentinel', ...extra, agent: { image: 'img:1', ...((extra['agent'] as AnyRecord) ?? {}) } },
    'test',
  );
}

function admit(pod: AnyRecord, options = mutateOptionsFrom(config({ agent: { native_sidecar: true } }), {})) {
  const result = mutate(
    {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop',
      operation: 'CREATE',
      object: pod,
    } as never,
    true,
    options,
  );
  const patch = (result.outcome.patch ?? []) as JsonPatchOperation[];
  const patched = fjp.applyPatch(structuredClone(pod), patch as fjp.Operation[], true, false).newDocument;
  new Pod(patched as never).validate();
  const spec = patched['spec'] as { containers: Container[]; initContainers?: Container[] } & AnyRecord;
  const agent = [...spec.containers, ...(spec.initContainers ?? [])].find(
    (c) => c.name === AGENT_CONTAINER_NAME,
  );
  return { result, patched, spec, agent, warnings: result.outcome.warnings ?? [] };
}

const appPod = (container: AnyRecord = {}, spec: AnyRecord = {}): AnyRecord => ({
  metadata: { name: 'checkout', namespace: 'shop' },
  spec: { containers: [{ name: 'checkout', image: 'shop/checkout:1', ...container }], ...spec },
});

describe('the app keeps the OTLP settings it makes itself', () => {
  void test('a container with envFrom gets no endpoint (env would override what the ConfigMap says), with a warning', () => {
    const { spec, warnings } = admit(appPod({ envFrom: [{ configMapRef: { name: 'otel-settings' } }] }));
    assert.equal(spec.containers[0]?.env, undefined);
    assert.ok(
      warnings.some((w) => w.includes('envFrom') && w.includes('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')),
    );
  });

  void test('a grpc protocol gets the gRPC port; a protocol from valueFrom gets nothing and a warning', () => {
    const grpc = admit(appPod({ env: [{ name: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', value: 'grpc' }] }));
    assert.deepEqual(grpc.spec.containers[0]?.env?.[1], {
      name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      value: 'http://localhost:4317',
    });
    const secret = { secretKeyRef: { name: 'x', key: 'protocol' } };
    const from = admit(appPod({ env: [{ name: 'OTEL_EXPORTER_OTLP_PROTOCOL', valueFrom: secret }] }));
    assert.equal(from.spec.containers[0]?.env?.length, 1);
    assert.ok(from.warnings.some((w) => w.includes('valueFrom')));
  });
});

describe('the app is pointed at the agent for the signals it takes (issue 16)', () => {
  const withExporters = (exporters: AnyRecord[]) =>
    mutateOptionsFrom(config({ agent: { native_sidecar: true, config: { exporters } } }), {});
  const envOf = (r: ReturnType<typeof admit>) =>
    Object.fromEntries((r.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

  void test('all three signals: the general endpoint; a storage exporter alone: traces and logs', () => {
    const all = admit(appPod(), withExporters([{ type: 'otlp', endpoint: 'http://collector:4317' }]));
    assert.deepEqual(envOf(all), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    const storage = admit(appPod(), withExporters([{ type: 'storage' }]));
    assert.deepEqual(envOf(storage), {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://localhost:4318/v1/traces',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://localhost:4318/v1/logs',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
    });
  });

  void test('some signals: their own variables only, so the others keep the SDK default', () => {
    const two = admit(
      appPod(),
      withExporters([{ type: 'otlp', endpoint: 'http://store:4317', signals: ['traces', 'logs'] }]),
    );
    assert.deepEqual(envOf(two), {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://localhost:4318/v1/traces',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://localhost:4318/v1/logs',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
    });
  });

  void test("the app's protocol picks the port; its own signal endpoint is kept", () => {
    const options = withExporters([{ type: 'otlp', endpoint: 'http://collector:4317' }]);
    const grpc = admit(appPod({ env: [{ name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'grpc' }] }), options);
    assert.equal(envOf(grpc)['OTEL_EXPORTER_OTLP_ENDPOINT'], 'http://localhost:4317');
    const own = admit(
      appPod({
        env: [
          {
            name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
            value: 'http://prometheus:9090/api/v1/otlp/v1/metrics',
          },
        ],
      }),
      options,
    );
    assert.deepEqual(envOf(own), {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://prometheus:9090/api/v1/otlp/v1/metrics',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://localhost:4318/v1/traces',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://localhost:4318/v1/logs',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
    });
    const mixed = admit(
      appPod({ env: [{ name: 'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL', value: 'grpc' }] }),
      options,
    );
    assert.equal(envOf(mixed)['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'], 'http://localhost:4317');
    assert.equal(envOf(mixed)['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'], 'http://localhost:4318/v1/metrics');
    assert.equal(envOf(mixed)['OTEL_EXPORTER_OTLP_ENDPOINT'], undefined);
  });
});

describe('what the pod needs comes with it', () => {
  void test('imagePullSecrets for a private agent image are added once, beside the pod own', () => {
    const options = mutateOptionsFrom(config({ agent: { image_pull_secrets: ['registry', 'mirror'] } }), {});
    const fresh = admit(appPod(), options);
    assert.deepEqual(fresh.spec['imagePullSecrets'], [{ name: 'registry' }, { name: 'mirror' }]);
    const own = admit(appPod({}, { imagePullSecrets: [{ name: 'mirror' }] }), options);
    assert.deepEqual(own.spec['imagePullSecrets'], [{ name: 'mirror' }, { name: 'registry' }]);
  });

  void test('runAsUser and runAsGroup can be left to the platform (OpenShift restricted SCC)', () => {
    const options = mutateOptionsFrom(config({ agent: { run_as_user: null, run_as_group: null } }), {});
    const { agent } = admit(appPod(), options);
    const sc = agent?.['securityContext'] as AnyRecord;
    assert.equal(sc['runAsNonRoot'], true);
    assert.equal('runAsUser' in sc, false);
    assert.equal('runAsGroup' in sc, false);
  });

  void test('the token audience and lifetime are the config values; no audience, no token volume', () => {
    const custom = admit(
      appPod(),
      mutateOptionsFrom(
        config({ agent: { token_audience: 'sentinel.example', token_expiration_seconds: 900 } }),
        {},
      ),
    );
    const projected = (custom.spec['volumes'] as AnyRecord[]).find((v) => v['projected'])?.['projected'];
    assert.deepEqual(projected, {
      sources: [
        { serviceAccountToken: { audience: 'sentinel.example', expirationSeconds: 900, path: 'token' } },
      ],
    });
    const none = admit(appPod(), mutateOptionsFrom(config({ agent: { token_audience: '' } }), {}));
    assert.equal(
      (none.spec['volumes'] as AnyRecord[]).some((v) => v['projected']),
      false,
    );
  });
});

describe('opting in by pod label', () => {
  void test('the label sidecar.sentinel.dev/inject (what the webhook selects on) opts a pod in or out like the annotation', () => {
    const pod = (labels: Record<string, string>) => ({
      metadata: { name: 'p', namespace: 'shop', labels },
      spec: { containers: [{ name: 'app', image: 'app:1' }] },
    });
    const request = (object: AnyRecord) =>
      ({
        uid: 'u',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'shop',
        operation: 'CREATE',
        object,
      }) as never;
    const options = mutateOptionsFrom(config({ agent: { native_sidecar: true } }), {});
    // Through /mutate (a namespace without the label): the pod label opts in.
    assert.equal(
      mutate(request(pod({ 'sidecar.sentinel.dev/inject': 'true' })), false, options).result,
      'injected',
    );
    assert.equal(mutate(request(pod({})), false, options).result, 'skipped');
    // Through /mutate/namespace: the pod label "false" opts out.
    const out = mutate(request(pod({ 'sidecar.sentinel.dev/inject': 'false' })), true, options);
    assert.equal(out.result, 'skipped');
  });

  void test('agent.extra_env variables reach the agent container after its own', () => {
    const options = mutateOptionsFrom(
      config({ agent: { extra_env: [{ name: 'SENTINEL_STORE_CA', value: '-----BEGIN CERTIFICATE-----' }] } }),
      {},
    );
    const { agent } = admit(appPod(), options);
    const env = agent?.env ?? [];
    assert.equal(env.at(-1)?.name, 'SENTINEL_STORE_CA');
    assert.ok(env.findIndex((e) => e.name === 'SENTINEL_AGENT_CONFIG') < env.length - 1);
  });
});

describe('the cluster policy snapshot', () => {
  void test('each pod gets the policy file current content; the last good one when it cannot be read', () => {
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'policies: [{ name: all, type: always_sample }]\n');
    let failures = 0;
    let now = 0;
    const renderer = new AgentConfigRenderer({
      template: { sampling: { central_policy: { url: 'http://store:3200/api/policy' } } },
      policyFile: file,
      onPolicyReadFailure: () => failures++,
      // The file is looked at once a second at most; each step below moves the clock past that.
      now: () => (now += 1000),
    });
    const snapshotOf = (yaml: string) =>
      ((parseYaml(yaml) as AnyRecord)['sampling'] as AnyRecord)['policy_snapshot'];
    assert.match(String(snapshotOf(renderer.render({ localPolicy: false }))), /always_sample/);
    // A ConfigMap update swaps the file (a new inode): the next pod gets the new content.
    writeFileSync(
      `${file}.new`,
      'policies: [{ name: tenth, type: probabilistic, probabilistic: { sampling_percentage: 10 } }]\n',
    );
    renameSync(`${file}.new`, file);
    assert.match(String(snapshotOf(renderer.render({ localPolicy: false }))), /tenth/);
    rmSync(file);
    assert.match(String(snapshotOf(renderer.render({ localPolicy: false }))), /tenth/);
    assert.equal(failures, 1);
    // A pod with its own policy: the local file, no snapshot, no central fetch.
    const local = parseYaml(renderer.render({ localPolicy: true })) as { sampling: AnyRecord };
    assert.equal(local.sampling['policy_file'], '/etc/sentinel/policy.yaml');
    assert.equal(local.sampling['policy_snapshot'], undefined);
    assert.deepEqual(local.sampling['central_policy'], { url: '' });
  });

  void test('the file is looked at once a second at most, and the YAML is rendered once per policy version', () => {
    const file = join(dir, 'policy-clock.yaml');
    writeFileSync(file, 'policies: [{ name: one, type: always_sample }]\n');
    let now = 0;
    const renderer = new AgentConfigRenderer({
      template: { log: { level: 'info' } },
      policyFile: file,
      now: () => now,
    });
    const first = renderer.render({ localPolicy: false });
    assert.equal(renderer.render({ localPolicy: false }), first, 'the same string, not rendered again');
    writeFileSync(`${file}.new`, 'policies: [{ name: two, type: always_sample }]\n');
    renameSync(`${file}.new`, file);
    now = 999;
    assert.match(renderer.render({ localPolicy: false }), /name: one/, 'within the second: not looked at');
    now = 1000;
    assert.match(renderer.render({ localPolicy: false }), /name: two/);
  });

  void test('the deprecated keys agent.config_map and agent.token_secret are still accepted and change nothing', () => {
    const old = config({ agent: { config_map: 'sentinel-agent', token_secret: 'sentinel-agent-token' } });
    const { spec } = admit(appPod(), mutateOptionsFrom(old, {}));
    const volumes = spec['volumes'] as AnyRecord[];
    assert.equal(
      volumes.some((v) => v['configMap'] || v['secret']),
      false,
    );
  });

  void test('the injector refuses to start with an agent.config template the agent would refuse', async () => {
    const cert = makeCertificate('sentinel-injector.test');
    try {
      const bad = config({
        listen: '127.0.0.1:0',
        admin: { endpoint: '127.0.0.1:0' },
        tls: { cert_file: cert.certFile, key_file: cert.keyFile },
        agent: { config: { exporters: [{ type: 'carrier-pigeon' }] } },
      });
      await assert.rejects(
        startInjector(bad, { logger: silentLogger(), metrics: new Metrics(), env: {} }),
        /injector agent\.config.*\n.*exporters\.0/s,
      );
    } finally {
      rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});

describe('native sidecars from the oldest kubelet (agent.native_sidecar: auto)', () => {
  const watch = (list: () => Promise<string[]>) =>
    new NodeVersionWatch({ list, minimum: [1, 29, 0], ttlMs: 60_000, logger: silentLogger() });

  void test('reads kubelet versions as nodes report them', () => {
    assert.deepEqual(parseKubeletVersion('v1.29.3-eks-5e0fdde'), [1, 29, 3]);
    assert.deepEqual(parseKubeletVersion('v1.33.1+k3s1'), [1, 33, 1]);
    assert.deepEqual(parseKubeletVersion('1.28'), [1, 28, 0]);
    assert.equal(parseKubeletVersion('unknown'), undefined);
  });

  void test('one node older than 1.29 makes every agent a regular container; all newer, native', async () => {
    let versions = ['v1.31.2', 'v1.28.9-gke.100', 'v1.30.0'];
    const w = watch(async () => versions);
    await w.start();
    const options = () => ({
      ...mutateOptionsFrom(config({ agent: { native_sidecar: 'auto' } }), {}),
      nativeSidecar: () => w.choice(),
    });
    try {
      const old = admit(appPod(), options());
      assert.equal(old.spec.initContainers, undefined);
      assert.equal(old.spec.containers.at(-1)?.name, AGENT_CONTAINER_NAME);
      versions = ['v1.31.2', 'v1.29.0', 'v1.30.0'];
      await w.refresh();
      const upgraded = admit(appPod(), options());
      assert.equal(upgraded.agent?.['restartPolicy'], 'Always');
      assert.ok(upgraded.agent?.['startupProbe']);
    } finally {
      w.stop();
    }
  });

  void test('when the nodes cannot be listed: the last answer stays; never listed, a regular container and a warning', async () => {
    let fail = false;
    const w = watch(async () => {
      if (fail) throw new Error('forbidden');
      return ['v1.30.1'];
    });
    await w.start();
    fail = true;
    await w.refresh();
    assert.deepEqual(w.choice(), { native: true });
    w.stop();
    const never = watch(async () => {
      throw new Error('no route to the API server');
    });
    await never.start();
    never.stop();
    const options = {
      ...mutateOptionsFrom(config({ agent: { native_sidecar: 'auto' } }), {}),
      nativeSidecar: () => never.choice(),
    };
    const pod = admit(appPod(), options);
    assert.equal(pod.spec.initContainers, undefined);
    assert.ok(pod.warnings.some((w) => w.includes('could not list the cluster')));
    // A Job cannot take a regular container: skipped, and the warning says why native was off.
    const job = admit(appPod({}, { restartPolicy: 'Never' }), options);
    assert.equal(job.result.result, 'skipped');
    assert.ok(job.warnings.some((w) => w.includes('could not list the cluster')));
  });

  void test('the injector lists nodes at start and counts the lists', async () => {
    const cert = makeCertificate('sentinel-injector.test');
    const metrics = new Metrics();
    const injector = await startInjector(
      config({
        listen: '127.0.0.1:0',
        admin: { endpoint: '127.0.0.1:0' },
        tls: { cert_file: cert.certFile, key_file: cert.keyFile },
        agent: { native_sidecar: 'auto' },
      }),
      { logger: silentLogger(), metrics, env: {}, listNodes: async () => ['v1.29.4', 'v1.32.0'] },
    );
    try {
      const text = await metrics.registry.metrics();
      assert.match(text, /sentinel_injector_node_lists_total\{outcome="ok"\} 1/);
    } finally {
      await injector.close(2000);
      rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});

describe("the store's CA in the agent's environment", () => {
  void test('tls.ca_file env:NAME reads the PEM from the variable, and names it when it is not set', () => {
    process.env['SENTINEL_TEST_CA'] = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    try {
      assert.match(
        String(readCaFile('env:SENTINEL_TEST_CA', 'exporter store: tls.ca_file')),
        /BEGIN CERTIFICATE/,
      );
    } finally {
      delete process.env['SENTINEL_TEST_CA'];
    }
    assert.throws(
      () => readCaFile('env:SENTINEL_TEST_CA', 'exporter store: tls.ca_file'),
      /exporter store: tls\.ca_file env:SENTINEL_TEST_CA: the environment variable is not set/,
    );
  });
});
