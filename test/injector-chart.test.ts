/**
 * The chart and the injector together, as `helm install` sets them up: the injector runs with the config the
 * chart renders and the certificate the chart generates, is called the way the MutatingWebhookConfiguration
 * says (Service DNS name, caBundle, path), and the pod it patches refers only to objects the chart created in
 * the pod's namespace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fjp from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1/Pod';
import { parse as parseYaml } from 'yaml';
import { injectorConfigSchema, validateConfig } from '../src/config/index.js';
import { AGENT_CONTAINER_NAME, startInjector, type RunningInjector } from '../src/injector/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { helmTemplate } from './helpers/helm-template.js';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  webhooks?: {
    name: string;
    clientConfig: { caBundle: string; service: { name: string; namespace: string; path: string } };
  }[];
}

const dir = mkdtempSync(join(tmpdir(), 'sentinel-chart-injector-'));
let objects: Obj[];
let injector: RunningInjector;

before(async () => {
  objects = helmTemplate<Obj>(['--set', 'agent.namespaces={shop}']);
  const tls = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'sentinel-injector-tls');
  assert.ok(tls?.data);
  // What the kubelet would mount at /tls.
  writeFileSync(join(dir, 'tls.crt'), Buffer.from(tls.data['tls.crt'] ?? '', 'base64'));
  writeFileSync(join(dir, 'tls.key'), Buffer.from(tls.data['tls.key'] ?? '', 'base64'));
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-injector');
  const raw = parseYaml(cm?.data?.['injector.yaml'] ?? '') as Record<string, unknown>;
  // Only the addresses and file paths change: a test cannot bind 8443 or read /tls.
  const config = validateConfig(
    injectorConfigSchema,
    {
      ...raw,
      listen: '127.0.0.1:0',
      admin: { endpoint: '127.0.0.1:0' },
      tls: { cert_file: join(dir, 'tls.crt'), key_file: join(dir, 'tls.key') },
    },
    'chart',
  );
  injector = await startInjector(config, { logger: silentLogger(), metrics: new Metrics(), env: {} });
});

after(async () => {
  await injector?.close(2000);
  rmSync(dir, { recursive: true, force: true });
});

function callWebhook(hook: string, pod: unknown, namespace: string): Promise<{ patch?: string }> {
  const mwc = objects.find((o) => o.kind === 'MutatingWebhookConfiguration');
  const entry = mwc?.webhooks?.find((w) => w.name === hook);
  assert.ok(entry, `webhook ${hook}`);
  const { service, caBundle } = entry.clientConfig;
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace,
      operation: 'CREATE',
      object: pod,
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: injector.webhookPort,
        // The API server verifies the certificate against caBundle for the Service's DNS name.
        servername: `${service.name}.${service.namespace}.svc`,
        ca: Buffer.from(caBundle, 'base64'),
        path: service.path,
        method: 'POST',
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          assert.equal(res.statusCode, 200, text);
          resolve((JSON.parse(text) as { response: { patch?: string } }).response);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

void test('a pod of an opted-in namespace gets an agent that uses only what the chart created there', async () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'checkout-', namespace: 'shop', labels: { app: 'checkout' } },
    spec: { containers: [{ name: 'checkout', image: 'registry.example.com/shop/checkout:1.4.2' }] },
  };
  const response = await callWebhook('namespace.inject.sentinel.dev', pod, 'shop');
  const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as fjp.Operation[];
  const patched = fjp.applyPatch(structuredClone(pod), patch, true, false).newDocument as unknown as {
    spec: {
      initContainers: {
        name: string;
        image: string;
        resources: { limits?: Record<string, string> };
        volumeMounts: { name: string; mountPath: string }[];
      }[];
      volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
    };
  };
  new Pod(patched as never).validate();
  const agent = patched.spec.initContainers.find((c) => c.name === AGENT_CONTAINER_NAME);
  assert.equal(agent?.image, 'ghcr.io/sentinel/sentinel:0.1.0');
  const inShop = (kind: string, name: string) =>
    objects.some((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === 'shop');
  const configMap = patched.spec.volumes.find((v) => v.configMap)?.configMap?.name;
  const secret = patched.spec.volumes.find((v) => v.secret)?.secret?.secretName;
  assert.ok(configMap && inShop('ConfigMap', configMap), `ConfigMap ${configMap} exists in shop`);
  assert.ok(secret && inShop('Secret', secret), `Secret ${secret} exists in shop`);
  // Completion is on by default: the limit holds agent.resources' 256Mi plus the 32MiB completion buffer, and
  // the token the feed client reads (sampling.completion.bearer_token_file) is where the Secret is mounted.
  assert.equal(agent?.resources.limits?.['memory'], '288Mi');
  const tokenVolume = patched.spec.volumes.find((v) => v.secret)?.name;
  const tokenMount = agent?.volumeMounts.find((m) => m.name === tokenVolume)?.mountPath;
  const agentMap = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === configMap && o.metadata.namespace === 'shop',
  );
  const agentYaml = parseYaml(agentMap?.data?.['agent.yaml'] ?? '') as {
    sampling: { completion: { bearer_token_file: string } };
  };
  assert.equal(agentYaml.sampling.completion.bearer_token_file, `${tokenMount}/token`);
});

void test('the pod-level webhook leaves a pod without the annotation alone', async () => {
  const pod = {
    metadata: { name: 'cron', namespace: 'batch' },
    spec: { containers: [{ name: 'job', image: 'busybox' }] },
  };
  const response = await callWebhook('pod.inject.sentinel.dev', pod, 'batch');
  assert.equal(response.patch, undefined);
});

void test("the agent's own CLI accepts the chart's agent.yaml and policy (sentinel agent --print-config)", () => {
  const cm = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-agent' && o.metadata.namespace === 'shop',
  );
  assert.ok(cm?.data);
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, cm.data['agent.yaml'] ?? '');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'agent', '--config', file, '--print-config'],
    {
      encoding: 'utf8',
      env: { ...process.env, SENTINEL_CONFIG: '' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /policy_file/);
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, cm.data['policy.yaml'] ?? '');
  const check = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'policy', 'check', policy], {
    encoding: 'utf8',
  });
  assert.equal(check.status, 0, check.stdout + check.stderr);
});
