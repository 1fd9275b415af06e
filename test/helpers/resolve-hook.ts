import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The packages the agent imports only when its config needs them (issue 13: "load only what the config uses"). */
export const HEAVY_PACKAGES = [
  '@aws-sdk/client-s3',
  'hyparquet',
  'hyparquet-writer',
  '@kubernetes/client-node',
];

/**
 * Writes into `dir` a module hook (node:module register) that writes "resolved <url>" to stderr for every import
 * the process resolves, and returns the file to preload with `--import`.
 */
export function writeResolveHook(dir: string): string {
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  process.stderr.write('resolved ' + r.url + '\\n');
  return r;
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
  );
  return register;
}
