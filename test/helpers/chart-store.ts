/**
 * The store as the chart runs it: started from the rendered store.yaml, with the files the kubelet would mount
 * for it (the reader token Secret, the policy ConfigMap, the TLS Secret's pair) placed under `dir/fs`, its
 * listeners on 127.0.0.1 port 0 and its TokenReview calls sent to a stand-in API server (`kubeconfig`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ResolveHost } from '../../src/http/index.js';
import { startTestStore } from './store-harness.js';

interface ChartObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

function put(file: string, content: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** The chart's `query.peers` (store.replicas > 1), as rendered. */
interface RenderedPeers {
  dns: string;
  bearer_token_file?: string;
  tls?: { ca_file: string };
}

export async function startChartStore(
  objects: readonly ChartObject[],
  dir: string,
  options: {
    kubeconfig: string;
    tls?: { cert: string; key: string };
    /**
     * With several replicas: the port the other replicas' query servers listen on (the rendered name's :3200
     * cannot be bound here) and the DNS that resolves the headless Service's name to them.
     */
    peers?: { port: number; resolve: ResolveHost };
  },
): ReturnType<typeof startTestStore> {
  const data = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name)?.data ?? {};
  const storeYaml = parseYaml(data('ConfigMap', 'sentinel-store')['store.yaml'] ?? '') as {
    tls: { cert_file: string; key_file: string };
    auth: { reader_token_files: string[]; token_review: Record<string, unknown> };
    policy: { file: string };
    decisions: { dir: string };
    wal_dir: string;
    query: { peers?: RenderedPeers };
  } & Record<string, unknown>;
  const at = (path: string) => (path ? join(dir, 'fs', path) : path);
  const reader = Buffer.from(data('Secret', 'sentinel-store-auth')['token'] ?? '', 'base64');
  for (const f of storeYaml.auth.reader_token_files) put(at(f), reader);
  if (storeYaml.policy.file)
    put(at(storeYaml.policy.file), data('ConfigMap', 'sentinel-policy')['policy.yaml'] ?? '');
  if (storeYaml.tls.cert_file) {
    put(at(storeYaml.tls.cert_file), options.tls?.cert ?? '');
    put(at(storeYaml.tls.key_file), options.tls?.key ?? '');
  }
  // The store's ConfigMap is mounted whole at /etc/sentinel-store: its other keys (the CA) are files there too.
  const configMap = data('ConfigMap', 'sentinel-store');
  for (const [key, value] of Object.entries(configMap))
    if (key !== 'store.yaml') put(at(join('/etc/sentinel-store', key)), value);
  const peers = storeYaml.query.peers;
  return startTestStore({
    dir,
    overrides: {
      ...storeYaml,
      receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
      admin: { endpoint: '127.0.0.1:0' },
      query: {
        endpoint: '127.0.0.1:0',
        refresh_interval: '0s',
        ...(peers
          ? {
              peers: {
                ...peers,
                dns: options.peers ? peers.dns.replace(/:3200$/, `:${options.peers.port}`) : peers.dns,
                bearer_token_file: peers.bearer_token_file ? at(peers.bearer_token_file) : '',
                tls: { ca_file: peers.tls ? at(peers.tls.ca_file) : '' },
              },
            }
          : {}),
      },
      storage: { url: `file://${join(dir, 'data')}` },
      wal_dir: at(storeYaml.wal_dir),
      decisions: { ...storeYaml.decisions, dir: at(storeYaml.decisions.dir) },
      compaction: { enabled: false, interval: '0s' },
      tls: { ...storeYaml.tls, cert_file: at(storeYaml.tls.cert_file), key_file: at(storeYaml.tls.key_file) },
      auth: {
        ...storeYaml.auth,
        reader_token_files: storeYaml.auth.reader_token_files.map(at),
        token_review: { ...storeYaml.auth.token_review, kubeconfig: options.kubeconfig },
      },
      policy: { file: at(storeYaml.policy.file) },
      log: { level: 'silent' },
    },
    ...(options.peers ? { resolve: options.peers.resolve } : {}),
  });
}
