import { z } from 'zod';
import { adminSchema, logSchema, shutdownTimeout } from './common.js';
import { duration, endpoint, size } from './schema-types.js';

/** A Kubernetes resource quantity ("100m", "128Mi", "1"): checked loosely here, strictly by the API server. */
const quantity = () =>
  z
    .string()
    .regex(
      /^\+?(\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/,
      'expected a Kubernetes quantity like "100m" or "128Mi"',
    );

const resourceListSchema = () =>
  z.strictObject({ cpu: quantity().optional(), memory: quantity().optional() }).prefault({});

/** The injected agent's CPU and memory (overridable per pod by annotation). */
const agentResourcesSchema = () =>
  z
    .strictObject({
      requests: resourceListSchema().prefault({ cpu: '50m', memory: '64Mi' }),
      limits: resourceListSchema().prefault({ memory: '256Mi' }),
    })
    .prefault({});

/** A version like "1.29" or "v1.29.3"; compared as major.minor.patch. */
const kubeletVersion = () =>
  z.string().regex(/^v?\d+\.\d+(\.\d+)?$/, 'expected a Kubernetes version like "1.29" or "1.29.0"');

/** `agent:` of the injector config: what the injector puts into pods. */
const agentSchema = () =>
  z
    .strictObject({
      /** Empty: the image this injector was released with (`ghcr.io/sentinel/sentinel:<version>`). */
      image: z.string().default(''),
      image_pull_policy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
      /** Secrets (in the pod's namespace) added to injected pods' imagePullSecrets, for a private agent image. */
      image_pull_secrets: z.array(z.string().min(1)).default([]),
      /**
       * The agent config template (CONTRACT.md "Agent config"), rendered into each pod's
       * SENTINEL_AGENT_CONFIG with the pod's annotations applied and the cluster policy as its snapshot.
       */
      config: z.record(z.string(), z.unknown()).default({}),
      /** More variables for the agent container (the chart puts the store's CA here as SENTINEL_STORE_CA). */
      extra_env: z
        .array(z.strictObject({ name: z.string().regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/), value: z.string() }))
        .default([]),
      /**
       * An initContainer with `restartPolicy: Always`, or a regular container (false). `auto`: native only when
       * every node's kubelet is at least `native_sidecar_min_kubelet` (the oldest node decides; the pod's node
       * is not known at admission), as listed by the Kubernetes API and cached.
       */
      native_sidecar: z.union([z.boolean(), z.literal('auto')]).default('auto'),
      /** SidecarContainers is beta and on by default from 1.29, GA in 1.33 (Kubernetes docs). */
      native_sidecar_min_kubelet: kubeletVersion().default('1.29'),
      /** Audience of the projected ServiceAccount token the agent shows the store; empty: no token. */
      token_audience: z.string().default('sentinel'),
      /** Lifetime the kubelet asks for; it rotates the token at 80 % of it (minimum 600). */
      token_expiration_seconds: z.number().int().min(600).default(3600),
      /** The agent container's runAsUser / runAsGroup; null leaves them to the platform (OpenShift's SCC). */
      run_as_user: z.number().int().nonnegative().nullable().default(10001),
      run_as_group: z.number().int().nonnegative().nullable().default(10001),
      /** Deprecated (issue 14): nothing is read from the pod's namespace any more. Accepted and ignored, logged. */
      config_map: z.string().optional(),
      /** Deprecated (issue 14): agents use a projected token (`token_audience`). Accepted and ignored, logged. */
      token_secret: z.string().optional(),
      resources: agentResourcesSchema(),
      /** `sizeLimit` of the emptyDir that holds the export queue. */
      queue_size_limit: quantity().default('256Mi'),
    })
    .prefault({});

/** How the injector reads Nodes (for `agent.native_sidecar: auto`). */
const kubernetesApiSchema = () =>
  z
    .strictObject({
      /** Empty: the in-cluster config (the injector's ServiceAccount). */
      kubeconfig: z.string().default(''),
      /** How long the oldest kubelet version is trusted before the Nodes are listed again. */
      node_cache_ttl: duration().prefault('5m'),
      timeout: duration().prefault('5s'),
    })
    .prefault({});

/** The injector's config file (CONTRACT.md "Injector config"); a factory, as storeConfigSchema is. */
export const injectorConfigSchema = () =>
  z.strictObject({
    listen: endpoint().default('0.0.0.0:8443'),
    tls: z
      .strictObject({
        cert_file: z.string().min(1).default('/tls/tls.crt'),
        key_file: z.string().min(1).default('/tls/tls.key'),
      })
      .prefault({}),
    admin: adminSchema(),
    log: logSchema(),
    shutdown_timeout: shutdownTimeout(),
    /** After SIGTERM, how long /readyz answers 503 while reviews are still served, before the listener closes. */
    shutdown_delay: duration().prefault('5s'),
    /** The injector's own namespace, never injected. Empty: `$POD_NAMESPACE`. */
    namespace: z.string().default(''),
    /** Namespaces never injected, besides the injector's own. */
    exclude_namespaces: z.array(z.string()).default(['kube-system']),
    /** Largest AdmissionReview body accepted; the API server caps objects near 1.5 MiB (etcd's limit). */
    max_request_bytes: size().prefault('3MiB'),
    /**
     * The cluster's sampling policy (the chart mounts its ConfigMap): its current content goes into each pod's
     * agent config as `sampling.policy_snapshot`, applied until the agent's first fetch from the store succeeds.
     */
    policy_file: z.string().default(''),
    kubernetes_api: kubernetesApiSchema(),
    agent: agentSchema(),
  });

export type InjectorConfig = z.output<ReturnType<typeof injectorConfigSchema>>;
