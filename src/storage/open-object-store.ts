import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore, type S3Options } from './s3-object-store.js';

/**
 * Opens the store a URL names: `s3://bucket/prefix` or `file:///abs/path` (also `file://./rel`, resolved
 * against the working directory, as the contract's default `file://./data` is written).
 */
export function openObjectStore(url: string, s3: S3Options = {}): ObjectStore {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (!bucket)
      throw new TypeError(`storage url: expected "s3://bucket/prefix", got ${JSON.stringify(url)}`);
    return new S3ObjectStore(bucket, prefix, s3);
  }
  if (url.startsWith('file://')) {
    const rest = url.slice('file://'.length);
    // file:///abs/path is a proper URL; file://./rel and file://rel are the relative shorthand.
    const path = rest.startsWith('/') ? fileURLToPath(url) : resolve(rest);
    return new LocalObjectStore(path, url);
  }
  if (isAbsolute(url)) return new LocalObjectStore(url, `file://${url}`);
  throw new TypeError(
    `storage url: expected "s3://bucket/prefix" or "file:///path", got ${JSON.stringify(url)}`,
  );
}
