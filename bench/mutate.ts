/**
 * How long does the API server wait for the injector? p99 of `POST /mutate` under 200 concurrent requests over
 * real HTTPS (keep-alive, as the API server keeps connections), beside a baseline measured in the same run: a
 * trivial HTTPS handler on the same kind of server that reads the same body and returns a constant
 * AdmissionReview. The difference is what parsing, deciding and building the patch cost; the webhook's
 * timeoutSeconds is 5 s.
 * The client runs in a child process so that its event loop does not queue behind the server's. Since issue 14
 * the injector renders the agent's whole config into each pod (the chart's template plus the cluster policy
 * snapshot); the injector here runs with the chart's rendered injector config, and the CPU line compares it with
 * an empty template (the patch as before issue 14, without the config).
 *
 *   node --import tsx bench/mutate.ts
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { injectorConfigSchema, validateConfig } from '../src/config/index.js';
import { admissionResponse, parseAdmissionReview } from '../src/injector/admission-review.js';
import { mutate } from '../src/injector/mutate.js';
import { mutateOptionsFrom, startInjector } from '../src/injector/run-injector.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { runHelm } from '../scripts/helm.js';
import { makeCertificate } from '../test/fixtures/injector/tls.js';

/** The injector config and the cluster policy the chart renders with its defaults. */
function chartInjectorConfig(dir: string): Record<string, unknown> {
  const r = runHelm(['template', 'sentinel', 'charts/sentinel', '--namespace', 'sentinel']);
  if (r.status !== 0) throw new Error(r.stderr);
  const docs = r.stdout
    .split(/^---$/m)
    .map((d) => parseYaml(d) as { kind?: string; metadata?: { name: string }; data?: Record<string, string> })
    .filter((d) => d?.kind === 'ConfigMap');
  const data = (name: string) => docs.find((d) => d.metadata?.name === name)?.data ?? {};
  writeFileSync(`${dir}/policy.yaml`, data('sentinel-policy')['policy.yaml'] ?? '');
  const config = parseYaml(data('sentinel-injector')['injector.yaml'] ?? '') as Record<string, unknown>;
  // Native sidecars fixed: no Kubernetes API to list Nodes here.
  const agent = { ...(config['agent'] as Record<string, unknown>), native_sidecar: true };
  return { ...config, agent, policy_file: `${dir}/policy.yaml` };
}

const CONCURRENCY = 200;
const REQUESTS = 10_000;

interface ClientResult {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  rps: number;
  errors: number;
}

/** Child mode: fire `total` requests keeping `CONCURRENCY` in flight; print latency percentiles (ms). */
async function client(
  port: number,
  path: string,
  ca: string,
  bodyFile: string,
  total: number,
): Promise<void> {
  const body = readFileSync(bodyFile);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });
  const latencies: number[] = [];
  let errors = 0;
  let started = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const worker = async () => {
    while (started < total) {
      started++;
      await one();
    }
  };
  // Warm-up in the same client: TLS handshakes and JIT happen here, as they do once per API server connection.
  await Promise.all(Array.from({ length: CONCURRENCY }, () => one().then(one)));
  latencies.length = 0;
  errors = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const result: ClientResult = {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: latencies.at(-1) ?? NaN,
    rps: total / seconds,
    errors,
  };
  process.stdout.write(JSON.stringify(result));
}

function runClient(
  port: number,
  path: string,
  ca: string,
  bodyFile: string,
  total: number,
): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        'client',
        String(port),
        path,
        ca,
        bodyFile,
        String(total),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as ClientResult) : reject(new Error(`client exited ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const cert = makeCertificate('sentinel-injector.bench');
  const fixture = parseYaml(
    readFileSync(new URL('../test/fixtures/injector/01-probes-and-volumes.yaml', import.meta.url), 'utf8'),
  ) as {
    pod: unknown;
  };
  const review = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      object: fixture.pod,
    },
  });
  const bodyFile = `${cert.dir}/review.json`;
  writeFileSync(bodyFile, review);

  const chartConfig = chartInjectorConfig(cert.dir);
  const injector = await startInjector(
    validateConfig(
      injectorConfigSchema(),
      {
        ...chartConfig,
        listen: '127.0.0.1:0',
        admin: { endpoint: '127.0.0.1:0' },
        tls: { cert_file: cert.certFile, key_file: cert.keyFile },
        log: { level: 'silent' },
      },
      'bench',
    ),
    { logger: silentLogger(), metrics: new Metrics(), env: {} },
  );
  // The baseline: same TLS settings, reads the body, answers a constant allowed AdmissionReview.
  const constant = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'x', allowed: true },
  });
  const baseline = createServer({ cert: cert.cert, key: cert.key, minVersion: 'TLSv1.2' }, (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(constant));
  });
  await new Promise<void>((r) => baseline.listen(0, '127.0.0.1', r));
  const baselinePort = (baseline.address() as AddressInfo).port;
  const ca = cert.certFile;

  console.log(
    `# /mutate under ${CONCURRENCY} concurrent HTTPS requests; ${REQUESTS} requests per run; ${availableParallelism()} cores; node ${process.version}`,
  );
  console.log(
    `# body: ${review.length} bytes (fixture 01, a Deployment pod that opts in: the full injection patch)`,
  );
  // CPU per request without sockets: mutate() against JSON.parse + JSON.stringify of the same body.
  const options = mutateOptionsFrom(
    validateConfig(injectorConfigSchema(), { agent: { native_sidecar: true } }, 'bench'),
    {},
  );
  const chartOptions = mutateOptionsFrom(validateConfig(injectorConfigSchema(), chartConfig, 'bench'), {});
  const perCall = (fn: () => void, n = 20_000) => {
    for (let i = 0; i < 2_000; i++) fn();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t) / n / 1000;
  };
  const parseOnly = perCall(() => JSON.stringify(JSON.parse(review)));
  const full = perCall(() => {
    const req = parseAdmissionReview(review);
    JSON.stringify(admissionResponse(req.uid, mutate(req, false, options).outcome));
  });
  const withConfig = perCall(() => {
    const req = parseAdmissionReview(review);
    JSON.stringify(admissionResponse(req.uid, mutate(req, false, chartOptions).outcome));
  });
  console.log(
    `CPU per request, no sockets: parse+decide+patch+encode ${full.toFixed(1)} µs (empty agent template), ${withConfig.toFixed(1)} µs (the chart's template + policy snapshot rendered into the pod) vs JSON parse+stringify baseline ${parseOnly.toFixed(1)} µs`,
  );
  const rows: [string, ClientResult][] = [];
  // Interleaved, twice each, so that drift on a shared machine hits both alike.
  for (let round = 0; round < 2; round++) {
    rows.push(['baseline (constant)', await runClient(baselinePort, '/mutate', ca, bodyFile, REQUESTS)]);
    rows.push([
      '/mutate (injector)',
      await runClient(injector.webhookPort, '/mutate', ca, bodyFile, REQUESTS),
    ]);
  }
  console.log('| server | p50 ms | p90 ms | p99 ms | max ms | req/s | errors |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, r] of rows) {
    console.log(
      `| ${name} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${Math.round(r.rps)} | ${r.errors} |`,
    );
  }
  const best = (name: string) => Math.min(...rows.filter(([n]) => n.startsWith(name)).map(([, r]) => r.p99));
  console.log(
    `p99: /mutate ${best('/mutate').toFixed(2)} ms vs baseline ${best('baseline').toFixed(2)} ms (best of 2 runs each)`,
  );
  await injector.close(2000);
  await new Promise<void>((r) => baseline.close(() => r()));
  rmSync(cert.dir, { recursive: true, force: true });
}

if (process.argv[2] === 'client') {
  const [, , , port, path, caFile, bodyFile, total] = process.argv;
  await client(
    Number(port),
    path as string,
    readFileSync(caFile as string, 'utf8'),
    bodyFile as string,
    Number(total),
  );
} else {
  await main();
}
