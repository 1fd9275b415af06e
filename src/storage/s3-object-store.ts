import type * as S3SdkModule from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { SentinelError } from '../errors.js';
import { checkKey, type ObjectInfo, type ObjectStore } from './object-store.js';

/** The `s3:` settings of a storage URL (CONTRACT.md `storage.s3`). */
export interface S3Options {
  /** A custom endpoint (MinIO, s3rver, ...); empty for AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** Static credentials; omitted, the SDK's default chain (env, IRSA web identity, profile, IMDS) applies. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Attempts per request inside the SDK (its own retry); the store retries uploads on top. */
  readonly maxAttempts?: number;
}

type S3Sdk = typeof S3SdkModule;

/**
 * Objects in an S3 bucket under a prefix (`s3://bucket/prefix`), through @aws-sdk/client-s3. The SDK (about
 * 7 MiB of resident memory) is imported at the first request, not when this module loads: a process that never
 * talks to S3 does not carry it (issue 13).
 */
export class S3ObjectStore implements ObjectStore {
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly config: S3ClientConfig;
  private sdk: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;

  constructor(bucket: string, prefix: string, options: S3Options = {}) {
    this.bucket = bucket;
    this.prefix = prefix.replace(/^\/+|\/+$/g, '');
    this.url = `s3://${bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    const config: S3ClientConfig = {
      region: options.region || 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? false,
      // S3-compatible servers that do not speak aws-chunked uploads would otherwise store the chunk
      // framing instead of our bytes (SDK >= 3.729 checksums by default).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 3,
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.credentials) config.credentials = { ...options.credentials };
    this.config = config;
  }

  /** The SDK and its client, made at the first request. */
  private load(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.sdk ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: new sdk.S3Client(this.config) }));
    return this.sdk;
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const { sdk, client } = await this.load();
      const res = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }),
      );
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError('get', key, err);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    try {
      const { sdk, client } = await this.load();
      const res = await client.send(
        new sdk.GetObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          Range: `bytes=${start}-${end - 1}`,
        }),
      );
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      throw storageError('getRange', key, err);
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    try {
      const { sdk, client } = await this.load();
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.fullKey(key),
          Body: body,
          ContentLength: body.byteLength,
        }),
      );
    } catch (err) {
      throw storageError('put', key, err);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      const { sdk, client } = await this.load();
      do {
        const res = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }),
        );
        for (const o of res.Contents ?? []) {
          if (!o.Key) continue;
          out.push({
            key: o.Key.slice(strip),
            size: o.Size ?? 0,
            lastModified: o.LastModified ?? new Date(0),
          });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw storageError('list', prefix, err);
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  async delete(key: string): Promise<void> {
    try {
      const { sdk, client } = await this.load();
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw storageError('delete', key, err);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const { sdk, client } = await this.load();
      const res = await client.send(
        new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }),
      );
      return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError('head', key, err);
    }
  }

  /** Closes the SDK's sockets (once the SDK is loaded). */
  destroy(): void {
    void this.sdk?.then(
      ({ client }) => client.destroy(),
      () => undefined,
    );
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function storageError(op: string, key: string, err: unknown): Error {
  if (err instanceof TypeError) return err;
  const e = err as { name?: string; message?: string };
  return new SentinelError(
    'SENTINEL_ERR_STORAGE',
    `S3 ${op} ${key}: ${e.name ?? 'Error'}: ${e.message ?? ''}`,
    {
      cause: err,
    },
  );
}
