/**
 * Issue 18 part 1: a span whose times a block cannot hold (>= 2^63 ns, end before start) is refused at the
 * door through partial_success and counted; the good spans of the same request are stored, and ingest never
 * turns into 429 (before the fix, the block pipeline retried the segment forever and the WAL filled up).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAgent, type RunningAgent } from '../src/agent/agent.js';
import { testAgentConfig } from './helpers/agent-config.js';
import {
  decodeTraceRequestJson,
  encodeTraceRequest,
  encodeTraceRequestJson,
  rejectInvalidSpans,
  spanTimeProblem,
  type TraceData,
} from '../src/otlp/index.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { grpcExport, postTraces } from './helpers/receivers.js';
import { startTestStore } from './helpers/store-harness.js';
import { makeTraces } from './helpers/store-spans.js';

const JSON_CT = { 'content-type': 'application/json' };
const MAX_U64 = 2n ** 64n - 1n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `traces` good traces (seeded), with the first span's start time set to 2^64-1. */
function withOneBadSpan(seed: number, traces = 10): { data: TraceData; badSpanId: string; good: string[] } {
  const data = makeTraces({ traces, spansPerTrace: 2, seed, startMs: Date.now() - 60_000 });
  const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  spans[0]!.startTimeUnixNano = MAX_U64;
  return { data, badSpanId: spans[0]!.spanId, good: [...new Set(spans.slice(1).map((s) => s.traceId))] };
}

/** The span ids the store returns for a trace, or [] when it answers 404. */
async function storedSpanIds(
  query: (path: string) => Promise<{ status: number; body: unknown }>,
  traceId: string,
): Promise<string[]> {
  const res = await query(`/api/traces/${traceId}`);
  if (res.status === 404) return [];
  assert.equal(res.status, 200);
  const data = decodeTraceRequestJson(
    JSON.stringify({ resourceSpans: (res.body as { batches: unknown }).batches }),
  );
  return data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId)));
}

describe('spanTimeProblem: what a block can hold', () => {
  it('refuses times at or above 2^63 and an end before the start, keeps the rest', () => {
    assert.equal(spanTimeProblem(0n, 0n), undefined);
    assert.equal(spanTimeProblem(1n, 2n ** 63n - 1n), undefined);
    assert.equal(spanTimeProblem(2n ** 63n, 2n ** 63n), 'start_out_of_range');
    assert.equal(spanTimeProblem(MAX_U64, MAX_U64), 'start_out_of_range');
    assert.equal(spanTimeProblem(5n, 2n ** 63n), 'end_out_of_range');
    assert.equal(spanTimeProblem(5n, 4n), 'end_before_start');
  });

  it('rejectInvalidSpans names each problem and what was expected', () => {
    const data = makeTraces({ traces: 3, spansPerTrace: 2 });
    const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    spans[0]!.startTimeUnixNano = MAX_U64;
    spans[1]!.endTimeUnixNano = spans[1]!.startTimeUnixNano - 1n;
    spans[2]!.spanId = '0'.repeat(16);
    const r = rejectInvalidSpans(data);
    assert.equal(r.rejectedSpans, 3);
    assert.match(
      r.errorMessage,
      /1 span\(s\) with a start_time_unix_nano at or above 2\^63 \(expected at most 9223372036854775807\)/,
    );
    assert.match(r.errorMessage, /expected end >= start/);
    assert.match(r.errorMessage, /all-zero trace_id or span_id/);
    assert.equal(data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)).length, 3);
  });
});

describe('a span at 2^64-1 among good spans, straight into the store', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  before(async () => {
    h = await startTestStore({ overrides: { wal_max_bytes: '200KiB', block: { max_age: '200ms' } } });
  });
  after(() => h.dispose());

  it('stores the good spans, refuses and counts the bad one, and never answers 429', async () => {
    const { data, badSpanId, good } = withOneBadSpan(1);
    const res = await postTraces(h.store.ports.http, encodeTraceRequestJson(data), JSON_CT);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body.toString()) as {
      partialSuccess?: { rejectedSpans: string; errorMessage: string };
    };
    assert.equal(body.partialSuccess?.rejectedSpans, '1');
    assert.match(body.partialSuccess?.errorMessage ?? '', /start_time_unix_nano at or above 2\^63/);
    // The same over gRPC (protobuf fixed64).
    const g = await grpcExport(h.store.ports.grpc, encodeTraceRequest(withOneBadSpan(2).data));
    assert.equal(g.error, null);
    assert.equal(await h.metrics.value('receiver_refused_spans_total', { reason: 'invalid' }), 2);
    // Ordinary requests keep being accepted across many block cuts (the WAL bound is 200 KiB): a 429 is
    // back-pressure that passes once a block is cut; before the fix every later request got 429 for good.
    for (let i = 0; i < 25; i++) {
      const ordinary = encodeTraceRequestJson(
        makeTraces({ traces: 20, spansPerTrace: 5, seed: 100 + i, startMs: Date.now() - 60_000 }),
      );
      const deadline = Date.now() + 15_000;
      for (;;) {
        const { status } = await postTraces(h.store.ports.http, ordinary, JSON_CT);
        if (status === 200) break;
        assert.equal(status, 429);
        assert.ok(Date.now() < deadline, `request ${i} still refused after 15 s: ingest stopped`);
        await sleep(100);
      }
    }
    await h.store.pipeline.forceFlush();
    for (const id of good) {
      const ids = await storedSpanIds(h.query, id);
      assert.ok(ids.length > 0, `trace ${id} stored`);
      assert.ok(!ids.includes(badSpanId));
    }
  });
});

describe('a span at 2^64-1 among good spans, through an agent with each exporter', () => {
  let h: Awaited<ReturnType<typeof startTestStore>>;
  before(async () => {
    h = await startTestStore();
  });
  after(() => h.dispose());

  const exporters = (): Record<string, Record<string, unknown>> => ({
    storage: { type: 'storage', name: 'out', url: `file://${h.dir}/data` },
    'otlp grpc': {
      type: 'otlp',
      name: 'out',
      endpoint: `http://127.0.0.1:${h.store.ports.grpc}`,
      protocol: 'grpc',
    },
    'otlp http': {
      type: 'otlp',
      name: 'out',
      endpoint: `http://127.0.0.1:${h.store.ports.http}`,
      protocol: 'http',
    },
  });

  for (const [label, seed] of [
    ['storage', 11],
    ['otlp grpc', 12],
    ['otlp http', 13],
  ] as const) {
    it(`${label}: the agent refuses the bad span, exports the good ones, the store holds them`, async () => {
      const metrics = new Metrics();
      let agent: RunningAgent | undefined;
      try {
        agent = await startAgent(
          testAgentConfig({
            exporters: [{ ...exporters()[label], batch: { timeout: '50ms' } }],
          }),
          { logger: silentLogger(), metrics, env: {} },
        );
        const { data, badSpanId, good } = withOneBadSpan(seed);
        const res = await postTraces(agent.ports.http, encodeTraceRequestJson(data), JSON_CT);
        assert.equal(res.status, 200);
        assert.match(res.body.toString(), /"rejectedSpans":"1"/);
        assert.equal(await metrics.value('receiver_refused_spans_total', { reason: 'invalid' }), 1);
        const deadline = Date.now() + 20_000;
        while ((await metrics.value('exporter_sent_spans_total', { exporter: 'out' })) < 19) {
          assert.ok(Date.now() < deadline, 'the agent exported the 19 good spans');
          await sleep(20);
        }
        assert.equal(await metrics.value('exporter_failed_spans_total', { exporter: 'out' }), 0);
        await h.store.pipeline.forceFlush();
        let total = 0;
        for (const id of good) {
          const ids = await storedSpanIds(h.query, id);
          assert.ok(!ids.includes(badSpanId));
          total += ids.length;
        }
        assert.equal(total, 19);
      } finally {
        await agent?.shutdown();
      }
    });
  }
});
