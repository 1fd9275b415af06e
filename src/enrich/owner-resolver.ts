import type { KubeConfig } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import type { Logger, Metrics } from '../telemetry/index.js';
import { kubeRequestDeadline } from './kube-request-deadline.js';
import type { WorkloadNames } from './workload-names.js';

/** What the Kubernetes API said about the own pod and its owner chain. */
export interface ApiPodFacts {
  readonly labels: ReadonlyMap<string, string>;
  readonly annotations: ReadonlyMap<string, string>;
  readonly nodeName?: string;
  readonly podUid?: string;
  readonly podIp?: string;
  readonly workload: WorkloadNames;
  /** See VariantInput.flaggerPrimarySibling; undefined when not checked or not allowed. */
  readonly flaggerPrimarySibling?: boolean;
}

export interface OwnerResolverOptions {
  /** Tests point this at a local server; otherwise the in-cluster service account config is loaded. */
  readonly kubeConfig?: KubeConfig | undefined;
  readonly timeoutMs: number;
  readonly cacheSize: number;
  readonly cacheTtlMs: number;
  /** Look for a Flagger `<deployment>-primary` sibling (needs `get deployments`). */
  readonly checkFlagger: boolean;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** The slice of an object's metadata this room reads. */
interface ObjectMeta {
  name?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; controller?: boolean }[];
}

interface ObjectFacts {
  readonly meta: ObjectMeta;
  readonly nodeName?: string | undefined;
  readonly podIp?: string | undefined;
  readonly templateAnnotations?: Record<string, string> | undefined;
}

type Kind = 'pods' | 'replicasets' | 'jobs' | 'deployments';

/** A GET that found nothing (404) or was refused (403): an answer, not a failure to retry. */
class AbsentObject {
  constructor(readonly status: number) {}
}

interface Clients {
  get(kind: Kind, namespace: string, name: string): Promise<ObjectFacts>;
}

/**
 * Reads the own pod and its owner chain (ReplicaSet -> Deployment, Job -> CronJob) through
 * @kubernetes/client-node. Objects are cached (lru-cache) so the chain is read once per pod, not per span;
 * every request has a deadline. The client is imported on first use: an agent with the API off never loads it.
 */
export class OwnerResolver {
  private readonly options: OwnerResolverOptions;
  private readonly cache: LRUCache<string, ObjectFacts | AbsentObject>;
  private readonly requests;
  private clients: Promise<Clients> | undefined;

  constructor(options: OwnerResolverOptions) {
    this.options = options;
    this.cache = new LRUCache({ max: options.cacheSize, ttl: options.cacheTtlMs });
    this.requests = options.metrics.counter(
      'enrich_kubernetes_api_requests_total',
      'Requests to the Kubernetes API for the own pod and its owners, by resource and outcome.',
      ['resource', 'outcome'],
    );
  }

  /** Resolves the pod's facts; rejects when the pod itself cannot be read (the caller retries later). */
  async resolvePod(namespace: string, podName: string): Promise<ApiPodFacts> {
    const pod = await this.get('pods', namespace, podName);
    if (pod instanceof AbsentObject) {
      throw new Error(`pod ${namespace}/${podName}: the API answered ${pod.status}`);
    }
    const labels = toMap(pod.meta.labels);
    const workload: WorkloadNames = {};
    const owner = controllerOf(pod.meta);
    if (owner?.kind === 'ReplicaSet') {
      workload.replicaset = owner.name;
      const rs = await this.getOptional('replicasets', namespace, owner.name);
      const rsOwner = rs ? controllerOf(rs.meta) : undefined;
      if (rsOwner?.kind === 'Deployment') workload.deployment = rsOwner.name;
      else if (!rs) {
        // Not allowed to read ReplicaSets: the name still tells the Deployment (k8sattributes
        // `deployment_name_from_replicaset`).
        const hash = labels.get('pod-template-hash');
        if (hash && owner.name.endsWith(`-${hash}`)) {
          workload.deployment = owner.name.slice(0, -hash.length - 1);
        }
      }
    } else if (owner?.kind === 'StatefulSet') {
      workload.statefulset = owner.name;
    } else if (owner?.kind === 'DaemonSet') {
      workload.daemonset = owner.name;
    } else if (owner?.kind === 'Job') {
      workload.job = owner.name;
      const job = await this.getOptional('jobs', namespace, owner.name);
      const jobOwner = job ? controllerOf(job.meta) : undefined;
      if (jobOwner?.kind === 'CronJob') workload.cronjob = jobOwner.name;
    }

    let flaggerPrimarySibling: boolean | undefined;
    if (this.options.checkFlagger && workload.deployment && !workload.deployment.endsWith('-primary')) {
      const sibling = await this.get('deployments', namespace, `${workload.deployment}-primary`).catch(
        () => undefined,
      );
      if (sibling instanceof AbsentObject) flaggerPrimarySibling = sibling.status === 404 ? false : undefined;
      else if (sibling) flaggerPrimarySibling = sibling.templateAnnotations?.['flagger-id'] !== undefined;
    }

    const facts: {
      -readonly [K in keyof ApiPodFacts]: ApiPodFacts[K];
    } = { labels, annotations: toMap(pod.meta.annotations), workload };
    if (pod.nodeName) facts.nodeName = pod.nodeName;
    if (pod.meta.uid) facts.podUid = pod.meta.uid;
    if (pod.podIp) facts.podIp = pod.podIp;
    if (flaggerPrimarySibling !== undefined) facts.flaggerPrimarySibling = flaggerPrimarySibling;
    return facts;
  }

  /** A GET whose failure (refused, absent, timed out) leaves the chain shorter instead of failing it. */
  private async getOptional(kind: Kind, namespace: string, name: string): Promise<ObjectFacts | undefined> {
    try {
      const r = await this.get(kind, namespace, name);
      return r instanceof AbsentObject ? undefined : r;
    } catch (err) {
      this.options.logger.warn(
        { err, code: 'SENTINEL_ERR_KUBERNETES_API', kind, name },
        'reading a pod owner from the Kubernetes API failed; the owner chain stops there',
      );
      return undefined;
    }
  }

  private async get(kind: Kind, namespace: string, name: string): Promise<ObjectFacts | AbsentObject> {
    const key = `${kind}/${namespace}/${name}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const clients = await this.loadClients();
    try {
      const facts = await clients.get(kind, namespace, name);
      this.requests.inc({ resource: kind, outcome: 'ok' });
      this.cache.set(key, facts);
      return facts;
    } catch (err) {
      const status = (err as { code?: unknown }).code;
      if (status === 404 || status === 403) {
        this.requests.inc({ resource: kind, outcome: status === 404 ? 'not_found' : 'forbidden' });
        if (status === 403) {
          this.options.logger.warn(
            { code: 'SENTINEL_ERR_KUBERNETES_API', kind, namespace },
            `the service account may not get ${kind} in ${namespace} (see docs/enrichment.md "Minimal RBAC")`,
          );
        }
        const absent = new AbsentObject(status);
        this.cache.set(key, absent);
        return absent;
      }
      const timedOut = (err as Error).name === 'AbortError';
      this.requests.inc({ resource: kind, outcome: timedOut ? 'timeout' : 'error' });
      throw err;
    }
  }

  private loadClients(): Promise<Clients> {
    this.clients ??= this.createClients();
    return this.clients;
  }

  private async createClients(): Promise<Clients> {
    const k8s = await import('@kubernetes/client-node');
    let kc = this.options.kubeConfig;
    if (!kc) {
      kc = new k8s.KubeConfig();
      kc.loadFromCluster();
    }
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const batch = kc.makeApiClient(k8s.BatchV1Api);
    const timeoutMs = this.options.timeoutMs;
    const withDeadline = () => kubeRequestDeadline(timeoutMs);
    return {
      async get(kind, namespace, name): Promise<ObjectFacts> {
        switch (kind) {
          case 'pods': {
            const pod = await core.readNamespacedPod({ name, namespace }, withDeadline());
            return { meta: pod.metadata ?? {}, nodeName: pod.spec?.nodeName, podIp: pod.status?.podIP };
          }
          case 'replicasets': {
            const rs = await apps.readNamespacedReplicaSet({ name, namespace }, withDeadline());
            return { meta: rs.metadata ?? {} };
          }
          case 'jobs': {
            const job = await batch.readNamespacedJob({ name, namespace }, withDeadline());
            return { meta: job.metadata ?? {} };
          }
          case 'deployments': {
            const d = await apps.readNamespacedDeployment({ name, namespace }, withDeadline());
            return { meta: d.metadata ?? {}, templateAnnotations: d.spec?.template.metadata?.annotations };
          }
        }
      },
    };
  }
}

function controllerOf(meta: ObjectMeta): { kind: string; name: string } | undefined {
  const refs = meta.ownerReferences ?? [];
  return refs.find((r) => r.controller === true) ?? refs[0];
}

function toMap(record: Record<string, string> | undefined): Map<string, string> {
  return new Map(Object.entries(record ?? {}));
}
