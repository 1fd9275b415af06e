import type { KubeConfig } from '@kubernetes/client-node';
import type { AgentConfig } from '../config/index.js';
import { DEPLOYMENT_VARIANT_ATTRIBUTE } from '../otlp/index.js';
import type {
  KeyValue,
  SignalBatch,
  SignalPartial,
  TraceBatch,
  TraceConsumer,
  WireScope,
} from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { readDownwardEnv, type DownwardEnv } from './downward-env.js';
import { OwnerResolver, type ApiPodFacts } from './owner-resolver.js';
import { PodinfoWatcher, type PodinfoSnapshot } from './podinfo-watcher.js';
import {
  applyEnrichment,
  buildEnrichment,
  EMPTY_ENRICHMENT,
  type ResourceEnrichment,
} from './resource-enrichment.js';
import { detectVariant, type VariantDecision } from './variant-rules.js';
import { WireEnrichment } from './wire-enrichment.js';
import { deriveWorkloadNames, type WorkloadNames } from './workload-names.js';

export type EnrichConfig = AgentConfig['enrich'];

export interface EnricherOptions {
  readonly next: TraceConsumer;
  readonly config: EnrichConfig;
  /** The Downward API environment; `process.env` in the agent. */
  readonly env: NodeJS.ProcessEnv;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Wall clock for the CronJob-name check. */
  readonly now?: () => number;
  /** false: follow the podinfo directory by the periodic check only. */
  readonly watchPodinfo?: boolean;
  /** For tests: an API server other than the in-cluster one. */
  readonly kubeConfig?: KubeConfig;
}

/** Everything the agent currently knows about its pod, and where each part came from. */
export interface PodIdentity {
  readonly env: DownwardEnv;
  readonly labels: ReadonlyMap<string, string>;
  readonly annotations: ReadonlyMap<string, string>;
  readonly workload: WorkloadNames;
  readonly variant: VariantDecision | undefined;
  readonly api: ApiPodFacts | undefined;
}

const NO_STRINGS: ReadonlyMap<string, string> = new Map();

/**
 * The enrich stage: stamps each resource with the pod's Kubernetes identity and its deployment variant, then hands
 * the batch on. Sources, cheapest first: the Downward API environment, the Downward API volume (followed as the
 * kubelet updates it), and optionally the Kubernetes API (asynchronously: spans that arrive before it answers get
 * what is already known, and its failure only means the first two sources stand alone).
 */
export class Enricher implements TraceConsumer {
  private readonly options: EnricherOptions;
  private readonly config: EnrichConfig;
  private readonly env: DownwardEnv;
  private readonly podinfo: PodinfoWatcher;
  private readonly resolver: OwnerResolver | undefined;
  private readonly listeners = new Set<(identity: PodIdentity) => void>();
  private podinfoSnapshot: PodinfoSnapshot = { labels: undefined, annotations: undefined };
  private apiFacts: ApiPodFacts | undefined;
  private current: PodIdentity;
  private enrichment: ResourceEnrichment = EMPTY_ENRICHMENT;
  /** The byte path's merge for the current enrichment (rebuilt when the identity changes). */
  private wireEnrichment: { enrichment: ResourceEnrichment; wire: WireEnrichment } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private apiAttempt: Promise<void> = Promise.resolve();
  private shutdownOnce: Promise<void> | undefined;
  private closed = false;
  /** Logs and metrics (issue 16), when the next stage takes them: their resources enriched as spans' are. */
  readonly consumeLogs?: (batch: SignalBatch) => Promise<SignalPartial>;
  readonly consumeMetrics?: (batch: SignalBatch) => Promise<SignalPartial>;

  constructor(options: EnricherOptions) {
    this.options = options;
    const next = options.next;
    if (next.consumeLogs) this.consumeLogs = (b) => this.enrichSignal(b, (e) => next.consumeLogs!(e));
    if (next.consumeMetrics)
      this.consumeMetrics = (b) => this.enrichSignal(b, (e) => next.consumeMetrics!(e));
    this.config = options.config;
    this.env = readDownwardEnv(options.env);
    this.current = this.compute();
    this.podinfo = new PodinfoWatcher({
      dir: this.config.podinfo_dir,
      pollIntervalMs: this.config.podinfo_poll_interval,
      metrics: options.metrics,
      logger: options.logger,
      ...(options.watchPodinfo === false ? { watch: false } : {}),
      onChange: (snapshot) => {
        this.podinfoSnapshot = snapshot;
        this.update('podinfo');
      },
    });
    this.podinfo.start();
    this.podinfoSnapshot = this.podinfo.snapshot();
    this.update('start');

    const api = this.config.kubernetes_api;
    if (api.enabled) {
      this.resolver = new OwnerResolver({
        kubeConfig: options.kubeConfig,
        timeoutMs: api.timeout,
        cacheSize: api.cache_size,
        cacheTtlMs: api.cache_ttl,
        checkFlagger: this.config.variant.rules.some((r) => r.kind === 'flagger'),
        metrics: options.metrics,
        logger: options.logger,
      });
      this.apiAttempt = this.resolveFromApi();
    }
  }

  /** What the agent knows now. */
  identity(): PodIdentity {
    return this.current;
  }

  /** The resource attributes stamped now (service.version aside). */
  attributes(): readonly KeyValue[] {
    return this.enrichment.attributes;
  }

  /** Called after every change of the identity; returns the unsubscribe function. */
  onChange(listener: (identity: PodIdentity) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Settles when the current Kubernetes API attempt has answered or failed (for tests and start-up logs). */
  apiSettled(): Promise<void> {
    return this.apiAttempt;
  }

  /** Re-reads the podinfo directory now (the watcher does this by itself). */
  refreshPodinfo(): boolean {
    return this.podinfo.refresh();
  }

  /**
   * Not `async`: the next stage's promise is handed back as is, without another promise hop per request.
   * `batch.bytes` stays as the receiver measured it: the added attributes are shared frozen objects, so a resource
   * grows by its array slots only (about 100 bytes), not by copies.
   */
  consume(batch: TraceBatch): Promise<void> {
    const enrichment = this.enrichment;
    const override = this.config.override;
    try {
      if (batch.wire) {
        // The byte path (issue 13): each ScopeSpans header is moved under its enriched resource.
        const wire = this.currentWire();
        const scopes = batch.wire.scopes;
        for (let i = 0; i < scopes.length; i++) scopes[i] = wire.scope(scopes[i] as WireScope);
        return this.options.next.consume(batch);
      }
      for (const rs of batch.data.resourceSpans) applyEnrichment(rs.resource, enrichment, override);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.options.next.consume(batch);
  }

  /** The pod's attributes spliced into each ResourceLogs / ResourceMetrics, as into spans' resources. */
  private enrichSignal(
    batch: SignalBatch,
    next: (b: SignalBatch) => Promise<SignalPartial>,
  ): Promise<SignalPartial> {
    let encoded: Uint8Array;
    try {
      encoded = this.currentWire().signalRequest(batch.encoded);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return next({ encoded, itemCount: batch.itemCount, bytes: batch.bytes });
  }

  /** The byte path's merge for the current enrichment (rebuilt when the identity changed). */
  private currentWire(): WireEnrichment {
    const enrichment = this.enrichment;
    if (this.wireEnrichment?.enrichment !== enrichment)
      this.wireEnrichment = { enrichment, wire: new WireEnrichment(enrichment, this.config.override) };
    return this.wireEnrichment.wire;
  }

  bufferedBytes(): number {
    return this.options.next.bufferedBytes();
  }

  forceFlush(): Promise<void> {
    return this.options.next.forceFlush();
  }

  shutdown(): Promise<void> {
    this.shutdownOnce ??= (async () => {
      this.closed = true;
      this.podinfo.close();
      if (this.retryTimer) clearTimeout(this.retryTimer);
      await this.options.next.shutdown();
    })();
    return this.shutdownOnce;
  }

  private async resolveFromApi(): Promise<void> {
    const { namespace, podName } = this.env;
    if (!namespace || !podName) {
      this.options.logger.warn(
        { code: 'SENTINEL_ERR_KUBERNETES_API' },
        'enrich.kubernetes_api is on but POD_NAMESPACE or POD_NAME is not set; the API is not asked',
      );
      return;
    }
    try {
      const facts = await (this.resolver as OwnerResolver).resolvePod(namespace, podName);
      if (this.closed) return;
      this.apiFacts = facts;
      this.update('kubernetes-api');
    } catch (err) {
      if (this.closed) return;
      const retryMs = this.config.kubernetes_api.retry_interval;
      this.options.logger.warn(
        { err, code: 'SENTINEL_ERR_KUBERNETES_API', retryInMs: retryMs },
        'reading the own pod from the Kubernetes API failed; enriching from the Downward API only for now',
      );
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.apiAttempt = this.resolveFromApi();
      }, retryMs);
      this.retryTimer.unref();
    }
  }

  /** Recomputes identity and attributes; the per-request path only reads the result. */
  private update(reason: string): void {
    const before = this.current.variant;
    this.current = this.compute();
    this.enrichment = this.toEnrichment(this.current);
    const after = this.current.variant;
    if (reason === 'start' || before?.variant !== after?.variant) {
      this.options.logger.info(
        {
          reason,
          variant: after?.variant ?? null,
          variantRule: after?.rule ?? null,
          attributes: this.enrichment.attributes.length,
        },
        'pod identity for enrichment',
      );
    } else {
      this.options.logger.debug({ reason }, 'pod identity updated');
    }
    for (const listener of this.listeners) listener(this.current);
  }

  private compute(): PodIdentity {
    const api = this.apiFacts;
    const labels = this.podinfoSnapshot.labels ?? api?.labels ?? NO_STRINGS;
    const annotations = this.podinfoSnapshot.annotations ?? api?.annotations ?? NO_STRINGS;
    // Owner references are the truth when read; names derived from the pod name are the fallback.
    const workload = api ? api.workload : deriveWorkloadNames(this.env.podName, labels, this.now());
    const variant = detectVariant(
      this.config.variant.rules,
      {
        labels,
        annotations,
        workloadName: workload.deployment ?? workload.daemonset ?? workload.statefulset,
        flaggerPrimarySibling: api?.flaggerPrimarySibling,
      },
      this.config.variant.baseline_version,
    );
    return { env: this.env, labels, annotations, workload, variant, api };
  }

  private toEnrichment(id: PodIdentity): ResourceEnrichment {
    const c = this.config;
    const env = id.env;
    const pairs: [string, string | undefined][] = [
      ['k8s.cluster.name', c.cluster_name],
      ['k8s.namespace.name', env.namespace],
      ['k8s.pod.name', env.podName],
      ['k8s.pod.uid', env.podUid ?? id.api?.podUid],
      ['k8s.pod.ip', env.podIp ?? id.api?.podIp],
      ['k8s.node.name', env.nodeName ?? id.api?.nodeName],
      ['k8s.container.name', env.containerName],
      ['k8s.deployment.name', id.workload.deployment],
      ['k8s.replicaset.name', id.workload.replicaset],
      ['k8s.statefulset.name', id.workload.statefulset],
      ['k8s.daemonset.name', id.workload.daemonset],
      ['k8s.job.name', id.workload.job],
      ['k8s.cronjob.name', id.workload.cronjob],
      [
        'deployment.environment.name',
        (c.environment_label ? id.labels.get(c.environment_label) : undefined) || c.environment,
      ],
      [DEPLOYMENT_VARIANT_ATTRIBUTE, id.variant?.variant],
    ];
    for (const key of c.extract.labels) pairs.push([`k8s.pod.label.${key}`, id.labels.get(key)]);
    for (const key of c.extract.annotations)
      pairs.push([`k8s.pod.annotation.${key}`, id.annotations.get(key)]);
    return buildEnrichment(pairs, id.labels.get('app.kubernetes.io/version'));
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }
}
