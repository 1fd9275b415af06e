/** What Sentinel asks of object storage: the few verbs blocks need, the same on S3 and on a local directory. */

/** One stored object as a listing or `head` describes it. */
export interface ObjectInfo {
  /** The key relative to the store's root (its URL's prefix), `/`-separated. */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/**
 * A flat key space of immutable objects. Keys are relative to the root the store was opened on
 * (`s3://bucket/prefix` or `file:///path`), use `/` as separator and never start with one.
 */
export interface ObjectStore {
  /** The URL the store was opened on, for logs. */
  readonly url: string;
  /** The whole object, or undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Bytes `[start, end)` of an object (an HTTP Range read on S3); rejects when the object does not exist. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Writes the object whole; a reader sees either the old object, none, or all of the new one. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Size and time of the object, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
}

/** Counts of the requests an `ObjectStore` made, for tests, benchmarks and metrics. */
export interface ObjectStoreStats {
  gets: number;
  rangeGets: number;
  puts: number;
  lists: number;
  deletes: number;
  heads: number;
  bytesRead: number;
  bytesWritten: number;
}

/** Wraps a store and counts every request it forwards (`stats`), so tests can assert how many GETs a lookup made. */
export class CountingObjectStore implements ObjectStore {
  readonly stats: ObjectStoreStats = {
    gets: 0,
    rangeGets: 0,
    puts: 0,
    lists: 0,
    deletes: 0,
    heads: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };
  private readonly inner: ObjectStore;

  constructor(inner: ObjectStore) {
    this.inner = inner;
  }

  get url(): string {
    return this.inner.url;
  }

  /** Every GET, whole or ranged. */
  get totalGets(): number {
    return this.stats.gets + this.stats.rangeGets;
  }

  resetStats(): void {
    for (const k of Object.keys(this.stats) as (keyof ObjectStoreStats)[]) this.stats[k] = 0;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.stats.gets++;
    const body = await this.inner.get(key);
    this.stats.bytesRead += body?.byteLength ?? 0;
    return body;
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    this.stats.rangeGets++;
    const body = await this.inner.getRange(key, start, end);
    this.stats.bytesRead += body.byteLength;
    return body;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    this.stats.puts++;
    this.stats.bytesWritten += body.byteLength;
    await this.inner.put(key, body);
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    this.stats.lists++;
    return this.inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    this.stats.deletes++;
    return this.inner.delete(key);
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    this.stats.heads++;
    return this.inner.head(key);
  }
}

/** Rejects keys that could escape the store's root or that no backend can hold. */
export function checkKey(key: string): void {
  if (
    key.length === 0 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((part) => part === '..' || part === '.' || part === '')
  ) {
    throw new TypeError(`object key: expected a relative "/"-separated path, got ${JSON.stringify(key)}`);
  }
}
