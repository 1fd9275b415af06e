/**
 * dist/ as the image runs it (scripts/build.mjs, issue 13): one bundle, run from a folder without node_modules.
 * It carries every package it needs, the agent with the chart's exporter loads none of the heavy ones (the
 * bundle's chunks, mapped back to packages through esbuild's metafile) nor, on Node 24, node's undici, and the
 * embedded default (`npm start`)
 * encodes its blocks on the worker thread the bundle carries beside cli.js; `sentinel demo` runs from it too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { SpanStatusCode } from '@opentelemetry/api';
import { buildBundle, type Bundle } from './helpers/bundle.js';
import { HEAVY_PACKAGES, writeResolveHook } from './helpers/resolve-hook.js';
import { startSentinel } from './helpers/child.js';
import { S3RVER_CREDENTIALS, TestS3 } from './helpers/s3rver.js';
import { sdkExporter } from './helpers/sdk.js';

/**
 * Optional packages that a bundled one requires inside try/catch and does without: node-fetch's `encoding`, ws's
 * native `bufferutil` and `utf-8-validate` (both under @kubernetes/client-node). None is installed (npm ci), so
 * the image that copied node_modules did without them too.
 */
const OPTIONAL = ['encoding', 'bufferutil', 'utf-8-validate'];

let bundle: Bundle;
let register: string;
before(async () => {
  bundle = await buildBundle();
  register = writeResolveHook(bundle.dir);
  // As the process exits, the builtin modules node loaded (process.moduleLoadList).
  writeFileSync(
    join(bundle.dir, 'builtins.cjs'),
    `process.on('exit', () => process.stderr.write('builtins ' + JSON.stringify(process.moduleLoadList) + '\\n'));\n`,
  );
});
after(() => bundle?.remove());

/** The packages (`node_modules/<name>/`) that went into an output file of the bundle. */
function packagesIn(outputFile: string): Set<string> {
  const output = Object.entries(bundle.metafile.outputs).find(([path]) => resolve(path) === outputFile)?.[1];
  assert.ok(output, `${outputFile} is an output of the build`);
  const packages = new Set<string>();
  for (const input of Object.keys(output.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
    if (m?.[1]) packages.add(m[1]);
  }
  return packages;
}

/** Starts `sentinel agent` from the bundle with `config`, waits until it receives, returns it and its stderr. */
async function startAgent(config: string, env: Record<string, string> = {}) {
  let stderr = '';
  const agent = startSentinel(['agent', '--config', config], { POD_NAME: '', POD_NAMESPACE: '', ...env }, [
    '--import',
    register,
    '--require',
    join(bundle.dir, 'builtins.cjs'),
    bundle.cli,
  ]);
  agent.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const receiving = await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
  return { agent, receiving, stderr: () => stderr };
}

void describe('the bundle (npm run build) that the image runs', () => {
  void test('imports nothing but node: builtins and its own files: the image needs no node_modules', () => {
    const entries = Object.entries(bundle.metafile.outputs).filter(([p]) => p.endsWith('.js'));
    assert.ok(entries.length > 3, 'cli.js, the workers and their chunks');
    for (const [path, output] of entries) {
      for (const imp of output.imports) {
        if (imp.external)
          assert.ok(
            isBuiltin(imp.path) || (OPTIONAL.includes(imp.path) && imp.kind === 'require-call'),
            `${path} imports ${imp.path}, not part of the bundle`,
          );
        else assert.ok(existsSync(resolve(imp.path)), `${path} imports ${imp.path}, which was not written`);
      }
    }
    // A chunk reached by import() that exports only `default` is a CommonJS module: the importer's named exports
    // are not there (the AWS SDK's S3Client was undefined until scripts/build.mjs preferred ES module builds).
    for (const [path, output] of entries) {
      for (const imp of output.imports.filter((i) => i.kind === 'dynamic-import' && !i.external)) {
        const target = bundle.metafile.outputs[imp.path];
        assert.ok(target, `${path} imports ${imp.path}`);
        assert.notDeepEqual(target.exports, ['default'], `${path} imports ${imp.path}, a CommonJS module`);
      }
    }
    for (const name of [
      'cli.js',
      'block-encode-worker.js',
      'logs-encode-worker.js',
      'config-worker.js',
      'policy-worker.js',
    ])
      assert.ok(existsSync(join(bundle.dir, 'dist', name)), `dist/${name}`);
    assert.ok(!existsSync(join(bundle.dir, 'node_modules')));
    for (const name of OPTIONAL)
      assert.ok(!existsSync(join('node_modules', name)), `${name} is not installed`);
  });

  void test("the agent's process reaches no zod or yaml module; they are in the config and policy workers", () => {
    // issue 13: zod, yaml and the schemas held 3.2 MiB of V8 heap and 6.7 MiB anonymous for the agent's life.
    // The modules the agent's process can load: cli.ts's static imports, then the import()s that the
    // default config takes (the agent; its storage exporter on a directory), and theirs.
    const inputs = bundle.metafile.inputs;
    const taken = new Set([
      'src/cli.ts > src/agent/index.ts',
      'src/export/create-exporters.ts > src/export/storage-exporter.ts',
      'src/export/create-exporters.ts > src/storage/index.ts',
    ]);
    const reached = new Set<string>();
    const queue = ['src/cli.ts'];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (reached.has(file)) continue;
      reached.add(file);
      for (const imp of inputs[file]?.imports ?? []) {
        if (imp.external) continue;
        if (imp.kind === 'dynamic-import' && !taken.has(`${file} > ${imp.path}`)) continue;
        queue.push(imp.path);
      }
    }
    for (const file of ['src/agent/agent.ts', 'src/sampling/tail-sampler.ts', 'src/storage/index.ts'])
      assert.ok(reached.has(file), `the walk reached ${file}`);
    const heavy = (file: string) => /(^|\/)node_modules\/(zod|yaml)\//.test(file);
    assert.deepEqual([...reached].filter(heavy), []);
    assert.ok(!reached.has('src/config/index.ts'), "config's index loads every schema");
    const workers = {
      'src/config/config-worker.ts': 'config-worker.js',
      'src/sampling/policy-worker.ts': 'policy-worker.js',
    };
    for (const [source, file] of Object.entries(workers)) {
      const output = Object.entries(bundle.metafile.outputs).find(([, o]) => o.entryPoint === source);
      assert.ok(output, `${source} is an entry of the bundle`);
      assert.equal(resolve(output[0]), join(bundle.dir, 'dist', file));
      assert.ok(existsSync(join(bundle.dir, 'dist', file)), `dist/${file}`);
    }
  });

  void test("carries zod's English messages only, and a bad config reads as it does from the sources", () => {
    // scripts/build.mjs (zodEnglishOnly): zod's ~50 locales were 297 KB of the bundle, held by every agent.
    const locales = Object.values(bundle.metafile.outputs)
      .flatMap((o) => Object.keys(o.inputs))
      .filter((input) => input.includes('zod/v4/locales/'));
    assert.ok(locales.length > 0, 'the map from chunks to inputs sees the locale the bundle carries');
    assert.deepEqual(
      locales.filter((input) => !input.endsWith('zod/v4/locales/en.js')),
      [],
    );
    const config = join(bundle.dir, 'bad.yaml');
    writeFileSync(config, 'sampling: { num_traces: -1 }\nlog: { level: loud }\n');
    const run = (entry: string[]) =>
      spawnSync(process.execPath, [...entry, 'agent', '--config', config], { encoding: 'utf8' });
    const fromBundle = run([bundle.cli]);
    const fromSources = run(['--import', 'tsx', 'src/cli.ts']);
    assert.equal(fromBundle.status, 1, fromBundle.stderr);
    assert.match(
      fromBundle.stderr,
      /sampling\.num_traces: Too small: expected number to be >0, got number -1/,
    );
    assert.match(fromBundle.stderr, /log\.level: expected one of "trace" \|/);
    assert.equal(fromBundle.stderr, fromSources.stderr);
  });

  void test('with the chart exporter (OTLP/HTTP) the agent loads no chunk holding Parquet, the S3 client, the Kubernetes client or grpc-js', async () => {
    const config = join(bundle.dir, 'otlp.yaml');
    writeFileSync(
      config,
      [
        'receivers: { otlp: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } }',
        'admin: { endpoint: 127.0.0.1:0 }',
        'exporters:',
        '  - type: otlp',
        '    endpoint: http://127.0.0.1:1',
        '    protocol: http',
        '',
      ].join('\n'),
    );
    const { agent, stderr } = await startAgent(config);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
    const loaded = [...stderr().matchAll(/^resolved (file:\S+\.js)$/gm)].map((m) => fileURLToPath(m[1]!));
    const dist = join(bundle.dir, 'dist');
    assert.ok(
      loaded.length > 1 && loaded.every((f) => f.startsWith(dist)),
      'it loaded only files of the bundle',
    );
    const packages = new Set(loaded.flatMap((f) => [...packagesIn(f)]));
    assert.ok(packages.has('pino'), 'the map from chunks to packages sees what the agent does load');
    // zod and yaml load only in the config and policy worker processes (issue 13), which run without this hook.
    assert.deepEqual(
      [...HEAVY_PACKAGES, '@grpc/grpc-js', 'zod', 'yaml'].filter((p) => packages.has(p)),
      [],
    );
    // Node 24's undici (its fetch and WebSocket), which an ES module import of node:http loads there
    // (scripts/build.mjs, cjsBuiltins): 6 MiB of anonymous memory the agent has no use for.
    const builtins = JSON.parse(/^builtins (.*)$/m.exec(stderr())?.[1] ?? '[]') as string[];
    assert.ok(builtins.includes('NativeModule http'), 'the agent did load node:http');
    assert.deepEqual(
      builtins.filter((m) => m.includes('undici')),
      [],
    );
  });

  void test('the embedded default (npm start: a storage exporter on a directory) writes its block through the worker beside cli.js', async () => {
    const data = join(bundle.dir, 'data');
    mkdirSync(data);
    const config = join(bundle.dir, 'storage.yaml');
    writeFileSync(
      config,
      [
        'receivers: { otlp: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } }',
        'admin: { endpoint: 127.0.0.1:0 }',
        'sampling: { decision_wait: 100ms }',
        'exporters:',
        '  - type: storage',
        `    url: ${pathToFileURL(data).href}`,
        '',
      ].join('\n'),
    );
    const { agent, receiving } = await startAgent(config);
    const ports = receiving['ports'] as { http: number };
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `http://127.0.0.1:${ports.http}/v1/traces` }),
        }),
      ],
    });
    const span = provider.getTracer('checkout').startSpan('POST /orders');
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    await provider.shutdown();
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
    const blocks = readdirSync(join(data, 'blocks'), { recursive: true }).filter((f) =>
      String(f).endsWith('.parquet'),
    );
    assert.equal(blocks.length, 1, 'one block written');
    const mainThread = agent.logs.filter((l) => String(l['msg']).includes('main thread'));
    assert.deepEqual(mainThread, [], 'no block was encoded on the main thread for want of the worker');
  });

  void test("sentinel demo stores its SDK app's spans (the OpenTelemetry exporter imports node:http dynamically)", async () => {
    // The first cjsBuiltins plugin also rewrote dynamic imports of node:http, and the exporter's
    // `const { Agent } = await import('http')` found no Agent there: the demo stored nothing.
    const dir = join(bundle.dir, 'demo');
    const demo = startSentinel(['demo', '--duration', '3s', '--rate', '100', '--dir', dir], {}, [bundle.cli]);
    assert.equal(await demo.exited, 0, JSON.stringify(demo.logs.slice(-5)));
    const text = demo.logs.map((l) => String(l['msg'])).join('\n');
    const stored = /baseline: (\d+) spans stored for ~\d+; canary: (\d+) for/.exec(text);
    assert.ok(stored, text);
    assert.ok(Number(stored[1]) > 0 && Number(stored[2]) > 0, stored[0]);
  });

  void test('the store writes its blocks to S3 (s3rver) and reads a trace back from them', async () => {
    const s3 = new TestS3();
    await s3.start();
    try {
      // Port 0 everywhere: the store's start log names the ports it bound.
      const config = join(bundle.dir, 'store.yaml');
      writeFileSync(
        config,
        [
          `receivers: { otlp: { grpc: { endpoint: 127.0.0.1:0 }, http: { endpoint: 127.0.0.1:0 } } }`,
          `admin: { endpoint: 127.0.0.1:0 }`,
          `query: { endpoint: 127.0.0.1:0 }`,
          `storage: { url: s3://${s3.bucket}/traces, s3: { endpoint: ${s3.endpoint}, force_path_style: true } }`,
          `wal_dir: ${join(bundle.dir, 'wal')}`,
          '',
        ].join('\n'),
      );
      const env = {
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      };
      const store = startSentinel(['store', '--config', config], env, [bundle.cli]);
      const started = await store.waitForLog((l) => l['msg'] === 'sentinel store is receiving OTLP');
      const ports = started['ports'] as { grpc: number; http: number; query: number; admin: number };
      assert.ok(
        ports.grpc > 0 && ports.http > 0 && ports.query > 0 && ports.admin > 0,
        JSON.stringify(ports),
      );
      const provider = new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'checkout' }),
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: sdkExporter('grpc', { grpcPort: ports.grpc, httpPort: ports.http }),
          }),
        ],
      });
      const span = provider.getTracer('checkout').startSpan('POST /orders');
      const traceId = span.spanContext().traceId;
      span.end();
      await provider.shutdown();
      // SIGTERM cuts the open block and uploads it.
      store.child.kill('SIGTERM');
      assert.equal(await store.exited, 0, JSON.stringify(store.logs.filter((l) => Number(l['level']) >= 40)));
      const keys = (await s3.objectStore().list('blocks/')).map((o) => o.key);
      assert.ok(
        keys.some((k) => k.endsWith('.parquet')),
        keys.join(', '),
      );

      // A new store process reads the trace from S3 (Parquet through the bundled hyparquet and S3 client).
      const again = startSentinel(['store', '--config', config], env, [bundle.cli]);
      const restarted = await again.waitForLog((l) => l['msg'] === 'sentinel store is receiving OTLP');
      const query = (restarted['ports'] as { query: number }).query;
      const res = await fetch(`http://127.0.0.1:${query}/api/traces/${traceId}`);
      const body = await res.text();
      again.child.kill('SIGTERM');
      assert.equal(await again.exited, 0);
      assert.equal(res.status, 200, body);
      assert.match(body, /POST \/orders/);
    } finally {
      await s3.dispose();
    }
  });
});
