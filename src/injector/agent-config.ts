/**
 * The agent config that goes into each injected pod (issue 14 "Nothing per namespace"): the injector's template
 * (`agent.config`), with the cluster policy's current content as `sampling.policy_snapshot` (applied until the
 * agent's first fetch from the store succeeds) and the pod's own policy when an annotation names one. The result
 * is the value of the agent container's SENTINEL_AGENT_CONFIG, so nothing has to exist in the app's namespace.
 */
import { readFileSync, statSync } from 'node:fs';
import { stringify as toYaml } from 'yaml';
import type { Logger } from '../telemetry/index.js';
import { AGENT_PATHS } from './names.js';

export interface AgentConfigRendererOptions {
  /** `agent.config` of the injector config. */
  readonly template: Readonly<Record<string, unknown>>;
  /** `policy_file` of the injector config; empty: no snapshot. */
  readonly policyFile: string;
  readonly logger?: Logger | undefined;
  /** Counts a policy file that could not be read (the last good content stays in use). */
  readonly onPolicyReadFailure?: (() => void) | undefined;
  /**
   * How often the policy file is looked at (stat) at most; 1 s by default. A ConfigMap edit reaches the volume
   * within the kubelet's sync period (up to about a minute), so a second more changes nothing.
   */
  readonly policyCheckIntervalMs?: number;
  readonly now?: () => number;
}

/** What of the pod changes its config. */
export interface PodConfigChoices {
  /** The pod mounts its own policy ConfigMap at AGENT_PATHS.configDir. */
  readonly localPolicy: boolean;
}

export class AgentConfigRenderer {
  private snapshot: string | undefined;
  private snapshotStamp = '';
  private checkedAt = -Infinity;
  private renderedStamp = '';
  /** The two possible results for the current snapshot: rendering YAML per pod cost 9x the rest of /mutate. */
  private readonly rendered = new Map<string, string>();

  constructor(private readonly options: AgentConfigRendererOptions) {}

  /** The YAML for one pod. */
  render(choices: PodConfigChoices): string {
    this.policySnapshot();
    if (this.renderedStamp !== this.snapshotStamp) {
      this.rendered.clear();
      this.renderedStamp = this.snapshotStamp;
    }
    const key = String(choices.localPolicy);
    let yaml = this.rendered.get(key);
    if (yaml === undefined) {
      yaml = this.renderNow(choices);
      this.rendered.set(key, yaml);
    }
    return yaml;
  }

  private renderNow(choices: PodConfigChoices): string {
    const config = structuredClone(this.options.template) as Record<string, unknown>;
    if (choices.localPolicy) {
      const sampling = objectAt(config, 'sampling');
      // The pod's own policy, as a local file hot-reloaded by the agent; the cluster's is neither fetched nor used.
      sampling['policy_file'] = AGENT_PATHS.policyFile;
      delete sampling['policy_snapshot'];
      const central = sampling['central_policy'];
      if (isObject(central)) central['url'] = '';
    } else {
      const snapshot = this.snapshot;
      if (snapshot !== undefined) objectAt(config, 'sampling')['policy_snapshot'] = snapshot;
    }
    return toYaml(config, { lineWidth: 0 });
  }

  /**
   * The cluster policy file's content, re-read when its mtime or size changes (a ConfigMap volume swaps a
   * symlink); the last good content when it cannot be read.
   */
  policySnapshot(): string | undefined {
    const file = this.options.policyFile;
    if (!file) return undefined;
    const now = (this.options.now ?? Date.now)();
    if (now - this.checkedAt < (this.options.policyCheckIntervalMs ?? 1000)) return this.snapshot;
    this.checkedAt = now;
    try {
      const st = statSync(file);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp !== this.snapshotStamp || this.snapshot === undefined) {
        this.snapshot = readFileSync(file, 'utf8');
        this.snapshotStamp = stamp;
      }
    } catch (err) {
      this.options.onPolicyReadFailure?.();
      this.options.logger?.warn(
        { err, file },
        this.snapshot === undefined
          ? 'cannot read the cluster policy file: pods get no policy snapshot'
          : 'cannot read the cluster policy file: pods get the last one read',
      );
    }
    return this.snapshot;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = parent[key];
  if (isObject(value)) return value;
  const created: Record<string, unknown> = {};
  parent[key] = created;
  return created;
}
