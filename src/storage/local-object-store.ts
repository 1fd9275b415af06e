import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { SentinelError } from '../errors.js';
import { checkKey, type ObjectInfo, type ObjectStore } from './object-store.js';

/** Temporary files of half-written objects carry this marker; listings never show them. */
const TEMP_MARKER = '.sentinel-tmp-';

/**
 * Objects as files under a root directory: the embedded default (`file://./data`). Writes go to a
 * temporary file that is fsynced and renamed into place, so a reader never sees half an object.
 */
export class LocalObjectStore implements ObjectStore {
  readonly url: string;
  readonly root: string;

  constructor(root: string, url = `file://${root}`) {
    this.root = root;
    this.url = url;
  }

  private path(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw storageError('get', key, err);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    let fh;
    try {
      fh = await open(this.path(key), 'r');
    } catch (err) {
      throw storageError('getRange', key, err);
    }
    try {
      const length = Math.max(0, end - start);
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, done);
    } finally {
      await fh.close();
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const path = this.path(key);
    const tmp = `${path}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw storageError('put', key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk only the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirPart = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = dirPart ? join(this.root, ...dirPart.split('/')) : this.root;
    const out: ObjectInfo[] = [];
    await this.walk(start, prefix, out);
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  private async walk(dir: string, prefix: string, out: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw storageError('list', prefix, err);
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        // Skip directories that cannot hold a matching key.
        if (key.startsWith(prefix) || prefix.startsWith(key + '/')) await this.walk(path, prefix, out);
      } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.includes(TEMP_MARKER)) {
        try {
          const st = await stat(path);
          out.push({ key, size: st.size, lastModified: st.mtime });
        } catch (err) {
          if (!isMissing(err)) throw storageError('list', prefix, err);
        }
      }
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true });
    } catch (err) {
      throw storageError('delete', key, err);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.path(key));
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw storageError('head', key, err);
    }
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function storageError(op: string, key: string, err: unknown): SentinelError {
  if (err instanceof TypeError) throw err;
  return new SentinelError('SENTINEL_ERR_STORAGE', `${op} ${key}: ${(err as Error).message}`, { cause: err });
}
