import type { AgentSettings } from '../../src/injector/pod-patch.js';

/** The injector's agent settings as the chart's defaults give them (memory limit 256Mi + 32 MiB completion). */
export const CHART_AGENT_SETTINGS: AgentSettings = {
  image: 'ghcr.io/sentinel/sentinel:test',
  imagePullPolicy: 'IfNotPresent',
  imagePullSecrets: [],
  extraEnv: [],
  renderConfig: () => '{}',
  tokenAudience: 'sentinel',
  tokenExpirationSeconds: 3600,
  runAsUser: 10001,
  runAsGroup: 10001,
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '288Mi' } },
  queueSizeLimit: '256Mi',
  version: 'test',
};
