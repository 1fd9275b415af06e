/**
 * Workload names derived from the pod's own name and labels, without the Kubernetes API, the way the Collector's
 * k8sattributes processor and the controllers themselves name things:
 * - Deployment: ReplicaSet `<deployment>-<pod-template-hash>`, pod `<replicaset>-<5 chars>`.
 * - Argo Rollouts: ReplicaSet `<rollout>-<rollouts-pod-template-hash>` (a Rollout is not a Deployment: only the
 *   ReplicaSet is named).
 * - StatefulSet: pod `<statefulset>-<ordinal>`, labelled `statefulset.kubernetes.io/pod-name`.
 * - DaemonSet: pod `<daemonset>-<5 chars>`, labelled `controller-revision-hash` and `pod-template-generation`.
 * - Job: label `batch.kubernetes.io/job-name` (or the older `job-name`); CronJob: job `<cronjob>-<minutes since
 *   epoch, 8 digits>` (kubernetes pkg/controller/cronjob `getJobName`).
 * Anything that does not fit is left out rather than guessed.
 */
export interface WorkloadNames {
  deployment?: string;
  replicaset?: string;
  statefulset?: string;
  daemonset?: string;
  job?: string;
  cronjob?: string;
}

/** The alphabet of the random suffix apiserver's generateName appends (k8s.io/apimachinery `rand.String`). */
const SUFFIX = '[bcdfghjklmnpqrstvwxz2456789]{5}';
const SUFFIX_RE = new RegExp(`^(.+)-${SUFFIX}$`);
const ORDINAL_RE = /^(.+)-(\d+)$/;
const CRONJOB_RE = /^(.+)-(\d{8})$/;
/** 2015-01-01, before any CronJob: an 8-digit suffix older than that is a date someone typed, not a timestamp. */
const CRONJOB_MIN_MINUTES = Date.UTC(2015, 0, 1) / 60_000;
const CRONJOB_MAX_SKEW_MINUTES = 24 * 60;

/** Names derivable from `podName` and `labels`; `nowMs` bounds the CronJob timestamp check. */
export function deriveWorkloadNames(
  podName: string | undefined,
  labels: ReadonlyMap<string, string>,
  nowMs: number,
): WorkloadNames {
  const out: WorkloadNames = {};
  const jobName = labels.get('batch.kubernetes.io/job-name') ?? labels.get('job-name');
  if (jobName) {
    out.job = jobName;
    const cronjob = cronJobFromJobName(jobName, nowMs);
    if (cronjob) out.cronjob = cronjob;
    return out;
  }
  if (!podName) return out;

  const hash = labels.get('pod-template-hash');
  if (hash) {
    const rs = replicaSetFromPodName(podName, hash);
    if (rs) {
      out.replicaset = rs;
      out.deployment = rs.slice(0, rs.length - hash.length - 1);
    }
    return out;
  }
  const rolloutsHash = labels.get('rollouts-pod-template-hash');
  if (rolloutsHash) {
    const rs = replicaSetFromPodName(podName, rolloutsHash);
    if (rs) out.replicaset = rs;
    return out;
  }
  if (labels.get('statefulset.kubernetes.io/pod-name') === podName) {
    const m = ORDINAL_RE.exec(podName);
    if (m) out.statefulset = m[1] as string;
    return out;
  }
  if (labels.has('controller-revision-hash') && labels.has('pod-template-generation')) {
    const m = SUFFIX_RE.exec(podName);
    if (m) out.daemonset = m[1] as string;
  }
  return out;
}

/**
 * `<rs>-<5 chars>` where rs ends in `-<hash>`. The apiserver cuts generateName bases to 58 characters, so a long
 * Deployment name loses its hash from the pod name: then nothing is derived.
 */
function replicaSetFromPodName(podName: string, hash: string): string | undefined {
  const m = SUFFIX_RE.exec(podName);
  if (!m) return undefined;
  const rs = m[1] as string;
  return rs.length > hash.length + 1 && rs.endsWith(`-${hash}`) ? rs : undefined;
}

/** The CronJob that named `jobName`, when its suffix is a plausible scheduled time. */
export function cronJobFromJobName(jobName: string, nowMs: number): string | undefined {
  const m = CRONJOB_RE.exec(jobName);
  if (!m) return undefined;
  const minutes = Number(m[2]);
  if (minutes < CRONJOB_MIN_MINUTES || minutes > nowMs / 60_000 + CRONJOB_MAX_SKEW_MINUTES) return undefined;
  return m[1] as string;
}
