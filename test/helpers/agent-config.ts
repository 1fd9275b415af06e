import { agentConfigSchema, validateConfig, type AgentConfig } from '../../src/config/index.js';

/** An agent config for tests: OTLP receivers and admin on free ports of 127.0.0.1, then `settings`. */
export function testAgentConfig(settings: Record<string, unknown> = {}): AgentConfig {
  return validateConfig(
    agentConfigSchema(),
    {
      receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
      admin: { endpoint: '127.0.0.1:0' },
      ...settings,
    },
    'test',
  );
}
