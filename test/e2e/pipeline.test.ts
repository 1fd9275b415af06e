/**
 * The whole data path on one machine: the official OpenTelemetry SDK exporter -> sentinel agent (enrich
 * from the Downward API environment, tail sampling keeping error traces) -> OTLP/gRPC exporter ->
 * sentinel store -> Parquet blocks on an S3-compatible server (s3rver) -> GET /api/traces/{id}.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { testAgentConfig } from '../helpers/agent-config.js';
import { decodeTraceRequestJson, findAttribute } from '../../src/otlp/index.js';
import { flattenTraceData } from '../../src/storage/index.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { TestS3 } from '../helpers/s3rver.js';
import { expectedSpan, recordAndSend, sdkExporter, SpanStatusCode } from '../helpers/sdk.js';
import { startTestStore } from '../helpers/store-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-pipeline-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

void describe('SDK -> agent (enrich, tail sampling) -> store -> S3 -> query API', () => {
  const s3 = new TestS3();
  let h: Awaited<ReturnType<typeof startTestStore>>;
  let agent: RunningAgent | undefined;
  const metrics = new Metrics();
  let sent: ReadableSpan[] = [];
  const byTrace = new Map<string, ReadableSpan[]>();

  before(async () => {
    await s3.start();
    h = await startTestStore({ objectStore: s3.objectStore('traces', 3) });
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      'policies:\n  - name: errors\n    type: status_code\n    status_code: { status_codes: [ERROR] }\n',
    );
    const config = testAgentConfig({
      sampling: { policy_file: policy, decision_wait: '300ms' },
      exporters: [
        {
          type: 'otlp',
          name: 'store',
          endpoint: `http://127.0.0.1:${h.store.ports.grpc}`,
          protocol: 'grpc',
          batch: { timeout: '100ms' },
        },
      ],
    });
    agent = await startAgent(config, {
      logger: silentLogger(),
      metrics,
      env: { POD_NAME: 'checkout-7d9f8b-x2x4q', POD_NAMESPACE: 'shop', NODE_NAME: 'node-1' },
    });
    sent = await recordAndSend(
      400,
      sdkExporter('proto', { grpcPort: agent.ports.grpc, httpPort: agent.ports.http }),
    );
    for (const s of sent) {
      const id = s.spanContext().traceId;
      byTrace.set(id, [...(byTrace.get(id) ?? []), s]);
    }
    const keptSpans = [...byTrace.values()]
      .filter((spans) => spans.some((s) => s.status.code === SpanStatusCode.ERROR))
      .reduce((n, spans) => n + spans.length, 0);
    const deadline = Date.now() + 30_000;
    while ((await metrics.value('exporter_sent_spans_total', { exporter: 'store' })) < keptSpans) {
      assert.ok(Date.now() < deadline, 'the agent exported the kept traces in time');
      await sleep(20);
    }
    // The store cuts its block now rather than at block.max_age: the spans go to S3.
    await h.store.pipeline.forceFlush();
  });

  after(async () => {
    await agent?.shutdown();
    await h?.dispose();
    await s3.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  void test('the store wrote the kept spans as blocks on the S3 server', async () => {
    const blocks = (await h.objects.list('blocks/')).filter((o) => o.key.endsWith('.parquet'));
    assert.ok(blocks.length > 0);
  });

  void test('GET /api/traces/{id} returns every span of a kept trace, enriched, and nothing of a dropped one', async () => {
    let kept = 0;
    let dropped = 0;
    for (const [id, spans] of byTrace) {
      const res = await h.query(`/api/traces/${id}`);
      const isError = spans.some((s) => s.status.code === SpanStatusCode.ERROR);
      if (!isError) {
        assert.equal(res.status, 404, `trace ${id} has no error and was not kept`);
        dropped++;
        continue;
      }
      assert.equal(res.status, 200, `kept trace ${id}`);
      const data = decodeTraceRequestJson(
        JSON.stringify({ resourceSpans: (res.body as { batches: unknown }).batches }),
      );
      const rows = flattenTraceData(data);
      assert.equal(rows.length, spans.length, `the whole trace ${id}`);
      for (const s of spans) {
        const row = rows.find((r) => r.span.spanId === s.spanContext().spanId);
        assert.ok(row, `span ${s.spanContext().spanId}`);
        const want = expectedSpan(s);
        assert.equal(row.span.name, want.name);
        assert.equal(row.span.parentSpanId, want.parentSpanId);
        assert.equal(row.span.startTimeUnixNano, want.startTimeUnixNano);
        assert.deepEqual(row.span.events, want.events);
        const attr = (key: string) => {
          const v = findAttribute(row.resource.attributes, key);
          return v?.kind === 'string' ? v.value : undefined;
        };
        assert.equal(attr('service.name'), 'checkout');
        assert.equal(attr('k8s.pod.name'), 'checkout-7d9f8b-x2x4q');
        assert.equal(attr('k8s.namespace.name'), 'shop');
        assert.equal(attr('k8s.node.name'), 'node-1');
      }
      kept++;
    }
    assert.ok(kept > 0 && dropped > 0, `${kept} kept, ${dropped} dropped`);
  });
});
