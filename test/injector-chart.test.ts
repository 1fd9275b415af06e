/**
 * Issue 14, the whole install as a new user gets it, with the test playing the API server and the kubelet:
 * the chart rendered with its defaults; the injector started from the rendered injector config and certificate,
 * called over real HTTPS the way the MutatingWebhookConfiguration says (selectors, Service name, caBundle,
 * path) for a pod of a namespace the chart never heard of; the patch applied; then the agent container started
 * exactly as the kubelet would: its env with the Downward API resolved, its volumes built only from objects of
 * the pod's own namespace (there are none: the chart created nothing there) plus the projected ServiceAccount
 * token the kubelet writes, its command and args. The store runs from the rendered store config and checks the
 * agent's token with a TokenReview endpoint standing in for the API server. An OpenTelemetry SDK pointed at the
 * endpoint the injector set sends spans, which must end up in the store's blocks.
 *
 * What a test cannot do, and how it stands in: no chroot, so the container's mount paths are mapped to
 * directories by rewriting them in the agent's config; no pod network namespace and no cluster DNS, so the
 * agent's fixed ports and the Service names map to free ports on 127.0.0.1 (a port map, as a container runtime's).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import fjp from 'fast-json-patch';
import { parquetReadObjects } from 'hyparquet';
import { Pod } from 'kubernetes-models/v1/Pod';
import { parse as parseYaml } from 'yaml';
import { injectorConfigSchema, validateConfig } from '../src/config/index.js';
import { AGENT_CONTAINER_NAME } from '../src/injector/names.js';
import { startInjector, type RunningInjector } from '../src/injector/run-injector.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { buildBundle, type Bundle } from './helpers/bundle.js';
import { startSentinel, type SentinelChild } from './helpers/child.js';
import { projectedToken, startFakeTokenReview, type FakeTokenReview } from './helpers/fake-token-review.js';
import { helmTemplate } from './helpers/helm-template.js';
import { startChartStore } from './helpers/chart-store.js';
import { makeCertificate } from './fixtures/injector/tls.js';

type AnyRecord = Record<string, unknown>;
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  webhooks?: Webhook[];
}
interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Webhook {
  name: string;
  namespaceSelector: Selector;
  objectSelector: Selector;
  clientConfig: { caBundle: string; service: { name: string; namespace: string; path: string } };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: unknown; configMapKeyRef?: unknown };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: unknown[];
  restartPolicy?: string;
  startupProbe?: { httpGet: { path: string; port: number } };
  readinessProbe?: { httpGet: { path: string; port: number } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Volume {
  name: string;
  downwardAPI?: { items: { path: string; fieldRef: { fieldPath: string } }[] };
  emptyDir?: unknown;
  projected?: {
    sources: { serviceAccountToken?: { audience: string; expirationSeconds: number; path: string } }[];
  };
  configMap?: { name: string };
  secret?: { secretName: string };
}

const NAMESPACE = 'orders'; // never named to the chart
const NAMESPACE_LABELS = { 'kubernetes.io/metadata.name': NAMESPACE, 'sentinel.dev/inject': 'enabled' };
const dir = mkdtempSync(join(tmpdir(), 'sentinel-kubelet-'));
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

let objects: Obj[];
let injector: RunningInjector;
let review: FakeTokenReview;
let nodesApi: { kubeconfig: string; requests: number };

/** Whether a Kubernetes label selector matches `labels` (matchLabels AND matchExpressions, as the API server does). */
function matches(selector: Selector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    const ok =
      e.operator === 'In'
        ? has && (e.values ?? []).includes(value as string)
        : e.operator === 'NotIn'
          ? !has || !(e.values ?? []).includes(value as string)
          : e.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

/** A stand-in for the API server's Node list (no API server can run here), over HTTPS, reached by kubeconfig. */
async function startNodesApi(kubeletVersions: string[]): Promise<{ kubeconfig: string; requests: number }> {
  const cert = makeCertificate('kube-apiserver', mkdtempSync(join(dir, 'nodes-api-')));
  const state = { kubeconfig: '', requests: 0 };
  const server: Server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/api/v1/nodes') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      return;
    }
    state.requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        kind: 'NodeList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '1' },
        items: kubeletVersions.map((v, i) => ({
          metadata: { name: `node-${i}` },
          status: { nodeInfo: { kubeletVersion: v } },
        })),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const port = (server.address() as AddressInfo).port;
  state.kubeconfig = join(cert.dir, 'kubeconfig');
  writeFileSync(
    state.kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'test',
          cluster: {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': cert.cert.toString('base64'),
          },
        },
      ],
      users: [{ name: 'injector', user: { token: 'injector-sa-token' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'injector' } }],
      'current-context': 'test',
    }),
  );
  return state;
}

function find(kind: string, name: string): Obj {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} rendered`);
  return o;
}

function put(file: string, content: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** A port nothing listens on now. */

let bundle: Bundle;
before(async () => {
  // The image's dist/ (npm run build), in a folder without node_modules, as the agent container holds it.
  bundle = await buildBundle();
  cleanups.push(() => bundle.remove());
  // 1. helm install with the chart's defaults: nothing set.
  objects = helmTemplate<Obj>();
  const injectorYaml = parseYaml(
    find('ConfigMap', 'sentinel-injector').data?.['injector.yaml'] ?? '',
  ) as AnyRecord;
  // 2. The kubelet mounts the injector's TLS Secret at /tls and the policy ConfigMap at /etc/sentinel-policy.
  const tls = find('Secret', 'sentinel-injector-tls');
  put(join(dir, 'injector', 'tls.crt'), Buffer.from(tls.data?.['tls.crt'] ?? '', 'base64'));
  put(join(dir, 'injector', 'tls.key'), Buffer.from(tls.data?.['tls.key'] ?? '', 'base64'));
  const policyFile = join(dir, 'policy', 'policy.yaml');
  put(policyFile, find('ConfigMap', 'sentinel-policy').data?.['policy.yaml'] ?? '');
  assert.equal(injectorYaml['policy_file'], '/etc/sentinel-policy/policy.yaml');
  // A cluster whose nodes all run a kubelet with native sidecars (agent.nativeSidecar: auto lists them).
  nodesApi = await startNodesApi(['v1.31.4', 'v1.30.9-eks-2f2c8b1', 'v1.32.0']);
  const config = validateConfig(
    injectorConfigSchema(),
    {
      ...injectorYaml,
      // Only addresses and file paths change: a test cannot bind 8443 or read /tls.
      listen: '127.0.0.1:0',
      admin: { endpoint: '127.0.0.1:0' },
      tls: { cert_file: join(dir, 'injector', 'tls.crt'), key_file: join(dir, 'injector', 'tls.key') },
      policy_file: policyFile,
      kubernetes_api: { kubeconfig: nodesApi.kubeconfig },
    },
    'chart injector.yaml',
  );
  injector = await startInjector(config, { logger: silentLogger(), metrics: new Metrics(), env: {} });
  cleanups.push(() => injector.close(2000));
  review = await startFakeTokenReview(mkdtempSync(join(dir, 'apiserver-')));
  cleanups.push(() => review.close());
});

/** What the API server does: pick the webhook entry whose selectors match, then POST the review over HTTPS. */
function admit(pod: AnyRecord, namespaceLabels: Record<string, string>): Promise<{ patch?: string }> {
  const mwc = objects.find((o) => o.kind === 'MutatingWebhookConfiguration');
  const podLabels = ((pod['metadata'] as AnyRecord)['labels'] ?? {}) as Record<string, string>;
  const entry = mwc?.webhooks?.find(
    (w) => matches(w.namespaceSelector, namespaceLabels) && matches(w.objectSelector, podLabels),
  );
  assert.ok(entry, 'a webhook entry selects this pod');
  const { service, caBundle } = entry.clientConfig;
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomBytes(8).toString('hex'),
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: NAMESPACE,
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

/** Polls an HTTP probe until it answers 200 (the kubelet's httpGet probe). */
async function probe(port: number, path: string, timeoutMs: number, agent: SentinelChild): Promise<number> {
  const started = Date.now();
  for (;;) {
    const code = agent.child.exitCode;
    if (code !== null) assert.fail(`the agent exited with ${code} before its probe passed`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) assert.fail(`${path} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function findParquet(root: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(root, e);
    if (statSync(p).isDirectory()) out = out.concat(findParquet(p));
    else if (e.endsWith('.parquet')) out.push(p);
  }
  return out;
}

describe('helm install, label a namespace, start a pod: the kubelet view', () => {
  void test('a pod in a namespace the chart never heard of gets an agent that starts from its pod spec alone and delivers the app spans to the store', async () => {
    // The store, from the chart's store config, with what the kubelet would mount for it.
    const storeDir = join(dir, 'store');
    const h = await startChartStore(objects, storeDir, { kubeconfig: review.kubeconfig });
    let storeStopped = false;
    cleanups.push(() => (storeStopped ? undefined : h.dispose()));

    // The app's pod, as a Deployment's ReplicaSet creates it, in namespace orders.
    const pod: AnyRecord = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'checkout-6d9f7c-',
        namespace: NAMESPACE,
        labels: { app: 'checkout', 'pod-template-hash': '6d9f7c' },
      },
      spec: {
        containers: [{ name: 'checkout', image: 'registry.example.com/orders/checkout:3.1.0' }],
      },
    };
    const response = await admit(pod, NAMESPACE_LABELS);
    const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as fjp.Operation[];
    const patched = fjp.applyPatch(structuredClone(pod), patch, true, false).newDocument;
    new Pod(patched as never).validate();
    const spec = patched['spec'] as {
      initContainers?: Container[];
      containers: Container[];
      volumes: Volume[];
    };
    assert.ok(nodesApi.requests >= 1, 'the injector listed the nodes');
    // Every kubelet is >= 1.29: a native sidecar, first among init containers, held until it listens.
    const agent = spec.initContainers?.[0];
    assert.equal(agent?.name, AGENT_CONTAINER_NAME);
    assert.equal(agent.restartPolicy, 'Always');
    assert.ok(agent.startupProbe);

    // The API server fills what the pod's env refers to; the scheduler picks a node; the CNI an IP.
    const podFields: Record<string, string> = {
      'metadata.name': 'checkout-6d9f7c-x7k2p',
      'metadata.namespace': NAMESPACE,
      'metadata.uid': '3f1c2a9e-8b7d-4e6f-9a1b-2c3d4e5f6a7b',
      'spec.nodeName': 'node-1',
      'status.podIP': '10.1.2.3',
    };
    const labels = (patched['metadata'] as AnyRecord)['labels'] as Record<string, string>;
    const annotations = (patched['metadata'] as AnyRecord)['annotations'] as Record<string, string>;
    // Objects the kubelet could mount for this pod: those of its own namespace. The chart made none there.
    const inPodNamespace: Obj[] = objects.filter((o) => o.metadata.namespace === NAMESPACE);
    assert.equal(inPodNamespace.length, 0);

    // Volumes, built as the kubelet builds them, each to a directory standing for its mount path.
    const podDir = join(dir, 'pod');
    const volumeDirs = new Map<string, string>();
    const projectedTokens: string[] = [];
    for (const v of spec.volumes) {
      const at = join(podDir, 'volumes', v.name);
      mkdirSync(at, { recursive: true });
      if (v.downwardAPI) {
        for (const item of v.downwardAPI.items) {
          const map = item.fieldRef.fieldPath === 'metadata.labels' ? labels : annotations;
          // The Downward API's format: key="value" lines, sorted, values quoted as Go's %q does.
          const text = Object.keys(map)
            .sort()
            .map((k) => `${k}=${JSON.stringify(map[k])}`)
            .join('\n');
          put(join(at, item.path), text);
        }
      } else if (v.emptyDir) {
        // an empty directory
      } else if (v.projected) {
        for (const source of v.projected.sources) {
          const sa = source.serviceAccountToken;
          assert.ok(sa, 'only ServiceAccount tokens are projected');
          // The kubelet asks the API server for a token of the pod's ServiceAccount with this audience.
          // A JWT with aud and exp, as the kubelet writes it (expirationSeconds from the volume).
          const token = projectedToken(
            `${NAMESPACE}:default`,
            sa.audience,
            Math.floor(Date.now() / 1000) + sa.expirationSeconds,
          );
          review.tokens.set(token, {
            username: `system:serviceaccount:${NAMESPACE}:default`,
            audiences: [sa.audience],
          });
          projectedTokens.push(token);
          put(join(at, sa.path), token);
        }
      } else {
        const name = v.configMap?.name ?? v.secret?.secretName;
        const kind = v.configMap ? 'ConfigMap' : 'Secret';
        assert.ok(
          inPodNamespace.some((o) => o.kind === kind && o.metadata.name === name),
          `volume ${v.name} needs ${kind} ${name} in ${NAMESPACE}, which does not exist`,
        );
      }
      volumeDirs.set(v.name, at);
    }
    assert.equal(projectedTokens.length, 1, 'one projected token');

    // The agent's env, resolved as the kubelet resolves it; nothing may come from a Secret or ConfigMap.
    const env: Record<string, string> = {};
    for (const e of agent.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef) {
        const value = podFields[e.valueFrom.fieldRef.fieldPath];
        assert.ok(value !== undefined, `fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
        env[e.name] = value;
      } else assert.fail(`env ${e.name} refers to an object the pod's namespace does not have`);
    }
    assert.equal(agent.envFrom, undefined);

    // The pod's network and DNS, standing in: the agent's ports map to ports the system chooses (read back from
    // its start log), Service names to the store.
    const network: [string, string][] = [
      ['127.0.0.1:4317', '127.0.0.1:0'],
      ['127.0.0.1:4318', '127.0.0.1:0'],
      ['0.0.0.0:8888', '127.0.0.1:0'],
      ['sentinel-store-headless.sentinel.svc.cluster.local.:3200', `localhost:${h.store.ports.query}`],
      // Absolute names (a trailing dot), as the chart renders them: no DNS search list under ndots:5.
      ['sentinel-store.sentinel.svc.cluster.local.:3200', `127.0.0.1:${h.store.ports.query}`],
      ['sentinel-store.sentinel.svc.cluster.local.:4318', `127.0.0.1:${h.store.ports.http}`],
    ];
    // The container's file system: each mount path is its volume's directory.
    const mounts = [...(agent.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    let configText = env['SENTINEL_AGENT_CONFIG'] ?? '';
    assert.ok(configText, 'the agent config is in the pod spec');
    const rendered = parseYaml(configText) as { sampling: { policy_snapshot: string; num_traces: number } };
    assert.equal(
      rendered.sampling.policy_snapshot,
      find('ConfigMap', 'sentinel-policy').data?.['policy.yaml'],
      'the cluster policy, snapshotted at admission',
    );
    assert.equal(rendered.sampling.num_traces, 100_000, "the chart's agent.numTraces, in the pod spec");
    for (const [from, to] of network) {
      assert.ok(configText.includes(from), `the agent config names ${from}`);
      configText = configText.split(from).join(to);
    }
    for (const m of mounts) configText = configText.split(m.mountPath).join(volumeDirs.get(m.name) ?? '');
    env['SENTINEL_AGENT_CONFIG'] = configText;

    // Its command and args: `sentinel` is the image's entry, dist/cli.js of the bundle the image holds.
    const command = [...(agent.command ?? []), ...(agent.args ?? [])];
    assert.equal(command[0], 'sentinel');
    const child = startSentinel(
      command.slice(1),
      {
        ...Object.fromEntries(
          Object.keys(process.env)
            .filter((k) => k.startsWith('SENTINEL_'))
            .map((k) => [k, '']),
        ),
        ...env,
      },
      [bundle.cli],
    );
    let exited = false;
    void child.exited.then(() => (exited = true));
    cleanups.push(() => {
      if (!exited) child.child.kill('SIGKILL');
    });

    const started = await child.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
    const ports = started['ports'] as { grpc: number; http: number; admin: number };

    // The kubelet starts the app only once the native sidecar's startupProbe passes.
    const startup = agent.startupProbe.httpGet;
    assert.equal(startup.port, 8888);
    await probe(ports.admin, startup.path, 60_000, child);

    // The app: an OpenTelemetry SDK reading the env the injector gave its container.
    const app = spec.containers.find((c) => c.name === 'checkout');
    const appEnv = Object.fromEntries((app?.env ?? []).map((e) => [e.name, e.value ?? '']));
    assert.equal(appEnv['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'], 'http://localhost:4318/v1/traces');
    assert.equal(appEnv['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'], 'http/protobuf');
    // Issue 16: the chart's agent sends traces and logs to the store, which takes no metrics, so the app's logs go to
    // the agent and its metrics keep the SDK's own setting (agent.metricsEndpoint adds them: the general endpoint).
    assert.equal(appEnv['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT'], 'http://localhost:4318/v1/logs');
    assert.equal(appEnv['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'], undefined);
    assert.equal(appEnv['OTEL_EXPORTER_OTLP_ENDPOINT'], undefined);
    const exporter = new OTLPTraceExporter({
      url: (appEnv['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? '').replace(':4318', `:${ports.http}`),
    });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 50 })],
    });
    const tracer = provider.getTracer('checkout');
    const traceIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const root = tracer.startSpan(`POST /orders/${i}`);
      // Errors are kept by the chart's default policy ("errors", status_code ERROR).
      root.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
      traceIds.push(root.spanContext().traceId);
      root.end();
    }
    await provider.forceFlush();
    await provider.shutdown();

    // The pod is deleted: SIGTERM, the agent decides what it holds and exports it.
    child.child.kill('SIGTERM');
    assert.equal(await child.exited, 0);
    // The store checked the agent's projected token (TokenReview) and served it the cluster policy.
    assert.ok((review.calls.get(projectedTokens[0] ?? '') ?? 0) >= 1, 'the agent token was reviewed');
    const storeMetrics = await h.metrics.registry.metrics();
    assert.match(storeMetrics, /sentinel_store_policy_requests_total\{status="200"\} [1-9]/);
    // Its blocks, once the store drains (SIGTERM cuts the open block).
    await h.store.shutdown();
    storeStopped = true;
    const files = findParquet(join(storeDir, 'data', 'blocks'));
    assert.ok(files.length > 0, 'the store wrote a block');
    const rows: AnyRecord[] = [];
    for (const f of files) {
      const bytes = readFileSync(f);
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      rows.push(
        ...((await parquetReadObjects({
          file: buffer,
          columns: ['TraceId', 'ServiceName', 'K8sNamespaceName', 'K8sPodName', 'K8sNodeName', 'StatusCode'],
          compressors: { GZIP: (input: Uint8Array) => gunzipSync(input) },
        })) as AnyRecord[]),
      );
    }
    assert.deepEqual(new Set(rows.map((r) => r['TraceId'])), new Set(traceIds));
    for (const r of rows) {
      assert.equal(r['ServiceName'], 'checkout');
      // Enriched from the Downward API env the kubelet resolved.
      assert.equal(r['K8sNamespaceName'], NAMESPACE);
      assert.equal(r['K8sPodName'], podFields['metadata.name']);
      assert.equal(r['K8sNodeName'], podFields['spec.nodeName']);
    }
  });

  void test('the API server never calls the webhook for a pod of an unlabelled namespace without the pod label', () => {
    const mwc = objects.find((o) => o.kind === 'MutatingWebhookConfiguration');
    const plain = { 'kubernetes.io/metadata.name': 'billing' };
    const called = mwc?.webhooks?.filter(
      (w) => matches(w.namespaceSelector, plain) && matches(w.objectSelector, { app: 'billing' }),
    );
    assert.deepEqual(called, []);
    const labelled = mwc?.webhooks?.filter(
      (w) =>
        matches(w.namespaceSelector, plain) &&
        matches(w.objectSelector, { app: 'billing', 'sidecar.sentinel.dev/inject': 'true' }),
    );
    assert.deepEqual(
      labelled?.map((w) => w.name),
      ['pod.inject.sentinel.dev'],
    );
  });
});
