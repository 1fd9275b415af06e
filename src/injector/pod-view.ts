/**
 * The parts of a Pod the injector reads, checked once so the rest of the code can trust them.
 * Anything else in the object is passed through untouched: the patch only adds.
 */
import { isRecord } from './admission-review.js';

export interface EnvVarView {
  readonly name: string;
  /** undefined when the value comes from `valueFrom`. */
  readonly value: string | undefined;
}

export interface ContainerView {
  readonly name: string;
  /** undefined: the container has no `env` list yet (the patch must create it). */
  readonly env: readonly EnvVarView[] | undefined;
  /** The container reads variables from ConfigMaps or Secrets (`envFrom`) that the injector cannot see. */
  readonly hasEnvFrom: boolean;
  readonly ports: readonly number[];
}

export interface PodView {
  readonly namespace: string | undefined;
  /** undefined: no `metadata.annotations` yet. */
  readonly annotations: Readonly<Record<string, string>> | undefined;
  /** undefined: no `metadata.labels` yet. */
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly containers: readonly ContainerView[];
  /** undefined: no `spec.initContainers` yet. */
  readonly initContainers: readonly ContainerView[] | undefined;
  /** Names of `spec.ephemeralContainers` (they share the container name space). */
  readonly ephemeralContainerNames: readonly string[];
  /** False when the object has no `metadata` at all: the patch must create it before adding to it. */
  readonly hasMetadata: boolean;
  readonly volumeNames: readonly string[] | undefined;
  /** Names in `spec.imagePullSecrets`; undefined: the pod has none (the patch must create the list). */
  readonly imagePullSecrets: readonly string[] | undefined;
  readonly hostNetwork: boolean;
  /** `spec.restartPolicy`; Kubernetes' default is `Always`. */
  readonly restartPolicy: string;
  /** `spec.os.name`, else the `kubernetes.io/os` node selector; undefined when the pod does not say. */
  readonly os: string | undefined;
}

/** A pod object that does not have the shape of a Pod; the request is allowed unchanged with a warning. */
export class UnparsablePodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnparsablePodError';
  }
}

/** Reads the fields the injector needs; throws UnparsablePodError naming the first field that is wrong. */
export function readPod(object: unknown): PodView {
  if (!isRecord(object)) throw new UnparsablePodError('expected request.object to be a Pod object');
  const metadata = object['metadata'] ?? {};
  if (!isRecord(metadata)) throw new UnparsablePodError('expected metadata to be an object');
  const spec = object['spec'];
  if (!isRecord(spec)) throw new UnparsablePodError('expected spec to be an object');
  const annotations = readStringMap(metadata['annotations'], 'metadata.annotations');
  const labels = readStringMap(metadata['labels'], 'metadata.labels');
  const containers = readContainers(spec['containers'], 'spec.containers');
  if (!containers || containers.length === 0) {
    throw new UnparsablePodError('expected spec.containers to be a non-empty list');
  }
  const rawVolumes = spec['volumes'];
  let volumeNames: string[] | undefined;
  if (rawVolumes !== undefined && rawVolumes !== null) {
    if (!Array.isArray(rawVolumes)) throw new UnparsablePodError('expected spec.volumes to be a list');
    volumeNames = rawVolumes.map((v: unknown, i) => {
      if (!isRecord(v) || typeof v['name'] !== 'string') {
        throw new UnparsablePodError(`expected spec.volumes[${i}].name to be a string`);
      }
      return v['name'];
    });
  }
  const namespace = metadata['namespace'];
  return {
    namespace: typeof namespace === 'string' && namespace !== '' ? namespace : undefined,
    annotations,
    labels,
    containers,
    initContainers: readContainers(spec['initContainers'], 'spec.initContainers'),
    ephemeralContainerNames: (
      readContainers(spec['ephemeralContainers'], 'spec.ephemeralContainers') ?? []
    ).map((c) => c.name),
    hasMetadata: isRecord(object['metadata']),
    volumeNames,
    imagePullSecrets: readPullSecrets(spec['imagePullSecrets']),
    hostNetwork: spec['hostNetwork'] === true,
    restartPolicy: typeof spec['restartPolicy'] === 'string' ? spec['restartPolicy'] : 'Always',
    os: readOs(spec),
  };
}

function readContainers(value: unknown, where: string): ContainerView[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new UnparsablePodError(`expected ${where} to be a list`);
  return value.map((c: unknown, i) => {
    if (!isRecord(c) || typeof c['name'] !== 'string') {
      throw new UnparsablePodError(`expected ${where}[${i}].name to be a string`);
    }
    const rawEnv = c['env'];
    let env: EnvVarView[] | undefined;
    if (rawEnv !== undefined && rawEnv !== null) {
      if (!Array.isArray(rawEnv)) throw new UnparsablePodError(`expected ${where}[${i}].env to be a list`);
      env = rawEnv.map((e: unknown, j) => {
        if (!isRecord(e) || typeof e['name'] !== 'string') {
          throw new UnparsablePodError(`expected ${where}[${i}].env[${j}].name to be a string`);
        }
        return { name: e['name'], value: typeof e['value'] === 'string' ? e['value'] : undefined };
      });
    }
    const ports: number[] = [];
    if (Array.isArray(c['ports'])) {
      for (const p of c['ports'] as unknown[]) {
        if (isRecord(p) && typeof p['containerPort'] === 'number') ports.push(p['containerPort']);
      }
    }
    const envFrom = c['envFrom'];
    return { name: c['name'], env, hasEnvFrom: Array.isArray(envFrom) && envFrom.length > 0, ports };
  });
}

function readPullSecrets(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new UnparsablePodError('expected spec.imagePullSecrets to be a list');
  return value.map((s: unknown, i) => {
    if (!isRecord(s) || typeof s['name'] !== 'string') {
      throw new UnparsablePodError(`expected spec.imagePullSecrets[${i}].name to be a string`);
    }
    return s['name'];
  });
}

function readStringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new UnparsablePodError(`expected ${where} to be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw new UnparsablePodError(`expected ${where}[${JSON.stringify(k)}] to be a string`);
    out[k] = v;
  }
  return out;
}

function readOs(spec: Record<string, unknown>): string | undefined {
  const os = spec['os'];
  if (isRecord(os) && typeof os['name'] === 'string') return os['name'];
  const selector = spec['nodeSelector'];
  if (isRecord(selector) && typeof selector['kubernetes.io/os'] === 'string')
    return selector['kubernetes.io/os'];
  return undefined;
}
