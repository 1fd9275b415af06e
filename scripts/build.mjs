/**
 * `npm run build`: dist/ as the image runs it, one ES module bundle of src/ and its dependencies (issue 13).
 *
 * Why a bundle and not tsc's one file per source: the agent runs in every pod, and an idle agent built by tsc
 * held 4 MiB more anonymous memory than the same code bundled (bench/agent-idle.ts, BENCHMARKS.md "Session 8":
 * 23.0 against 19.1 MiB, V8's old space 13.7 against 10.0): each module is a record, a scope and a source string
 * of its own. (Tree shaking does not drop zod's locales: its `export * as locales` keeps them.) Code splitting
 * keeps what the config loads lazily (the S3 client, Parquet, the Kubernetes client, the store, the injector) in
 * chunks of their own, loaded at the first `import()`; test/build.test.ts checks it on the built files. Identifier
 * minification measured no smaller (19.7 MiB with names kept), so names and stack frames stay readable; the
 * source maps lead back to src/.
 *
 * Layout: dist/cli.js (the `sentinel` binary), the four workers beside it (src/storage/worker-thread.ts and
 * src/config/worker-call.ts start `./<name>.js` next to the chunk that calls it), and the chunks, all in dist/ itself (version.ts reads
 * `../package.json` from its chunk). Nothing in dist/ imports node_modules: the image needs no node_modules.
 *
 * node:http is taken with require(), not imported: on Node 24 an ES module import of node:http builds its ES module
 * facade, which reads every export, among them the lazy `WebSocket`, `CloseEvent` and `MessageEvent` getters that
 * load node's bundled undici (750 KiB of source, compiled): Node 24 alone importing node:http holds 62 MiB RSS,
 * 16.6 MiB anonymous, requiring it 49 and 10.4 (BENCHMARKS.md "Session 8"). `cjsBuiltins` turns each such import
 * into a require() of the builtin; packages that require() it already did. test/build.test.ts checks that the
 * agent loads no undici.
 *
 * `node scripts/build.mjs [outdir]` (default dist); `buildDist(outdir, { metafile })` for tests.
 */
import * as esbuild from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Entry points: `sentinel` and the workers: the encoders (src/storage/*-worker.ts, worker threads), and the config
 * and policy validation that the agent runs in a child process (src/config/worker-call.ts, issue 13).
 */
export const ENTRY_POINTS = {
  cli: 'src/cli.ts',
  'block-encode-worker': 'src/storage/block-encode-worker.ts',
  'logs-encode-worker': 'src/storage/logs-encode-worker.ts',
  'config-worker': 'src/config/config-worker.ts',
  'policy-worker': 'src/sampling/policy-worker.ts',
};

/** Builtins whose ES module import costs what their require() does not (see above). */
const REQUIRED_BUILTINS = /^(node:)?http$/;

/** Imports of REQUIRED_BUILTINS become a CommonJS module that requires the builtin (esbuild then interops). */
const cjsBuiltins = {
  name: 'cjs-builtins',
  setup(build) {
    // Static imports only: a dynamic import() of the wrapper would resolve to a namespace without the named
    // exports (`const { Agent } = await import('http')` in the OpenTelemetry exporter that `sentinel demo` runs).
    build.onResolve({ filter: REQUIRED_BUILTINS }, (args) =>
      args.kind === 'import-statement'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'cjs-builtin' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'cjs-builtin' }, (args) => ({
      contents: `module.exports = require('node:${args.path}');`,
      loader: 'js',
    }));
  },
};

/**
 * zod's index re-exports all of its ~50 error-message locales (`export * as locales`), which tree shaking keeps:
 * 297 KB of the bundle, loaded and held as source by every agent. Sentinel uses English only (zod's default,
 * set with `config(en())` in its classic API), so the bundle's `locales` namespace is English alone.
 * BENCHMARKS.md "Session 11" has what it saved; test/build.test.ts checks the bundle.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: join(args.resolveDir, '..', 'locales', 'en.js'), namespace: 'zod-locales' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * Builds the bundle into `outdir` (emptied first). With `metafile`, writes esbuild's metafile to
 * `<outdir>/meta.json` too (which inputs went into which output file) and returns it.
 */
export async function buildDist(outdir = join(ROOT, 'dist'), { metafile = false } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRY_POINTS,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // A package's ES module build before its CommonJS one, where it has both and no `exports` map (the AWS SDK):
    // with code splitting, a CommonJS module reached by `import()` becomes a chunk that exports only `default`,
    // so `(await import('@aws-sdk/client-s3')).S3Client` was undefined and the store could not upload a block.
    mainFields: ['module', 'main'],
    // CommonJS packages (grpc-js, prom-client, pino) call require() for node's modules; an ES module has no
    // require of its own.
    banner: {
      js: "import { createRequire as __sentinelRequire } from 'node:module'; const require = __sentinelRequire(import.meta.url);",
    },
    minifySyntax: true,
    minifyWhitespace: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    metafile,
    plugins: [cjsBuiltins, zodEnglishOnly],
    logLevel: 'warning',
  });
  if (metafile) writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  return result.metafile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildDist(process.argv[2] ? resolve(process.argv[2]) : undefined);
}
