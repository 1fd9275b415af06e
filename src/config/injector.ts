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

/** `agent:` of the injector config: what the injector puts into pods. */
const agentSchema = () =>
  z
    .strictObject({
      /** Empty: the image this injector was released with (`ghcr.io/sentinel/sentinel:<version>`). */
      image: z.string().default(''),
      image_pull_policy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
      /** ConfigMap, in the pod's namespace, with `agent.yaml` and `policy.yaml`. */
      config_map: z.string().min(1).default('sentinel-agent'),
      /** Secret, in the pod's namespace, with the store's bearer token (`token`); mounted optional. Empty: none. */
      token_secret: z.string().default(''),
      /** An initContainer with `restartPolicy: Always` (Kubernetes 1.29+); false: a regular container. */
      native_sidecar: z.boolean().default(true),
      resources: agentResourcesSchema(),
      /** `sizeLimit` of the emptyDir that holds the export queue. */
      queue_size_limit: quantity().default('256Mi'),
    })
    .prefault({});

/** The injector's config file (CONTRACT.md "Injector config"). */
export const injectorConfigSchema = z.strictObject({
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
  agent: agentSchema(),
});

export type InjectorConfig = z.output<typeof injectorConfigSchema>;
