/**
 * Native sidecars only where every kubelet supports them (issue 14). The node a pod will run on is not known at
 * admission, so the oldest node's kubelet decides, as Istio does; the Nodes are listed in the background (cached
 * for `node_cache_ttl`), never on the admission path. SidecarContainers is beta and on by default from 1.29 and
 * GA in 1.33 (kubernetes.io/docs/concepts/workloads/pods/sidecar-containers).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequestDeadline } from '../enrich/index.js';
import type { Logger } from '../telemetry/index.js';

/** major, minor, patch. */
export type KubeletVersion = readonly [number, number, number];

/** Reads "v1.29.3-eks-5e0fdde" or "1.29" as [1, 29, 3] / [1, 29, 0]; undefined for anything else. */
export function parseKubeletVersion(text: string): KubeletVersion | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function compareVersions(a: KubeletVersion, b: KubeletVersion): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

export function formatVersion(v: KubeletVersion): string {
  return `${v[0]}.${v[1]}.${v[2]}`;
}

/** What `native_sidecar: auto` resolves to for the next pod, and why. */
export interface NativeSidecarChoice {
  readonly native: boolean;
  /** Set when the nodes could not be read: the pod gets a regular container and its warning says so. */
  readonly warning?: string;
}

/** Lists the Nodes' kubelet versions; the Kubernetes API in production, a function in tests. */
export type NodeLister = () => Promise<string[]>;

export interface NodeVersionWatchOptions {
  readonly list: NodeLister;
  readonly minimum: KubeletVersion;
  readonly ttlMs: number;
  readonly logger: Logger;
  readonly onListResult?: (outcome: 'ok' | 'error') => void;
}

/** Keeps the oldest kubelet version of the cluster, refreshed every `ttlMs`. */
export class NodeVersionWatch {
  private oldest: KubeletVersion | undefined;
  private listedOnce = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: NodeVersionWatchOptions) {}

  /** Lists once (so the first pods are decided from real data), then every ttl in the background. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The oldest kubelet version seen in the last successful list. */
  oldestKubelet(): KubeletVersion | undefined {
    return this.oldest;
  }

  /** Native sidecars when every node is at least the minimum; a regular container when unknown. */
  choice(): NativeSidecarChoice {
    const min = formatVersion(this.options.minimum);
    if (this.oldest === undefined) {
      return {
        native: false,
        warning: this.listedOnce
          ? `sentinel: no node reported a kubelet version; the agent is a regular container (native sidecars need kubelet >= ${min} on every node)`
          : `sentinel: the injector could not list the cluster's nodes; the agent is a regular container (native sidecars need kubelet >= ${min} on every node)`,
      };
    }
    return { native: compareVersions(this.oldest, this.options.minimum) >= 0 };
  }

  /** One list; on failure the last answer stays (a node list that fails says nothing new about kubelets). */
  async refresh(): Promise<void> {
    try {
      const versions = await this.options.list();
      let oldest: KubeletVersion | undefined;
      for (const text of versions) {
        const v = parseKubeletVersion(text);
        if (v === undefined) {
          this.options.logger.warn({ kubeletVersion: text }, 'a node reports an unreadable kubelet version');
          continue;
        }
        if (oldest === undefined || compareVersions(v, oldest) < 0) oldest = v;
      }
      const changed = formatVersion(oldest ?? [0, 0, 0]) !== formatVersion(this.oldest ?? [0, 0, 0]);
      this.oldest = oldest;
      this.listedOnce = true;
      this.options.onListResult?.('ok');
      if (changed) {
        this.options.logger.info(
          {
            oldestKubelet: oldest && formatVersion(oldest),
            nodes: versions.length,
            native: this.choice().native,
          },
          'oldest kubelet version',
        );
      }
    } catch (err) {
      this.options.onListResult?.('error');
      this.options.logger.warn({ err }, 'cannot list nodes; keeping the last kubelet version seen');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.options.ttlMs);
    this.timer.unref();
  }
}

/** Lists Nodes through @kubernetes/client-node (imported only when `native_sidecar: auto`). */
export async function kubernetesNodeLister(kubeconfig: string, timeoutMs: number): Promise<NodeLister> {
  const k8s = await import('@kubernetes/client-node');
  const kc: KubeConfig = new k8s.KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return async () => {
    const versions: string[] = [];
    let next: string | undefined;
    do {
      const page = await core.listNode(
        { limit: 500, ...(next ? { _continue: next } : {}) },
        kubeRequestDeadline(timeoutMs),
      );
      for (const node of page.items) versions.push(node.status?.nodeInfo?.kubeletVersion ?? '');
      next = page.metadata?._continue || undefined;
    } while (next);
    return versions;
  };
}
