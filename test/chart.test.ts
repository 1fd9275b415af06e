import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import * as config from '../src/config/index.js';
import { agentConfigSchema, injectorConfigSchema, validateConfig } from '../src/config/index.js';
import { agentSignals } from '../src/injector/agent-signals.js';
import { AGENT_PATHS } from '../src/injector/names.js';
import { parseQuantity } from '../src/injector/quantity.js';
import { runHelm } from '../scripts/helm.js';
import { MANIFEST_PATH, manifestText, renderDefault, RELEASE } from '../scripts/helm-manifests.js';
import { query, runSuiteFile, suiteFiles, SUPPORTED_ASSERTIONS } from '../scripts/helm-unittest.js';
import { helmTemplate } from './helpers/helm-template.js';

const CHART = 'charts/sentinel';
const VALUE_SETS: Record<string, string | undefined> = {
  default: undefined,
  'cert-manager': `${CHART}/ci/cert-manager-values.yaml`,
  irsa: `${CHART}/ci/irsa-values.yaml`,
  'store disabled': `${CHART}/ci/store-disabled-values.yaml`,
  'store TLS': `${CHART}/ci/store-tls-values.yaml`,
  'store replicas': `${CHART}/ci/store-replicas-values.yaml`,
  gitops: `${CHART}/ci/gitops-values.yaml`,
};

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
} & Record<string, unknown>;

function renderChart(valuesFile: string | undefined): K8sObject[] {
  return helmTemplate<K8sObject>(valuesFile ? ['--values', valuesFile] : [], {
    release: RELEASE.name,
    chart: CHART,
    namespace: RELEASE.namespace,
  });
}

/** The injector config the chart renders. */
function injectorYaml(objects: K8sObject[], name: string) {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-injector');
  return validateConfig(injectorConfigSchema(), parseYaml(cm?.data?.['injector.yaml'] ?? ''), name);
}

/** The agent config template the injector renders into every injected pod, as the agent reads it. */
function agentTemplate(objects: K8sObject[], name: string) {
  return validateConfig(
    agentConfigSchema(),
    injectorYaml(objects, name).agent.config,
    `${name} agent.config`,
  );
}

/** The `tls.ca_file` of each OTLP exporter of the agent config that sets one. */
function agentExporterCaFiles(objects: K8sObject[], name: string): string[] {
  return agentTemplate(objects, name).exporters.flatMap((e) =>
    e.type === 'otlp' && e.tls.ca_file ? [e.tls.ca_file] : [],
  );
}

function store(objects: K8sObject[]): K8sObject | undefined {
  return objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'sentinel-store');
}

/** Validates one object with its kubernetes-models class (the Kubernetes OpenAPI schema). */
async function validateObject(obj: K8sObject): Promise<void> {
  const group = obj.apiVersion.includes('/') ? obj.apiVersion : `v1`;
  if (obj.apiVersion.startsWith('cert-manager.io/') || obj.apiVersion.startsWith('monitoring.coreos.com/')) {
    validateCustomResource(obj);
    return;
  }
  const mod = (await import(`kubernetes-models/${group}/${obj.kind}`)) as Record<
    string,
    new (o: unknown) => { validate(): void }
  >;
  const Model = mod[obj.kind];
  assert.ok(Model, `no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

/**
 * cert-manager and Prometheus Operator kinds are CRDs that kubernetes-models does not carry; check the fields
 * their controllers require.
 */
function validateCustomResource(obj: K8sObject): void {
  const spec = obj['spec'] as Record<string, unknown> | undefined;
  assert.ok(spec, `${obj.kind} has a spec`);
  switch (obj.kind) {
    case 'Certificate':
      assert.equal(typeof spec['secretName'], 'string');
      assert.ok(Array.isArray(spec['dnsNames']) && spec['dnsNames'].every((n) => typeof n === 'string'));
      assert.equal(typeof (spec['issuerRef'] as { name?: unknown }).name, 'string');
      assert.match(String(spec['duration']), /^\d+h$/);
      break;
    case 'Issuer':
      assert.ok(spec['selfSigned'] || spec['ca'] || spec['acme']);
      break;
    case 'ServiceMonitor':
      assert.ok((spec['selector'] as Record<string, unknown>)['matchLabels']);
      assert.ok((spec['endpoints'] as { port?: string }[]).every((e) => typeof e.port === 'string'));
      break;
    default:
      assert.fail(`unexpected custom resource ${obj.apiVersion} ${obj.kind}`);
  }
}

describe('helm lint', () => {
  for (const [name, file] of Object.entries(VALUE_SETS)) {
    void test(`is clean with the ${name} values`, () => {
      const args = ['lint', CHART, '--strict'];
      if (file) args.push('--values', file);
      const r = runHelm(args);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
    });
  }
});

describe('the rendered chart', () => {
  for (const [name, file] of Object.entries(VALUE_SETS)) {
    void test(`is valid against the Kubernetes schema with the ${name} values`, async () => {
      const objects = renderChart(file);
      assert.ok(objects.length >= 8);
      for (const obj of objects) {
        await assert.doesNotReject(validateObject(obj), `${obj.kind} ${obj.metadata.name}`);
      }
      // No two objects share kind, namespace and name.
      const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      assert.equal(new Set(keys).size, keys.length);
    });

    void test(`ships an agent config template the agent accepts, with the injector's paths (${name} values)`, () => {
      const objects = renderChart(file);
      // Nothing for app namespaces: every object is in the release namespace or cluster-scoped.
      for (const o of objects) {
        const ns = o.metadata.namespace;
        assert.ok(ns === undefined || ns === RELEASE.namespace, `${o.kind} ${o.metadata.name} in ${ns}`);
      }
      const agent = agentTemplate(objects, name);
      assert.equal(agent.sampling.policy_file, '', 'the cluster policy comes from the store, not a file');
      assert.equal(agent.enrich.podinfo_dir, AGENT_PATHS.podinfoDir);
      assert.equal(
        agent.admin.endpoint,
        '0.0.0.0:8888',
        'the kubelet probes the admin port from outside the pod',
      );
      for (const e of agent.exporters) {
        assert.equal(e.type, 'otlp');
        if (e.type !== 'otlp') continue;
        assert.ok(e.queue.dir.startsWith(AGENT_PATHS.queueDir + '/'), 'the queue lives on the emptyDir');
        if (e.bearer_token_file) assert.equal(e.bearer_token_file, AGENT_PATHS.tokenFile);
      }
      const policyMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-policy');
      const policy = parseYaml(policyMap?.data?.['policy.yaml'] ?? '') as {
        policies: Record<string, unknown>[];
      };
      assert.ok(policy.policies.length >= 1);
      for (const p of policy.policies) {
        assert.equal(typeof p['name'], 'string');
        // Collector tail_sampling syntax: each policy carries the block named after its type.
        assert.ok(p[p['type'] as string], `policy ${String(p['name'])} has its ${String(p['type'])} block`);
      }
      const types = policy.policies.map((p) => p['type']);
      assert.ok(
        types.includes('status_code') && types.includes('latency') && types.includes('probabilistic'),
      );
    });

    void test(`ships an injector config the injector accepts (${name} values)`, () => {
      const objects = renderChart(file);
      const injector = injectorYaml(objects, name);
      assert.equal(injector.namespace, RELEASE.namespace);
      // The agent's queue fits in the emptyDir the injector sizes; a fuller one would get the pod evicted.
      const emptyDirBytes = parseQuantity(injector.agent.queue_size_limit) ?? 0;
      for (const e of agentTemplate(objects, name).exporters)
        assert.ok(e.queue.max_bytes < emptyDirBytes, `${e.queue.max_bytes} < ${emptyDirBytes}`);
      // The projected token's audience is the one the store's TokenReview asks for.
      const storeMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-store');
      if (storeMap) {
        const storeYaml = parseYaml(storeMap.data?.['store.yaml'] ?? '') as {
          auth: { token_review: { enabled: boolean; audience: string } };
        };
        assert.equal(storeYaml.auth.token_review.audience, injector.agent.token_audience);
      }
      // The injector reads the cluster policy where its Deployment mounts the policy ConfigMap.
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === 'sentinel-injector',
      );
      const mounts = query(deployment, 'spec.template.spec.containers[0].volumeMounts')[0] as {
        name: string;
        mountPath: string;
      }[];
      const policyMount = mounts.find((m) => injector.policy_file.startsWith(`${m.mountPath}/`));
      const policyVolume = (
        query(deployment, 'spec.template.spec.volumes')[0] as Record<string, unknown>[]
      ).find((v) => v['name'] === policyMount?.name) as { configMap?: { name: string } } | undefined;
      assert.equal(policyVolume?.configMap?.name, 'sentinel-policy');
    });
  }

  for (const [name, file] of Object.entries(VALUE_SETS)) {
    void test(`wires the decision feed between agents and every store replica, or leaves it off without a store (${name} values)`, () => {
      const objects = renderChart(file);
      const storeSet = store(objects);
      const storeOn = storeSet !== undefined;
      const injector = injectorYaml(objects, name);
      const limit = parseQuantity(injector.agent.resources.limits.memory ?? '') ?? 0;
      const chartDefaults = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
        agent: { resources: { limits: { memory: string } } };
      };
      const baseLimit = parseQuantity(chartDefaults.agent.resources.limits.memory) ?? 0;
      {
        const { completion } = agentTemplate(objects, name).sampling;
        if (!storeOn) {
          assert.equal(completion.enabled, false, 'no store, no feed to poll');
          assert.equal(limit, baseLimit, 'the memory limit is not raised for a buffer that is off');
          return;
        }
        assert.equal(completion.enabled, true);
        // The agent resolves the headless Service: one address per ready store pod, port 3200 (query).
        const storeYaml = parseYaml(
          objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-store')?.data?.[
            'store.yaml'
          ] ?? '',
        ) as { tls: { cert_file: string; key_file: string } };
        const storeTls = storeYaml.tls.cert_file !== '';
        const target = new URL(
          completion.stores_dns.includes('://') ? completion.stores_dns : `http://${completion.stores_dns}`,
        );
        assert.equal(target.protocol, storeTls ? 'https:' : 'http:', 'the scheme follows the store TLS');
        const [svcName, svcNamespace, svc] = target.hostname.split('.');
        assert.equal(svc, 'svc');
        assert.equal(target.port, '3200');
        if (storeTls) {
          // Agents verify the store with the CA the injector puts into their environment (extra_env).
          for (const caFile of [completion.tls.ca_file, ...agentExporterCaFiles(objects, name)]) {
            assert.match(caFile, /^env:/);
            const pem = injector.agent.extra_env.find((e) => `env:${e.name}` === caFile)?.value ?? '';
            assert.ok(new X509Certificate(pem).ca, `${caFile} holds a CA certificate`);
          }
          // The store reads its pair from the Secret mounted where the config says.
          const mounts = query(storeSet, 'spec.template.spec.containers[0].volumeMounts')[0] as {
            name: string;
            mountPath: string;
          }[];
          const tlsMount = mounts.find((m) => storeYaml.tls.cert_file.startsWith(`${m.mountPath}/`));
          const tlsVolume = (
            query(storeSet, 'spec.template.spec.volumes')[0] as Record<string, unknown>[]
          ).find((v) => v['name'] === tlsMount?.name) as
            { secret?: { items: { path: string }[] } } | undefined;
          assert.deepEqual(
            tlsVolume?.secret?.items.map((i) => `${tlsMount?.mountPath}/${i.path}`),
            [storeYaml.tls.cert_file, storeYaml.tls.key_file],
          );
        }
        const headless = objects.find(
          (o) => o.kind === 'Service' && o.metadata.name === svcName && o.metadata.namespace === svcNamespace,
        );
        assert.equal(query(headless, 'spec.clusterIP')[0], 'None');
        assert.deepEqual(query(headless, 'spec.ports[*].port'), [3200]);
        assert.deepEqual(
          query(headless, 'spec.selector')[0],
          query(storeSet, 'spec.selector.matchLabels')[0],
          'the headless Service selects the store pods',
        );
        // The same projected token as the exporter, where the injector mounts it.
        assert.equal(completion.bearer_token_file, AGENT_PATHS.tokenFile);
        assert.ok(injector.agent.token_audience);
        // The held spans are on top of the agent's other memory: the injector's limit grows by max_bytes.
        assert.equal(limit, baseLimit + completion.max_bytes);
        // Injected pods reach the query port as they reach the OTLP ports.
        const policy = objects.find((o) => o.kind === 'NetworkPolicy');
        if (policy) {
          const rules = query(policy, 'spec.ingress')[0] as { from?: unknown[]; ports: { port: number }[] }[];
          const agentsRule = rules.find((r) =>
            JSON.stringify(r.from ?? []).includes('"sentinel.dev/agent":"injected"'),
          );
          assert.deepEqual(agentsRule?.ports.map((p) => p.port).sort(), [3200, 4317, 4318]);
        }
      }
      // The store keeps its feed on the volume that holds its WAL.
      const storeMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-store');
      if (storeMap) {
        const storeYaml = parseYaml(storeMap.data?.['store.yaml'] ?? '') as {
          wal_dir: string;
          decisions: { dir: string };
        };
        const mount = query(
          storeSet,
          'spec.template.spec.containers[0].volumeMounts[?(@.name == "data")].mountPath',
        )[0] as string;
        assert.ok(storeYaml.wal_dir.startsWith(`${mount}/`));
        assert.ok(storeYaml.decisions.dir.startsWith(`${mount}/`));
      }
    });
  }

  for (const [name, file] of Object.entries(VALUE_SETS)) {
    void test(`runs the store as a StatefulSet whose pods the headless Service names, one data volume each, only pod 0 compacting (${name} values)`, () => {
      const objects = renderChart(file);
      const set = store(objects);
      if (!set) {
        assert.equal(
          objects.some((o) => o.metadata.name.startsWith('sentinel-store')),
          false,
          'no store objects without the store',
        );
        return;
      }
      const values = parseYaml(file ? readFileSync(file, 'utf8') : '{}') as {
        store?: { replicas?: number; persistence?: { enabled?: boolean } };
      };
      const replicas = values.store?.replicas ?? 1;
      const persistence = values.store?.persistence?.enabled ?? false;
      assert.equal(query(set, 'spec.replicas')[0], replicas);
      assert.equal(query(set, 'spec.podManagementPolicy')[0], 'Parallel');
      // Pods get <set>-<ordinal>.<serviceName>: the governing Service must exist, be headless and select them.
      const headless = objects.find(
        (o) => o.kind === 'Service' && o.metadata.name === query(set, 'spec.serviceName')[0],
      );
      assert.ok(headless, 'spec.serviceName names a Service of the chart');
      assert.equal(headless.metadata.namespace, set.metadata.namespace);
      assert.equal(query(headless, 'spec.clusterIP')[0], 'None');
      const selector = query(headless, 'spec.selector')[0] as Record<string, string>;
      assert.deepEqual(selector, query(set, 'spec.selector.matchLabels')[0]);
      const podLabels = query(set, 'spec.template.metadata.labels')[0] as Record<string, string>;
      for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `pod label ${k}`);
      // The agents' stores_dns is that same Service.
      const agent = agentTemplate(objects, name);
      if (agent.sampling.completion.enabled) {
        assert.ok(
          agent.sampling.completion.stores_dns.includes(`//${headless.metadata.name}.`) ||
            agent.sampling.completion.stores_dns.startsWith(`${headless.metadata.name}.`),
        );
      }
      // One data volume per replica: a claim template with persistence, an emptyDir otherwise; never a shared PVC.
      assert.equal(
        objects.some((o) => o.kind === 'PersistentVolumeClaim'),
        false,
      );
      const volumes = query(set, 'spec.template.spec.volumes')[0] as { name: string; emptyDir?: unknown }[];
      const templates = (query(set, 'spec.volumeClaimTemplates')[0] ?? []) as {
        metadata: { name: string };
      }[];
      if (persistence) {
        assert.deepEqual(
          templates.map((t) => t.metadata.name),
          ['data'],
        );
        assert.equal(
          volumes.some((v) => v.name === 'data'),
          false,
        );
      } else {
        assert.deepEqual(templates, []);
        assert.deepEqual(volumes.find((v) => v.name === 'data')?.emptyDir, {});
      }
      // Compaction runs in pod 0 only: the store compares compaction.leader with POD_NAME from the Downward API.
      const storeMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-store');
      const storeYaml = parseYaml(storeMap?.data?.['store.yaml'] ?? '') as { compaction: { leader: string } };
      assert.equal(storeYaml.compaction.leader, `${set.metadata.name}-0`);
      const env = query(set, 'spec.template.spec.containers[0].env')[0] as {
        name: string;
        valueFrom?: { fieldRef?: { fieldPath: string } };
      }[];
      assert.equal(env.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
      // Several replicas share block storage, and get a PDB that lets one go at a time.
      const pdb = objects.find(
        (o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'sentinel-store',
      );
      if (replicas > 1) {
        assert.match(
          String(
            (parseYaml(storeMap?.data?.['store.yaml'] ?? '') as { storage: { url: string } }).storage.url,
          ),
          /^s3:\/\//,
        );
        assert.deepEqual(
          query(pdb, 'spec.selector.matchLabels')[0],
          query(set, 'spec.selector.matchLabels')[0],
        );
      } else {
        assert.equal(pdb, undefined);
      }
    });
  }

  const storeSchemaFactory = (config as Record<string, unknown>)['storeConfigSchema'] as
    (() => z.ZodType) | undefined;
  const storeSchema = storeSchemaFactory?.();
  void test(
    'ships a store config the store accepts',
    { skip: storeSchema ? false : 'src/config does not export storeConfigSchema yet' },
    () => {
      let validated = 0;
      for (const [name, file] of Object.entries(VALUE_SETS)) {
        const objects = renderChart(file);
        const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-store');
        const store = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'sentinel-store');
        // Only the set that turns the store off may render no store config, and then no store at all.
        assert.equal(cm === undefined, name === 'store disabled', `${name}: the store's ConfigMap`);
        assert.equal(
          store === undefined,
          cm === undefined,
          `${name}: a store StatefulSet without its config`,
        );
        if (!cm) continue;
        validated++;
        validateConfig(
          storeSchema as z.ZodType,
          parseYaml(cm.data?.['store.yaml'] ?? ''),
          `${name} store.yaml`,
        );
      }
      assert.equal(validated, Object.keys(VALUE_SETS).length - 1);
    },
  );
});

describe('which signal goes where (issue 16)', () => {
  void test('by default the agent sends traces and logs to the store and takes no metrics', () => {
    const objects = renderChart(undefined);
    const template = injectorYaml(objects, 'default').agent.config;
    assert.deepEqual(
      agentTemplate(objects, 'default').exporters.map((e) => e.signals),
      [['traces', 'logs']],
    );
    assert.deepEqual([...agentSignals(template)].sort(), ['logs', 'traces']);
  });

  void test('agent.metricsEndpoint adds a metrics exporter, so the agent takes all three signals', () => {
    const objects = helmTemplate<K8sObject>(
      ['--set', 'agent.metricsEndpoint=http://otel-collector.observability:4317'],
      { release: RELEASE.name, chart: CHART, namespace: RELEASE.namespace },
    );
    const exporters = agentTemplate(objects, 'metrics').exporters;
    assert.deepEqual(
      exporters.map((e) => [e.name ?? '', e.signals, e.type === 'otlp' ? e.endpoint : '', e.queue.max_bytes]),
      [
        ['', ['traces', 'logs'], 'http://sentinel-store.sentinel.svc.cluster.local.:4318', 153 * 1024 * 1024],
        ['metrics', ['metrics'], 'http://otel-collector.observability:4317', 51 * 1024 * 1024],
      ],
    );
    assert.deepEqual([...agentSignals(injectorYaml(objects, 'metrics').agent.config)].sort(), [
      'logs',
      'metrics',
      'traces',
    ]);
  });
});

describe('GitOps (Argo CD renders with helm template on every sync)', () => {
  const render = (args: string[]) => {
    const r = runHelm(['template', RELEASE.name, CHART, '--namespace', RELEASE.namespace, ...args]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const cases: Record<string, string[]> = {
    'existing Secrets': ['--values', `${CHART}/ci/gitops-values.yaml`],
    'cert-manager and an existing reader Secret': [
      '--values',
      `${CHART}/ci/cert-manager-values.yaml`,
      '--set',
      'store.auth.existingSecret=sentinel-reader',
    ],
  };
  for (const [name, args] of Object.entries(cases)) {
    void test(`renders the same twice with ${name}: nothing generated, no diff to sync`, () => {
      const first = render(args);
      assert.equal(render(args), first);
      assert.doesNotMatch(first, /BEGIN (RSA |EC )?PRIVATE KEY|tls\.key:/);
    });
  }

  void test('the defaults generate a new CA on every render, which is why the README points Argo CD users here', () => {
    assert.notEqual(render([]), render([]));
  });
});

describe('helm-unittest suites', () => {
  const files = suiteFiles(CHART);
  void test('cover every template of the chart', () => {
    const templates = readdirSync(join(CHART, 'templates')).filter((f) => !f.startsWith('_'));
    const covered = new Set(
      files.flatMap((f) =>
        ((parseYaml(readFileSync(f, 'utf8')) as { templates?: string[] }).templates ?? []).map((t) =>
          basename(t),
        ),
      ),
    );
    for (const t of templates) assert.ok(covered.has(t), `no suite for templates/${t}`);
  });

  for (const file of files) {
    void test(`${basename(file)}`, async (t) => {
      const results = runSuiteFile(CHART, file);
      assert.ok(results.length > 0);
      for (const r of results) {
        await t.test(r.it, () => assert.deepEqual(r.failures, []));
      }
    });
  }
});

describe('the helm-unittest runner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-suites-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('reports a failing assertion and an unsupported assertion type instead of passing', () => {
    const suite = join(dir, 'bad_test.yaml');
    writeFileSync(
      suite,
      [
        'suite: deliberately wrong',
        'templates: [templates/injector-service.yaml]',
        'tests:',
        '  - it: expects the wrong port',
        '    asserts:',
        '      - equal: { path: "spec.ports[0].port", value: 444 }',
        '      - isKind: { of: Service }',
        '  - it: uses an assertion this runner does not know',
        '    asserts:',
        '      - matchSnapshot: {}',
      ].join('\n'),
    );
    const results = runSuiteFile(CHART, suite);
    assert.equal(results.length, 2);
    assert.equal(results[0]?.failures.length, 1);
    assert.match(results[0]?.failures[0] ?? '', /expected 444, got 443/);
    assert.match(results[1]?.failures[0] ?? '', /not supported/);
    assert.ok(!(SUPPORTED_ASSERTIONS as readonly string[]).includes('matchSnapshot'));
  });

  void test('reads helm-unittest paths: keys with dots, indexes and filters', () => {
    const doc = {
      metadata: { annotations: { 'a.b/c': 'x' } },
      list: [
        { name: 'p', v: 1 },
        { name: 'q', v: 2 },
      ],
    };
    assert.deepEqual(query(doc, 'metadata.annotations["a.b/c"]'), ['x']);
    assert.deepEqual(query(doc, 'list[1].v'), [2]);
    assert.deepEqual(query(doc, 'list[?(@.name == "q")].v'), [2]);
    assert.deepEqual(query(doc, 'list[*].name'), ['p', 'q']);
    assert.deepEqual(query(doc, 'missing.path'), []);
  });

  void test('the README lists every assertion type the runner supports', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    for (const a of SUPPORTED_ASSERTIONS) assert.ok(readme.includes(`\`${a}\``), `README misses ${a}`);
  });
});

describe('manifests/', () => {
  void test('holds the chart rendered with its default values (run scripts/helm-manifests.ts after a chart change)', () => {
    assert.equal(readFileSync(MANIFEST_PATH, 'utf8'), manifestText(renderDefault()));
  });

  void test('examples are valid Kubernetes objects that opt in to injection', async () => {
    const dir = 'manifests/examples';
    const objects = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as K8sObject))
      .filter(Boolean);
    for (const obj of objects) await validateObject(obj);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const variants = deployments.map((d) => query(d, 'spec.template.metadata.labels.track')[0]);
    assert.deepEqual(new Set(variants), new Set(['canary', 'baseline']));
    for (const d of deployments) {
      // The label, which the webhook's objectSelector matches (an annotation cannot be selected).
      assert.equal(query(d, 'spec.template.metadata.labels["sidecar.sentinel.dev/inject"]')[0], 'true');
    }
  });
});
