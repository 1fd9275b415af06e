import { readFileSync } from 'node:fs';
import { SentinelError } from '../errors.js';

/**
 * The CA bundle of a `tls.ca_file` key, read once at start (undefined when the key is empty); a clear error
 * naming the key (`what`, e.g. `exporter store: tls.ca_file`) when the file cannot be read.
 */
export function readCaFile(caFile: string, what: string): Buffer | undefined {
  if (!caFile) return undefined;
  // `env:NAME`: the PEM is in an environment variable (the injector puts the store's CA into the pod spec, since
  // an app namespace holds no ConfigMap of ours to mount).
  if (caFile.startsWith('env:')) {
    const pem = process.env[caFile.slice(4)];
    if (pem) return Buffer.from(pem);
    throw new SentinelError(
      'SENTINEL_ERR_TLS_LOAD',
      `${what} ${caFile}: the environment variable is not set`,
    );
  }
  try {
    return readFileSync(caFile);
  } catch (err) {
    throw new SentinelError(
      'SENTINEL_ERR_TLS_LOAD',
      `${what} ${caFile} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
