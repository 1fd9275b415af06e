import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types; its constructor and run/close are all the tests use.
// @ts-expect-error -- untyped CommonJS module
import S3rverModule from 's3rver';
import { S3ObjectStore } from '../../src/storage/index.js';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = S3rverModule as new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver accepts only this key pair. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * A real S3-compatible server (s3rver) on 127.0.0.1, for tests. `stop()` and `start()` keep the same
 * port and directory, so a test can take S3 away and bring it back with the objects intact.
 */
export class TestS3 {
  readonly bucket: string;
  private readonly dir: string;
  private server: S3rverInstance | undefined;
  port = 0;

  constructor(bucket = 'sentinel-test') {
    this.bucket = bucket;
    this.dir = mkdtempSync(join(tmpdir(), 'sentinel-s3rver-'));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new S3rver({
      address: '127.0.0.1',
      port: this.port,
      silent: true,
      directory: this.dir,
      configureBuckets: [{ name: this.bucket }],
    });
    const address = await server.run();
    this.port = address.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await server.close();
  }

  /** A store on this server under `prefix`, with the test key pair set explicitly. */
  objectStore(prefix = 'traces', maxAttempts = 1): S3ObjectStore {
    return new S3ObjectStore(this.bucket, prefix, {
      endpoint: this.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts,
    });
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
