import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startSentinel, type SentinelChild } from '../helpers/child.js';
import { recordAndSend, sdkExporter } from '../helpers/sdk.js';

describe('sentinel agent in a child process', () => {
  let agent: SentinelChild | undefined;
  after(() => {
    agent?.child.kill('SIGKILL');
  });

  it('delivers every span accepted before SIGTERM to the exporter and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-agent-'));
    const config = join(dir, 'agent.yaml');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'policies:\n  - name: everything\n    type: always_sample\n');
    writeFileSync(
      config,
      [
        'receivers:',
        '  otlp:',
        '    grpc: { endpoint: 127.0.0.1:0 }',
        '    http: { endpoint: 127.0.0.1:0 }',
        'admin: { endpoint: 127.0.0.1:0 }',
        // Spans wait in the trace buffer until the drain decides them.
        `sampling: { decision_wait: 5m, max_buffered_bytes: 512MiB, policy_file: ${JSON.stringify(policy)} }`,
        'memory_limit_mib: 1024',
        'exporters:',
        '  - type: debug',
        '',
      ].join('\n'),
    );
    agent = startSentinel(['agent', '--config', config], { POD_NAME: '', POD_NAMESPACE: '' });
    const started = await agent.waitForLog((l) => l['msg'] === 'sentinel agent is receiving OTLP');
    const ports = started['ports'] as { grpc: number; http: number; admin: number };
    const ready = await fetch(`http://127.0.0.1:${ports.admin}/readyz`);
    assert.equal(ready.status, 200);

    const sent = await recordAndSend(
      1000,
      sdkExporter('proto', { grpcPort: ports.grpc, httpPort: ports.http }),
    );
    const grpcSent = await recordAndSend(
      500,
      sdkExporter('grpc', { grpcPort: ports.grpc, httpPort: ports.http }),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
    assert.match(metrics, /sentinel_receiver_accepted_spans_total\{transport="http"\} 1000/);
    assert.match(metrics, /sentinel_receiver_accepted_spans_total\{transport="grpc"\} 500/);
    const exportedBefore = agent.logs.filter((l) => l['msg'] === 'debug exporter: batch').length;
    assert.equal(exportedBefore, 0, 'nothing is exported before the drain (decision_wait is 5m)');

    agent.child.kill('SIGTERM');
    const code = await agent.exited;
    assert.equal(code, 0);
    const exported = agent.logs
      .filter((l) => l['msg'] === 'debug exporter: batch')
      .reduce((n, l) => n + (l['spans'] as number), 0);
    assert.equal(exported, sent.length + grpcSent.length);
    assert.ok(agent.logs.some((l) => l['msg'] === 'drained'));
  });
});
