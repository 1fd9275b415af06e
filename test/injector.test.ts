import { once } from 'node:events';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import fjp from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1/Pod';
import { parse as parseYaml } from 'yaml';
import { injectorConfigSchema, validateConfig } from '../src/config/index.js';
import {
  AGENT_CONTAINER_NAME,
  ANNOTATION_INJECT,
  ANNOTATION_NATIVE_SIDECAR,
  ANNOTATION_SKIP_REASON,
  ANNOTATION_STATUS,
} from '../src/injector/names.js';
import { decideInjection } from '../src/injector/injection-policy.js';
import { parseQuantity } from '../src/injector/quantity.js';
import { startInjector, type RunningInjector } from '../src/injector/run-injector.js';
import type { JsonPatchOperation } from '../src/injector/pod-patch.js';
import type { PodView } from '../src/injector/pod-view.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { SENTINEL_VERSION } from '../src/version.js';
import { makeCertificate, type TestCertificate } from './fixtures/injector/tls.js';
import { NOT_HTTP, rawExchange } from './helpers/raw-http.js';

const FIXTURES = new URL('./fixtures/injector/', import.meta.url);

interface Fixture {
  file: string;
  description: string;
  path: string;
  namespace: string;
  expect: 'injected' | 'unchanged' | 'skipped';
  pod: Record<string, unknown>;
}

interface Reply {
  status: number;
  body: string;
  fingerprint: string;
}

type AnyRecord = Record<string, unknown>;
type Container = AnyRecord & { name: string; env?: { name: string; value?: string }[] };

const fixtures: Fixture[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({
    file,
    ...(parseYaml(readFileSync(new URL(file, FIXTURES), 'utf8')) as Omit<Fixture, 'file'>),
  }));

/** An agent config template as the chart renders one (the injector refuses one the agent would not accept). */
const AGENT_TEMPLATE = {
  admin: { endpoint: '0.0.0.0:8888' },
  enrich: { podinfo_dir: '/etc/podinfo' },
  exporters: [
    {
      type: 'otlp',
      endpoint: 'http://sentinel-store.sentinel.svc.cluster.local.:4317',
      bearer_token_file: '/var/run/secrets/sentinel/token',
      queue: { dir: '/var/lib/sentinel/queue', max_bytes: '200MiB' },
    },
  ],
};

/** The agent config an agent container carries (SENTINEL_AGENT_CONFIG). */
function agentConfigOf(agent: AnyRecord): AnyRecord {
  const env = agent['env'] as { name: string; value?: string }[];
  return parseYaml(env.find((e) => e.name === 'SENTINEL_AGENT_CONFIG')?.value ?? '') as AnyRecord;
}

let cert: TestCertificate;
let injector: RunningInjector;
let metrics: Metrics;
let uidCounter = 0;

function post(path: string, body: string, ca: Buffer = cert.cert): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: injector.webhookPort,
        path,
        method: 'POST',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint: (res.socket as TLSSocket).getPeerCertificate().fingerprint256,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function get(path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: injector.webhookPort, path, ca: cert.cert, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          fingerprint: '',
        }),
      );
    })
      .on('error', reject)
      .end();
  });
}

function review(pod: unknown, namespace: string, extra: AnyRecord = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${++uidCounter}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      dryRun: false,
      ...extra,
    },
  });
}

interface ReviewResponse {
  uid: string;
  allowed: boolean;
  patchType?: string;
  patch?: string;
  warnings?: string[];
}

async function admit(pod: unknown, namespace: string, path = '/mutate'): Promise<ReviewResponse> {
  const body = review(pod, namespace);
  const reply = await post(path, body);
  assert.equal(reply.status, 200, reply.body);
  const doc = JSON.parse(reply.body) as { apiVersion: string; kind: string; response: ReviewResponse };
  assert.equal(doc.apiVersion, 'admission.k8s.io/v1');
  assert.equal(doc.kind, 'AdmissionReview');
  assert.equal(doc.response.uid, (JSON.parse(body) as { request: { uid: string } }).request.uid);
  assert.equal(doc.response.allowed, true);
  return doc.response;
}

function decodePatch(response: ReviewResponse): JsonPatchOperation[] {
  if (response.patch === undefined) return [];
  assert.equal(response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as JsonPatchOperation[];
}

/** Applies the patch with an independent JSON Patch library, then validates against the Kubernetes schema. */
function applyAndValidate(pod: AnyRecord, patch: JsonPatchOperation[]): AnyRecord {
  const patched = fjp.applyPatch(structuredClone(pod), patch as fjp.Operation[], true, false).newDocument;
  new Pod(patched as never).validate();
  return patched;
}

/** Admits `pod` and applies the patch it gets: the review's response, and the patched pod (validated). */
async function admitAndApply(
  pod: AnyRecord,
  namespace: string,
  path?: string,
): Promise<{ response: ReviewResponse; patched: AnyRecord }> {
  const response = await admit(pod, namespace, path);
  return { response, patched: applyAndValidate(pod, decodePatch(response)) };
}

function spec(pod: AnyRecord): {
  containers: Container[];
  initContainers?: Container[];
  volumes?: AnyRecord[];
} {
  return pod['spec'] as never;
}

function agentsIn(pod: AnyRecord): Container[] {
  const s = spec(pod);
  return [...s.containers, ...(s.initContainers ?? [])].filter((c) => c.name === AGENT_CONTAINER_NAME);
}

function annotationsOf(pod: AnyRecord): Record<string, string> {
  return ((pod['metadata'] as AnyRecord)['annotations'] ?? {}) as Record<string, string>;
}

before(async () => {
  cert = makeCertificate('sentinel-injector.test');
  metrics = new Metrics();
  const config = validateConfig(
    injectorConfigSchema(),
    {
      listen: '127.0.0.1:0',
      admin: { endpoint: '127.0.0.1:0' },
      tls: { cert_file: cert.certFile, key_file: cert.keyFile },
      namespace: 'sentinel',
      max_request_bytes: '256KiB',
      agent: {
        image: 'ghcr.io/sentinel/sentinel:test',
        native_sidecar: true,
        config: AGENT_TEMPLATE,
      },
    },
    'test',
  );
  injector = await startInjector(config, { logger: silentLogger(), metrics, env: {} });
});

after(async () => {
  await injector?.close(2000);
  if (cert) rmSync(cert.dir, { recursive: true, force: true });
});

void describe('pod shapes over real HTTPS', () => {
  void test('the fixtures cover at least ten pod shapes', () => {
    assert.ok(fixtures.length >= 10, `only ${fixtures.length} fixtures`);
    for (const f of fixtures) new Pod(f.pod as never).validate();
  });

  for (const f of fixtures) {
    void test(`${f.description} (${f.file})`, async () => {
      const response = await admit(f.pod, f.namespace, f.path);
      const patch = decodePatch(response);
      const patched = applyAndValidate(f.pod, patch);
      const agents = agentsIn(patched);
      if (f.expect === 'unchanged') {
        assert.deepEqual(patch, [], 'no change expected');
        assert.equal(agentsIn(f.pod).length, agents.length);
        return;
      }
      if (f.expect === 'skipped') {
        assert.equal(agents.length, 0);
        assert.equal(annotationsOf(patched)[ANNOTATION_STATUS], 'skipped');
        assert.ok(annotationsOf(patched)[ANNOTATION_SKIP_REASON], 'the reason is written to an annotation');
        assert.ok(response.warnings?.some((w) => w.includes('not injected')));
        // Only annotations change: nothing under spec.
        assert.ok(patch.every((op) => op.path.startsWith('/metadata/annotations')));
        return;
      }
      assert.equal(agents.length, 1, 'exactly one agent');
      assert.equal(annotationsOf(patched)[ANNOTATION_STATUS], 'injected');
      assert.equal(annotationsOf(patched)['sentinel.dev/injector-version'], SENTINEL_VERSION);
      const labels = ((patched['metadata'] as AnyRecord)['labels'] ?? {}) as Record<string, string>;
      assert.equal(labels['sentinel.dev/agent'], 'injected', 'the NetworkPolicy label is set');
      // Whatever the pod had is still there, unchanged and in place.
      const before = spec(f.pod);
      const now = spec(patched);
      for (const [i, c] of before.containers.entries()) {
        const { env: _oldEnv, ...rest } = c;
        const { env: _newEnv, ...restNow } = now.containers[i] as Container;
        assert.deepEqual(restNow, rest);
      }
      for (const v of before.volumes ?? []) assert.ok(now.volumes?.some((w) => w['name'] === v['name']));
      for (const c of before.initContainers ?? [])
        assert.ok(now.initContainers?.some((d) => d.name === c.name));
      // Every name stays unique (the API server would reject duplicates).
      const volumeNames = (now.volumes ?? []).map((v) => v['name']);
      assert.equal(new Set(volumeNames).size, volumeNames.length);
      for (const c of [...now.containers, ...(now.initContainers ?? [])]) {
        const names = (c.env ?? []).map((e) => e.name);
        assert.equal(new Set(names).size, names.length, `duplicate env in ${c.name}`);
      }
      for (const c of now.containers.filter((x) => x.name !== AGENT_CONTAINER_NAME)) {
        const env = new Map((c.env ?? []).map((e) => [e.name, e.value]));
        assert.ok(
          env.has('OTEL_EXPORTER_OTLP_ENDPOINT') || env.has('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'),
          `${c.name} has an OTLP endpoint`,
        );
      }
    });
  }
});

void describe('what the patch puts into the pod', () => {
  const byFile = (name: string) => fixtures.find((f) => f.file.startsWith(name)) as Fixture;
  /** Fixture 05's pod, opted in by annotation, with `annotations` beside the opt-in. */
  const optedIn05 = (annotations: Record<string, string>): AnyRecord => {
    const pod = structuredClone(byFile('05-').pod) as AnyRecord;
    (pod['metadata'] as AnyRecord)['annotations'] = { 'sidecar.sentinel.dev/inject': 'true', ...annotations };
    return pod;
  };

  void test('the agent is the first init container with restartPolicy Always (a native sidecar)', async () => {
    const f = byFile('03-');
    const { patched } = await admitAndApply(f.pod, f.namespace);
    const init = spec(patched).initContainers ?? [];
    assert.deepEqual(
      init.map((c) => c.name),
      [AGENT_CONTAINER_NAME, 'wait-for-db', 'migrate'],
    );
    assert.equal(init[0]?.['restartPolicy'], 'Always');
    // The kubelet starts the app once the agent answers /readyz: its first spans find the agent listening.
    assert.deepEqual(init[0]?.['startupProbe'], {
      httpGet: { path: '/readyz', port: 8888 },
      periodSeconds: 1,
      failureThreshold: 60,
    });
  });

  void test('the agent is wired as the enrichment expects: Downward API env and volume, config in its env, queue, projected token, probes', async () => {
    const f = byFile('05-');
    const { patched } = await admitAndApply(f.pod, f.namespace, '/mutate/namespace');
    const agent = agentsIn(patched)[0] as AnyRecord;
    assert.deepEqual(agent['command'], ['sentinel', 'agent', '--config', 'env:SENTINEL_AGENT_CONFIG']);
    assert.equal(agent['image'], 'ghcr.io/sentinel/sentinel:test');
    const env = agent['env'] as {
      name: string;
      value?: string;
      valueFrom?: { fieldRef: { fieldPath: string } };
    }[];
    assert.deepEqual(
      Object.fromEntries(
        env
          .filter((e) => e.name !== 'SENTINEL_AGENT_CONFIG')
          .map((e) => [e.name, e.valueFrom?.fieldRef.fieldPath ?? e.value]),
      ),
      {
        POD_NAME: 'metadata.name',
        POD_NAMESPACE: 'metadata.namespace',
        POD_UID: 'metadata.uid',
        NODE_NAME: 'spec.nodeName',
        POD_IP: 'status.podIP',
        // no fieldRef exists for it: the first app container's name, as a value
        K8S_CONTAINER_NAME: (spec(f.pod).containers[0] as AnyRecord)['name'],
        NODE_OPTIONS: '--max-old-space-size=186 --max-semi-space-size=2', // 256Mi (src/injector/node-heap.ts)
        // glibc (src/injector/node-heap.ts)
        MALLOC_MMAP_THRESHOLD_: '98304',
        MALLOC_TRIM_THRESHOLD_: '524288',
        MALLOC_ARENA_MAX: '2',
      },
    );
    const volumes = new Map((spec(patched).volumes ?? []).map((v) => [v['name'] as string, v]));
    const mounts = new Map(
      (agent['volumeMounts'] as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]),
    );
    const podinfo = volumes.get(mounts.get('/etc/podinfo') as string) as {
      downwardAPI: { items: { path: string; fieldRef: { fieldPath: string } }[] };
    };
    assert.deepEqual(
      podinfo.downwardAPI.items.map((i) => [i.path, i.fieldRef.fieldPath]),
      [
        ['labels', 'metadata.labels'],
        ['annotations', 'metadata.annotations'],
      ],
    );
    // The config is the template itself (no cluster policy file configured here): nothing from a ConfigMap.
    assert.deepEqual(agentConfigOf(agent), AGENT_TEMPLATE);
    assert.equal(mounts.get('/etc/sentinel'), undefined, 'no ConfigMap without the policy annotation');
    assert.equal(
      [...volumes.values()].some((v) => v['configMap'] || v['secret']),
      false,
      'nothing the app namespace would have to hold',
    );
    assert.ok((volumes.get(mounts.get('/var/lib/sentinel') as string) as AnyRecord)['emptyDir']);
    // The agent's identity to the store: a projected, audience-bound token the kubelet rotates.
    assert.deepEqual(volumes.get(mounts.get('/var/run/secrets/sentinel') as string)?.['projected'], {
      sources: [{ serviceAccountToken: { audience: 'sentinel', expirationSeconds: 3600, path: 'token' } }],
    });
    assert.deepEqual(agent['readinessProbe'] && (agent['readinessProbe'] as AnyRecord)['httpGet'], {
      path: '/readyz',
      port: 8888,
    });
    assert.deepEqual((agent['livenessProbe'] as AnyRecord)['httpGet'], { path: '/healthz', port: 8888 });
    assert.equal(agent['lifecycle'], undefined, 'no preStop: the agent drains on SIGTERM');
    assert.deepEqual(agent['securityContext'], {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(agent['resources'], {
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { memory: '256Mi' },
    });
    const app = spec(patched).containers[0] as Container;
    // The template's OTLP exporter carries all three signals, so the agent takes them all (issue 16): the general
    // endpoint, over OTLP/HTTP, which every SDK speaks.
    assert.deepEqual(app.env, [
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://localhost:4318' },
      { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/protobuf' },
    ]);
  });

  void test('containers that set their own OTLP endpoint or protocol keep them', async () => {
    const f = byFile('04-');
    const { patched } = await admitAndApply(f.pod, f.namespace);
    const [api, worker] = spec(patched).containers as [Container, Container];
    assert.deepEqual(
      api.env,
      (spec(f.pod).containers[0] as Container).env,
      'an app with its own endpoint is untouched',
    );
    assert.deepEqual(worker.env, [
      { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/protobuf' },
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://localhost:4318' },
    ]);
  });

  void test("annotations choose a regular container, the pod's own policy ConfigMap and other resources", async () => {
    const f = byFile('12-');
    const { patched } = await admitAndApply(f.pod, f.namespace);
    const s = spec(patched);
    assert.equal(s.initContainers, undefined);
    const agent = s.containers.at(-1) as AnyRecord;
    assert.equal(agent['name'], AGENT_CONTAINER_NAME);
    assert.equal(agent['restartPolicy'], undefined);
    assert.deepEqual(agent['resources'], {
      requests: { cpu: '100m', memory: '64Mi' },
      limits: { memory: '512Mi' },
    });
    assert.deepEqual(s.volumes?.find((v) => v['name'] === 'sentinel-config')?.['configMap'], {
      name: 'legacy-agent',
    });
    const sampling = agentConfigOf(agent)['sampling'] as AnyRecord;
    assert.equal(sampling['policy_file'], '/etc/sentinel/policy.yaml');
  });

  void test('a bad resource annotation is ignored with a warning, and the agent is still injected', async () => {
    const { response, patched } = await admitAndApply(
      optedIn05({ 'sidecar.sentinel.dev/memory-limit': 'lots' }),
      'demo',
    );
    assert.equal(agentsIn(patched).length, 1);
    assert.ok(response.warnings?.some((w) => w.includes('memory-limit')));
  });

  void test('a request above the limit raises the limit, so the patched pod stays valid', async () => {
    const { response, patched } = await admitAndApply(
      optedIn05({ 'sidecar.sentinel.dev/memory-request': '512Mi' }),
      'demo',
    );
    const agent = agentsIn(patched)[0] as AnyRecord;
    assert.deepEqual(agent['resources'], {
      requests: { cpu: '50m', memory: '512Mi' },
      limits: { memory: '512Mi' },
    });
    assert.ok(response.warnings?.some((w) => w.includes('limit is raised')));
  });

  void test('a ConfigMap annotation that is not a valid name falls back to the cluster policy with a warning', async () => {
    const { response, patched } = await admitAndApply(
      optedIn05({ 'sidecar.sentinel.dev/config-map': 'My Config!' }),
      'demo',
    );
    const volume = spec(patched).volumes?.find((v) => v['name'] === 'sentinel-config');
    assert.equal(volume, undefined);
    assert.ok(response.warnings?.some((w) => w.includes('DNS-1123')));
  });

  void test('reads Kubernetes quantities as the API server does', () => {
    assert.equal(parseQuantity('128Mi'), 128 * 2 ** 20);
    assert.equal(parseQuantity('100m'), 0.1);
    assert.equal(parseQuantity('1.5'), 1.5);
    assert.equal(parseQuantity('2e3'), 2000);
    assert.equal(parseQuantity('1k'), 1000);
    for (const bad of ['lots', '1.2.3', '10K', '', 'Mi', '-1'])
      assert.equal(parseQuantity(bad), undefined, bad);
  });

  void test('a re-invocation of an injected pod adds nothing', async () => {
    for (const f of fixtures.filter((x) => x.expect !== 'unchanged')) {
      const { patched: once } = await admitAndApply(f.pod, f.namespace, f.path);
      const again = decodePatch(await admit(once, f.namespace, f.path));
      assert.deepEqual(again, [], `${f.file} changed on re-invocation`);
    }
  });
});

void describe('who gets the agent', () => {
  const ctx = {
    namespace: 'shop',
    namespaceOptIn: false,
    excludedNamespaces: new Set(['kube-system', 'sentinel']),
    nativeSidecar: true,
  };
  const pod = (annotations?: Record<string, string>, extra: Partial<PodView> = {}): PodView => ({
    namespace: 'shop',
    annotations,
    labels: undefined,
    containers: [{ name: 'app', env: undefined, hasEnvFrom: false, ports: [8080] }],
    initContainers: undefined,
    ephemeralContainerNames: [],
    hasMetadata: true,
    volumeNames: undefined,
    imagePullSecrets: undefined,
    hostNetwork: false,
    restartPolicy: 'Always',
    os: undefined,
    ...extra,
  });
  const cases: [string, PodView, Partial<typeof ctx>, string][] = [
    ['annotation "true"', pod({ [ANNOTATION_INJECT]: 'true' }), {}, 'inject'],
    [
      'annotation "TRUE " (case and spaces do not matter)',
      pod({ [ANNOTATION_INJECT]: 'TRUE ' }),
      {},
      'inject',
    ],
    ['no annotation, namespace not opted in', pod(), {}, 'not-opted-in'],
    ['no annotation, namespace opted in', pod(), { namespaceOptIn: true }, 'inject'],
    [
      'annotation "false" in an opted-in namespace',
      pod({ [ANNOTATION_INJECT]: 'false' }),
      { namespaceOptIn: true },
      'opted-out',
    ],
    [
      'annotation "yes" (not a boolean) in a plain namespace',
      pod({ [ANNOTATION_INJECT]: 'yes' }),
      {},
      'not-opted-in',
    ],
    [
      'kube-system, even opted in',
      pod({ [ANNOTATION_INJECT]: 'true' }),
      { namespace: 'kube-system', namespaceOptIn: true },
      'excluded-namespace',
    ],
    [
      "the injector's own namespace",
      pod({ [ANNOTATION_INJECT]: 'true' }),
      { namespace: 'sentinel' },
      'excluded-namespace',
    ],
    [
      'the namespace from the pod when the request has none',
      pod({ [ANNOTATION_INJECT]: 'true' }, { namespace: 'kube-system' }),
      { namespace: undefined as never },
      'excluded-namespace',
    ],
    [
      'already injected (status annotation)',
      pod({ [ANNOTATION_INJECT]: 'true', [ANNOTATION_STATUS]: 'injected' }),
      {},
      'already-injected',
    ],
    ['hostNetwork', pod({ [ANNOTATION_INJECT]: 'true' }, { hostNetwork: true }), {}, 'host-network'],
    [
      'an init container on 8888',
      pod(
        { [ANNOTATION_INJECT]: 'true' },
        { initContainers: [{ name: 'x', env: undefined, hasEnvFrom: false, ports: [8888] }] },
      ),
      {},
      'port-conflict',
    ],
    ['a Windows pod', pod({ [ANNOTATION_INJECT]: 'true' }, { os: 'windows' }), {}, 'unsupported-os'],
    [
      "a volume named like one of the agent's",
      pod({ [ANNOTATION_INJECT]: 'true' }, { volumeNames: ['sentinel-config'] }),
      {},
      'name-conflict',
    ],
    [
      'a Job pod with native sidecars off',
      pod({ [ANNOTATION_INJECT]: 'true' }, { restartPolicy: 'Never' }),
      { nativeSidecar: false },
      'job-needs-native-sidecar',
    ],
    [
      'a Job pod with native sidecars on',
      pod({ [ANNOTATION_INJECT]: 'true' }, { restartPolicy: 'OnFailure' }),
      {},
      'inject',
    ],
  ];
  for (const [name, p, over, want] of cases) {
    void test(`${name}: ${want}`, () => {
      const d = decideInjection(p, { ...ctx, ...over });
      assert.equal(d.kind === 'inject' ? 'inject' : d.reason, want);
    });
  }

  void test('a value that is not a boolean is ignored with a warning naming the annotation', () => {
    const d = decideInjection(pod({ [ANNOTATION_INJECT]: 'yes' }), ctx);
    assert.match(
      d.warnings[0] ?? '',
      /sidecar\.sentinel\.dev\/inject should be "true" or "false", got "yes"/,
    );
  });

  void test('the native-sidecar annotation overrides the default either way', () => {
    const off = decideInjection(
      pod({ [ANNOTATION_INJECT]: 'true', [ANNOTATION_NATIVE_SIDECAR]: 'false' }),
      ctx,
    );
    const on = decideInjection(pod({ [ANNOTATION_INJECT]: 'true', [ANNOTATION_NATIVE_SIDECAR]: 'true' }), {
      ...ctx,
      nativeSidecar: false,
    });
    assert.deepEqual(
      [off.kind === 'inject' && off.nativeSidecar, on.kind === 'inject' && on.nativeSidecar],
      [false, true],
    );
  });
});

void describe('failure modes', () => {
  void test('a body that is not JSON gets HTTP 400 with a message', async () => {
    const reply = await post('/mutate', '{not json');
    assert.equal(reply.status, 400);
    const body = JSON.parse(reply.body) as { code: string; message: string };
    assert.equal(body.code, 'SENTINEL_ERR_ADMISSION_INVALID');
    assert.match(body.message, /invalid JSON/);
  });

  void test('JSON that is not an AdmissionReview gets HTTP 400 naming what was expected', async () => {
    const wrongKind = await post('/mutate', JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }));
    assert.equal(wrongKind.status, 400);
    assert.match(wrongKind.body, /admission\.k8s\.io\/v1/);
    const noUid = await post(
      '/mutate',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }),
    );
    assert.equal(noUid.status, 400);
    assert.match(noUid.body, /request\.uid/);
    assert.ok((await metrics.value('injector_errors_total', { reason: 'malformed_review' })) >= 2);
  });

  void test('bytes that are not HTTP over its TLS get 400, are counted (invalid_http), and the webhook serves on (session 13)', async () => {
    const tls = () => connectTls({ host: '127.0.0.1', port: injector.webhookPort, ca: cert.cert });
    const bad = await rawExchange(tls, NOT_HTTP);
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(bad, /not an HTTP\/1\.1 request this server can read/);
    assert.equal(await metrics.value('injector_errors_total', { reason: 'invalid_http' }), 1);
    const wrongKind = await post('/mutate', JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }));
    assert.equal(wrongKind.status, 400, 'answered as a request again');
  });

  void test("a pod whose ephemeral container has the agent's name gets no second agent", async () => {
    const pod = {
      metadata: { name: 'debugged', annotations: { [ANNOTATION_INJECT]: 'true' } },
      spec: {
        containers: [{ name: 'app', image: 'app:1' }],
        ephemeralContainers: [{ name: AGENT_CONTAINER_NAME, image: 'busybox' }],
      },
    };
    const { patched } = await admitAndApply(pod, 'shop');
    assert.equal(agentsIn(patched).length, 0);
  });

  void test('a pod object without metadata gets a patch whose parent paths exist', async () => {
    const pod = { spec: { containers: [{ name: 'app', image: 'app:1' }] } };
    // Opted in by its namespace (no annotation can be set without metadata).
    const { patched } = await admitAndApply(pod, 'shop', '/mutate/namespace');
    assert.equal(agentsIn(patched).length, 1);
    assert.equal(
      (patched['metadata'] as { annotations: Record<string, string> }).annotations[ANNOTATION_STATUS],
      'injected',
    );
  });

  void test('a pod it cannot parse is allowed unchanged with a warning', async () => {
    const response = await admit({ metadata: { name: 'odd' }, spec: { containers: 'app' } }, 'shop');
    assert.equal(response.patch, undefined);
    assert.ok(response.warnings?.[0]?.includes('spec.containers'));
    assert.ok((await metrics.value('injector_errors_total', { reason: 'unparsable_pod' })) >= 1);
  });

  void test('a body over max_request_bytes gets HTTP 413', async () => {
    const big = review(
      { metadata: { annotations: { x: 'y'.repeat(300 * 1024) } }, spec: { containers: [] } },
      'shop',
    );
    const reply = await post('/mutate', big);
    assert.equal(reply.status, 413);
    assert.match(reply.body, /max_request_bytes/);
  });

  void test('a 5 MB AdmissionReview gets its 413 without the client seeing EPIPE, with or without a length', async () => {
    const big = review(
      { metadata: { annotations: { x: 'y'.repeat(5 * 1024 * 1024) } }, spec: { containers: [] } },
      'shop',
    );
    // Sent as a client on a real network does: in 64 KiB pieces, a little at a time, with and without
    // Content-Length. Before the fix the 413 came (with Connection: close) before the upload ended, and the
    // client's next write failed with EPIPE / ECONNRESET.
    const slowPost = (withLength: boolean) =>
      new Promise<{ status: number; body: string; sentBeforeAnswer: number }>((resolve, reject) => {
        const bytes = Buffer.from(big);
        let sent = 0;
        const req = request(
          {
            host: '127.0.0.1',
            port: injector.webhookPort,
            path: '/mutate',
            method: 'POST',
            ca: cert.cert,
            agent: false,
            headers: {
              'content-type': 'application/json',
              ...(withLength ? { 'content-length': bytes.length } : {}),
            },
          },
          (res) => {
            // How much of the body the client had sent when the answer came: all of it, or the server answered
            // (and closed) under a client still uploading.
            const sentBeforeAnswer = sent;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8'),
                sentBeforeAnswer,
              }),
            );
          },
        );
        req.on('error', reject);
        void (async () => {
          for (let at = 0; at < bytes.length && !req.destroyed; at += 64 * 1024) {
            const piece = bytes.subarray(at, at + 64 * 1024);
            const more = req.write(piece);
            sent += piece.length;
            if (!more) await Promise.race([once(req, 'drain'), once(req, 'close')]);
            await new Promise((r) => setTimeout(r, 2));
          }
          req.end();
        })();
      });
    for (const withLength of [true, false]) {
      const reply = await slowPost(withLength);
      assert.equal(reply.status, 413, `with${withLength ? '' : 'out'} Content-Length`);
      assert.equal(reply.sentBeforeAnswer, Buffer.byteLength(big), 'the whole body was taken before the 413');
      assert.match(reply.body, /max_request_bytes/);
    }
  });

  void test('requests for other kinds, sub-resources or operations pass untouched', async () => {
    const pod = fixtures[0]?.pod;
    const body = review(pod, 'shop', { operation: 'UPDATE' });
    const reply = JSON.parse((await post('/mutate', body)).body) as { response: ReviewResponse };
    assert.equal(reply.response.patch, undefined);
    const other = review({ metadata: {} }, 'shop', {
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    });
    const reply2 = JSON.parse((await post('/mutate', other)).body) as { response: ReviewResponse };
    assert.deepEqual(reply2.response, { uid: `uid-${uidCounter}`, allowed: true });
  });

  void test('GET on /mutate is refused with 405', async () => {
    assert.equal((await get('/mutate')).status, 405);
  });
});

void describe('the server', () => {
  void test('answers health, readiness and metrics on the TLS port', async () => {
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 200);
    const m = await get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /sentinel_injector_requests_total\{result="injected"\} \d+/);
    assert.match(m.body, /sentinel_injector_skipped_total\{reason="excluded-namespace"\} \d+/);
  });

  void test('while draining, answers 503 on /readyz and still serves reviews', async () => {
    const config = validateConfig(
      injectorConfigSchema(),
      {
        listen: '127.0.0.1:0',
        admin: { endpoint: '127.0.0.1:0' },
        tls: { cert_file: cert.certFile, key_file: cert.keyFile },
      },
      'test',
    );
    const draining = await startInjector(config, { logger: silentLogger(), metrics: new Metrics(), env: {} });
    try {
      draining.webhook.beginDrain();
      const viaAdmin = await new Promise<number>((resolve, reject) => {
        httpGet({ host: '127.0.0.1', port: draining.adminPort, path: '/readyz' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(viaAdmin, 503);
      const viaTls = await new Promise<number>((resolve, reject) => {
        request(
          { host: '127.0.0.1', port: draining.webhookPort, path: '/readyz', ca: cert.cert, agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end();
      });
      assert.equal(viaTls, 503);
      const body = review(fixtures[0]?.pod, 'shop');
      const reply = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: draining.webhookPort,
            path: '/mutate',
            method: 'POST',
            ca: cert.cert,
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(reply, 200);
    } finally {
      await draining.close(2000);
    }
  });

  void test('serves a new certificate once the files change, without a restart', async () => {
    const before = await post('/mutate', '{}');
    const next = makeCertificate('sentinel-injector.rotated');
    try {
      // The kubelet swaps a ..data symlink; copying over the files is the same change seen from here.
      copyFileSync(next.keyFile, cert.keyFile);
      copyFileSync(next.certFile, cert.certFile);
      assert.equal(await injector.webhook.reloadCertificate(), true);
      const afterReload = await post('/mutate', '{}', next.cert);
      assert.notEqual(afterReload.fingerprint, before.fingerprint);
      assert.equal(afterReload.status, 400);
      assert.ok((await metrics.value('injector_certificate_reloads_total')) >= 1);
      // A broken pair keeps the last good one.
      writeFileSync(cert.certFile, 'not a certificate');
      assert.equal(await injector.webhook.reloadCertificate(), false);
      assert.equal((await post('/mutate', '{}', next.cert)).fingerprint, afterReload.fingerprint);
      cert = { ...cert, cert: next.cert };
    } finally {
      rmSync(next.dir, { recursive: true, force: true });
    }
  });
});

void describe('sentinel injector (the command)', () => {
  void test('starts from a config file and exits 0 on SIGTERM', async () => {
    const tls = makeCertificate('sentinel-injector.cli');
    const file = join(tls.dir, 'injector.yaml');
    writeFileSync(
      file,
      `listen: 127.0.0.1:0\nshutdown_delay: 0s\nadmin: { endpoint: "127.0.0.1:0" }\ntls: { cert_file: ${tls.certFile}, key_file: ${tls.keyFile} }\n`,
    );
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'injector', '--config', file], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('injector listening')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
      });
      child.removeAllListeners('exit');
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      assert.equal(code, 0);
    } finally {
      rmSync(tls.dir, { recursive: true, force: true });
    }
  });

  void test('refuses to start, naming the files, when the certificate cannot be read', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'injector'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        SENTINEL_TLS__CERT_FILE: '/nonexistent/tls.crt',
        SENTINEL_LISTEN: '127.0.0.1:0',
      },
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 1);
    assert.match(err, /SENTINEL_ERR_TLS_LOAD: .*\/nonexistent\/tls\.crt/);
  });
});
