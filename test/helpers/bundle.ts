import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDist, type Metafile } from '../../scripts/build.mjs';

/** dist/ as the image holds it, built by `npm run build` into a folder of its own. */
export interface Bundle {
  /** The folder: dist/ and package.json, and no node_modules (as in the image). */
  readonly dir: string;
  /** dist/cli.js, the image's `sentinel`. */
  readonly cli: string;
  /** Which sources and packages went into which file of dist/ (esbuild's metafile, paths relative to the repo). */
  readonly metafile: Metafile;
  remove(): void;
}

/**
 * Builds the bundle (scripts/build.mjs) into a temporary folder beside package.json, with nothing else: run from
 * there, it can load no package but what it carries.
 */
export async function buildBundle(): Promise<Bundle> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bundle-'));
  const metafile = await buildDist(join(dir, 'dist'), { metafile: true });
  if (!metafile) throw new Error('scripts/build.mjs returned no metafile');
  copyFileSync('package.json', join(dir, 'package.json'));
  return {
    dir,
    cli: join(dir, 'dist', 'cli.js'),
    metafile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
