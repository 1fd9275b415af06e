/**
 * Every replica of the store, from a list of URLs or a headless Service's name resolved afresh each time: the
 * agents' decision feed (sampling.completion.stores / stores_dns) and the store's own peers (query.peers) find
 * the replicas the same way.
 */
import { lookup } from 'node:dns/promises';
import { SentinelError } from '../errors.js';
import { tlsServerNameFor } from './tls-server-name.js';

export interface Replica {
  /** Base URL, e.g. http://10.0.0.7:3200 */
  readonly url: string;
  /** TLS server name when the URL holds an address resolved from a name. */
  readonly servername?: string;
}

/** Resolves a host name to addresses (tests replace DNS). */
export type ResolveHost = (host: string) => Promise<string[]>;

const lookupAll: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export interface ReplicaSourceOptions {
  /** URLs of every replica; used when `dns` is empty. */
  readonly urls: readonly string[];
  /** `name`, `name:port` or `http(s)://name:port` of a headless Service (port 3200 by default). */
  readonly dns: string;
  /** The config key of `dns`, for the error when it is not a host name. */
  readonly dnsKey: string;
  readonly resolve?: ResolveHost | undefined;
}

/** The replicas, looked up on each `replicas()` call (a StatefulSet's addresses change as pods come and go). */
export class ReplicaSource {
  private readonly target: { protocol: string; host: string; port: number } | undefined;
  private readonly fixed: readonly Replica[];
  private readonly resolve: ResolveHost;

  constructor(options: ReplicaSourceOptions) {
    this.target = options.dns === '' ? undefined : parseDnsTarget(options.dns, options.dnsKey);
    this.fixed = options.urls.map((url) => ({ url: trimSlash(url) }));
    this.resolve = options.resolve ?? lookupAll;
  }

  /** Every replica, sorted by address; rejects when the name does not resolve. */
  async replicas(): Promise<Replica[]> {
    const target = this.target;
    if (target === undefined) return [...this.fixed];
    const addresses = await this.resolve(target.host);
    return [...new Set(addresses)].sort().map((address) => ({
      url: `${target.protocol}//${address.includes(':') ? `[${address}]` : address}:${target.port}`,
      // A trailing dot makes the name absolute for DNS (no search list); SNI must not carry it (RFC 6066 3).
      servername: tlsServerNameFor(target.host) ?? target.host,
    }));
  }
}

/** `name`, `name:port` or `http(s)://name:port` (port 3200, the query port, by default). */
export function parseDnsTarget(raw: string, key: string): { protocol: string; host: string; port: number } {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_INVALID',
      `${key}: expected a host name, host:port or http(s)://host:port, got ${JSON.stringify(raw)}`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_INVALID',
      `${key}: expected http or https, got ${u.protocol}`,
    );
  return { protocol: u.protocol, host: u.hostname, port: u.port === '' ? 3200 : Number(u.port) };
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
