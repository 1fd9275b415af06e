import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareSpans } from '../src/compare/compare-spans.js';
import { loadSpansFromStorage } from '../src/compare/load-spans.js';
import { weightedQuantile, weightedSample } from '../src/compare/weighted-stats.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { writeBlock } from '../src/storage/block-writer.js';
import { av, findAttribute, SpanKind, type Span, type TraceData } from '../src/otlp/index.js';
import { parsePolicyText } from '../src/sampling/policy-config.js';
import { compilePolicy, staticPolicySource } from '../src/sampling/sampling-policy.js';
import { TailSampler } from '../src/sampling/tail-sampler.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';
import { gaussian } from './helpers/compare-workload.js';
import { rng } from './helpers/store-spans.js';
import { ManualClock } from '../src/clock.js';
import { makeSpan } from './helpers/edge-spans.js';

const POLICY = `policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: tenth-of-the-rest
    type: probabilistic
    probabilistic: { sampling_percentage: 10 }
`;

function span(random: () => number, i: number): Span {
  const isError = random() < 0.02;
  // Errors are timeouts: three times slower, so keeping all of them skews an unweighted p99.
  const durationNs = BigInt(
    Math.round(Math.exp(Math.log(40e6) + 0.5 * gaussian(random)) * (isError ? 3 : 1)),
  );
  const start = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n;
  return makeSpan({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    name: 'GET /cart',
    kind: SpanKind.SERVER,
    startTimeUnixNano: start,
    endTimeUnixNano: start + durationNs,
    status: { code: isError ? 2 : 0, message: '' },
  });
}

interface Estimates {
  errorRate: number;
  p50: number;
  p99: number;
}

function estimate(spans: readonly Span[], weighted: boolean): Estimates {
  const durations = spans.map((s) => Number(s.endTimeUnixNano - s.startTimeUnixNano));
  const weights = spans.map((s) => {
    const v = findAttribute(s.attributes, 'sampling.weight');
    return weighted && v?.kind === 'double' ? v.value : 1;
  });
  const sample = weightedSample(durations, weights);
  let errors = 0;
  spans.forEach((s, i) => (errors += s.status.code === 2 ? weights[i]! : 0));
  return {
    errorRate: errors / sample.total,
    p50: weightedQuantile(sample, 0.5),
    p99: weightedQuantile(sample, 0.99),
  };
}

const relErr = (estimate: number, truth: number) => Math.abs(estimate - truth) / truth;

describe('estimates from tail-sampled spans', () => {
  it('match the unsampled truth within 10 % thanks to sampling.weight, also read back from a stored block, and are biased without it', async () => {
    const random = rng(8);
    const all: Span[] = Array.from({ length: 40_000 }, (_, i) => span(random, i));
    const parsed = parsePolicyText(POLICY);
    assert.ok(parsed.ok);
    const clock = new ManualClock(0);
    const out = new CollectingConsumer();
    const sampler = new TailSampler({
      next: out,
      policySource: staticPolicySource(compilePolicy(parsed.config)),
      metrics: new Metrics(),
      logger: silentLogger(),
      decisionWaitMs: 1000,
      maxTraces: 100_000,
      maxBufferedBytes: 512 * 1024 * 1024,
      clock,
    });
    for (let i = 0; i < all.length; i += 500) {
      const data: TraceData = {
        resourceSpans: [
          {
            resource: {
              attributes: [
                { key: 'service.name', value: av.string('cart') },
                { key: 'deployment.variant', value: av.string('baseline') },
              ],
              droppedAttributesCount: 0,
            },
            scopeSpans: [
              {
                scope: { name: 'test', version: '', attributes: [], droppedAttributesCount: 0 },
                spans: all.slice(i, i + 500),
                schemaUrl: '',
              },
            ],
            schemaUrl: '',
          },
        ],
      };
      await sampler.consume({ data, spanCount: 500, bytes: 500 * 200 });
      clock.advance(10);
    }
    clock.advance(5000);
    await sampler.drain();
    await sampler.shutdown();

    const kept = out.spans();
    const truth = estimate(all, false);
    const errorsKept = kept.filter((s) => s.status.code === 2).length;
    assert.equal(errorsKept, all.filter((s) => s.status.code === 2).length, 'every error is kept');
    assert.ok(
      kept.length < all.length * 0.15,
      `about 10 % of the rest kept (${kept.length} of ${all.length})`,
    );

    const weighted = estimate(kept, true);
    for (const k of ['errorRate', 'p50', 'p99'] as const) {
      assert.ok(
        relErr(weighted[k], truth[k]) < 0.1,
        `weighted ${k} ${weighted[k]} within 10 % of the truth ${truth[k]}`,
      );
    }
    // The same through storage: the kept spans written as a block, read back as `sentinel compare --storage` does,
    // judged by compareSpans (the baseline column of its report).
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-weights-'));
    try {
      const store = new LocalObjectStore(dir);
      await writeBlock(
        store,
        out.batches.map((b) => b.data),
      );
      const { spans: stored } = await loadSpansFromStorage(store, {
        service: 'cart',
        startNs: 0n,
        endNs: 2n ** 62n,
        spanKinds: [SpanKind.SERVER],
      });
      assert.equal(stored.length, kept.length);
      const row = (spans: typeof stored, metric: string) =>
        compareSpans(spans).overall.rows.find((r) => r.metric === metric)!.baseline!;
      const fromStore = {
        errorRate: row(stored, 'error_rate'),
        p50: row(stored, 'p50') * 1e6,
        p99: row(stored, 'p99') * 1e6,
      };
      for (const k of ['errorRate', 'p50', 'p99'] as const) {
        assert.ok(
          relErr(fromStore[k], truth[k]) < 0.1,
          `from stored spans, weighted ${k} ${fromStore[k]} within 10 % of the truth ${truth[k]}`,
        );
      }
      const unit = stored.map((s) => ({ ...s, weight: 1 }));
      assert.ok(
        relErr(row(unit, 'error_rate'), truth.errorRate) > 1,
        'stored spans without weights: error rate biased',
      );
      assert.ok(relErr(row(unit, 'p99') * 1e6, truth.p99) > 0.1, 'stored spans without weights: p99 biased');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const unweighted = estimate(kept, false);
    assert.ok(
      relErr(unweighted.errorRate, truth.errorRate) > 1,
      `unweighted error rate ${unweighted.errorRate} is far from the truth ${truth.errorRate}`,
    );
    assert.ok(
      relErr(unweighted.p99, truth.p99) > 0.1,
      `unweighted p99 ${unweighted.p99} is more than 10 % off the truth ${truth.p99}`,
    );
  });
});
