import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startAgent, type RunningAgent } from '../agent/index.js';
import { renderHtml, renderTable, type CompareCommandIo, type CompareReport } from '../compare/index.js';
import { agentConfigSchema, parseDurationMs, storeConfigSchema, validateConfig } from '../config/index.js';
import { startStore, type RunningStore } from '../store/index.js';
import { createLogger, Metrics, type Logger } from '../telemetry/index.js';

const USAGE = `usage: sentinel demo [--duration 60s] [--rate 50] [--dir DIR] [--out FILE]

Starts a store on a local directory, a baseline and a canary agent, and an app simulated with the
OpenTelemetry SDK whose canary is slower and fails more; after --duration it prints the comparison and
writes the HTML report.

  --duration D   how long the app sends requests (default 60s)
  --rate N       requests per second per variant (default 50)
  --dir DIR      where the store keeps its blocks and WAL (default: a new temporary directory)
  --out FILE     the HTML report (default DIR/report.html)
`;

/** The demo's app: a checkout service; the canary is 35 % slower and fails 4 % of requests instead of 1 %. */
const APP = {
  service: 'checkout',
  operations: ['GET /cart', 'POST /checkout', 'GET /product/{id}'],
  medianMs: 40,
  sigma: 0.5,
  variants: {
    baseline: { version: '1.4.0', latencyFactor: 1, errorRate: 0.01 },
    canary: { version: '1.5.0', latencyFactor: 1.35, errorRate: 0.04 },
  },
} as const;

/** Errors kept, a quarter of the rest: stored spans carry sampling.weight 1 or 4. */
const POLICY = `policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: quarter-of-the-rest
    type: probabilistic
    probabilistic: { sampling_percentage: 25 }
`;

interface DemoOptions {
  readonly durationMs: number;
  readonly rate: number;
  readonly dir: string;
  readonly out: string;
}

/** The demo's flags, or the exit code when they are wrong (3) or ask for help (0). */
function parseDemoArgs(argv: string[], io: CompareCommandIo): DemoOptions | number {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        duration: { type: 'string', default: '60s' },
        rate: { type: 'string', default: '50' },
        dir: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`sentinel demo: ${(err as Error).message}\n\n${USAGE}`);
    return 3;
  }
  if (values['help']) {
    io.stdout(USAGE);
    return 0;
  }
  const durationMs = parseDurationMs(values['duration'] as string);
  const rate = Number(values['rate']);
  if (durationMs === undefined || durationMs <= 0 || !Number.isFinite(rate) || rate <= 0 || rate > 5000) {
    io.stderr(`sentinel demo: expected --duration like "60s" and --rate between 1 and 5000\n`);
    return 3;
  }
  const dir = resolve((values['dir'] as string | undefined) ?? mkdtempSync(join(tmpdir(), 'sentinel-demo-')));
  const out = resolve((values['out'] as string | undefined) ?? join(dir, 'report.html'));
  return { durationMs, rate, dir, out };
}

function startDemoStore(dir: string, logger: Logger): Promise<RunningStore> {
  const config = validateConfig(
    storeConfigSchema(),
    {
      receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
      admin: { endpoint: '127.0.0.1:0' },
      query: { endpoint: '127.0.0.1:0', refresh_interval: '1s' },
      storage: { url: `file://${join(dir, 'data')}` },
      wal_dir: join(dir, 'wal'),
      block: { max_age: '10s' },
      compaction: { enabled: false },
    },
    'sentinel demo',
  );
  return startStore(config, { logger, metrics: new Metrics() });
}

/** One agent of the demo's app, exporting to the store over OTLP/gRPC. */
function startDemoAgent(
  variant: 'baseline' | 'canary',
  dir: string,
  storeGrpcPort: number,
  logger: Logger,
): Promise<RunningAgent> {
  // The agent learns its variant as in a pod: from the pod's labels in the Downward API volume.
  writeFileSync(
    join(dir, `podinfo-${variant}`, 'labels'),
    `app="${APP.service}"\ntrack="${variant}"\napp.kubernetes.io/version="${APP.variants[variant].version}"\n`,
  );
  const config = validateConfig(
    agentConfigSchema(),
    {
      receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
      admin: { endpoint: '127.0.0.1:0' },
      log: { level: 'warn' },
      enrich: { podinfo_dir: join(dir, `podinfo-${variant}`) },
      sampling: { policy_file: join(dir, 'policy.yaml'), decision_wait: '2s' },
      exporters: [
        {
          type: 'otlp',
          endpoint: `http://127.0.0.1:${storeGrpcPort}`,
          protocol: 'grpc',
          batch: { timeout: '500ms' },
        },
      ],
    },
    `sentinel demo (${variant} agent)`,
  );
  const index = variant === 'baseline' ? 0 : 1;
  return startAgent(config, {
    logger,
    metrics: new Metrics(),
    env: { POD_NAME: `${APP.service}-${variant}-5d8c7-x${index}`, POD_NAMESPACE: 'demo' },
  });
}

/** Asks the store to compare canary with baseline; prints the table and writes the HTML report. */
async function reportComparison(
  store: RunningStore,
  options: DemoOptions,
  io: CompareCommandIo,
): Promise<void> {
  const res = await fetch(
    `http://127.0.0.1:${store.ports.query}/api/compare?service=${APP.service}&window=1h`,
  );
  if (res.status !== 200) throw new Error(`GET /api/compare answered ${res.status}: ${await res.text()}`);
  const report = (await res.json()) as CompareReport;
  io.stdout('\n' + renderTable(report));
  writeFileSync(options.out, renderHtml(report));
  io.stdout(
    `\nHTML report: ${options.out}\nThe same from the command line: sentinel compare --storage file://${join(options.dir, 'data')} --service ${APP.service}\n`,
  );
}

/**
 * `sentinel demo`: the whole path on one machine, everything on 127.0.0.1 ephemeral ports. Its own room
 * (src/demo, issue 17), the only one besides the CLI that imports both the agent and the store; the SDK that
 * plays the app is imported when the demo runs.
 */
export async function runDemo(argv: string[], io: CompareCommandIo): Promise<number> {
  const options = parseDemoArgs(argv, io);
  if (typeof options === 'number') return options;
  const { dir } = options;
  const logger = createLogger('warn', 'sentinel-demo');
  for (const d of ['data', 'wal', 'podinfo-baseline', 'podinfo-canary'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'policy.yaml'), POLICY);

  io.stdout(`sentinel demo: working directory ${dir}\n`);
  const store = await startDemoStore(dir, logger);
  const agents: RunningAgent[] = [];
  try {
    for (const variant of ['baseline', 'canary'] as const)
      agents.push(await startDemoAgent(variant, dir, store.ports.grpc, logger));
    io.stdout(
      `store: OTLP gRPC 127.0.0.1:${store.ports.grpc}, query API http://127.0.0.1:${store.ports.query}\n` +
        agents
          .map(
            (a, i) =>
              `${i === 0 ? 'baseline' : 'canary'} agent: OTLP http://127.0.0.1:${a.ports.http}, metrics http://127.0.0.1:${a.ports.admin}/metrics\n`,
          )
          .join(''),
    );
    const ports = agents.map((a) => a.ports.http);
    const sent = await simulateApp(ports, options.durationMs, options.rate, io);
    io.stdout(`app: sent ${sent} requests; draining the agents (tail-sampling decisions, export)\n`);
    for (const a of agents) await a.shutdown();
    agents.length = 0;
    await store.pipeline.forceFlush();
    await reportComparison(store, options, io);
    return 0;
  } finally {
    for (const a of agents) await a.shutdown().catch(() => undefined);
    await store.shutdown();
  }
}

/** A seeded uniform source (mulberry32), so every demo draws the same requests. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The app: one OpenTelemetry SDK tracer provider per variant, exporting OTLP/HTTP to its agent. Each request is
 * a SERVER span with a CLIENT child (its database call); durations are drawn, not waited for, so the demo needs
 * no real load to show a minute of traffic.
 */
async function simulateApp(
  httpPorts: readonly number[],
  durationMs: number,
  rate: number,
  io: CompareCommandIo,
): Promise<number> {
  const api = await import('@opentelemetry/api');
  const { TracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  const random = rng(7);
  const gaussian = () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
  const variants = (['baseline', 'canary'] as const).map((variant, i) => {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        'service.name': APP.service,
        'service.version': APP.variants[variant].version,
      }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `http://127.0.0.1:${httpPorts[i]}/v1/traces` }),
          maxQueueSize: 100_000,
          maxExportBatchSize: 512,
          scheduledDelayMillis: 200,
        }),
      ],
    });
    return { variant, provider, tracer: provider.getTracer('sentinel-demo-app') };
  });
  let sent = 0;
  const tickMs = 100;
  const perTick = rate / (1000 / tickMs);
  let owed = 0;
  const start = Date.now();
  let lastReport = start;
  while (Date.now() - start < durationMs) {
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    const now = Date.now();
    for (const { variant, tracer } of variants) {
      const v = APP.variants[variant];
      for (let k = 0; k < n; k++) {
        const ms = Math.exp(Math.log(APP.medianMs) + APP.sigma * gaussian()) * v.latencyFactor;
        const failed = random() < v.errorRate;
        const name = APP.operations[Math.floor(random() * APP.operations.length)]!;
        const begin = now - ms;
        const server = tracer.startSpan(name, { kind: api.SpanKind.SERVER, startTime: begin });
        const ctx = api.trace.setSpan(api.context.active(), server);
        const db = tracer.startSpan(
          'SELECT cart',
          { kind: api.SpanKind.CLIENT, startTime: begin + ms * 0.1 },
          ctx,
        );
        db.end(begin + ms * 0.8);
        if (failed) server.setStatus({ code: api.SpanStatusCode.ERROR, message: 'upstream timeout' });
        server.end(now);
        sent++;
      }
    }
    if (now - lastReport >= 10_000) {
      lastReport = now;
      io.stdout(`app: ${Math.round((now - start) / 1000)} s, ${sent} requests sent\n`);
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  for (const { provider } of variants) {
    await provider.forceFlush();
    await provider.shutdown();
  }
  return sent;
}
