import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompareSpanCollector } from '../src/compare/load-spans.js';
import { compareSpans } from '../src/compare/compare-spans.js';
import {
  normalCdf,
  normalQuantile,
  pairDifferenceQuantile,
  superiority,
  weightedQuantile,
  weightedSample,
} from '../src/compare/weighted-stats.js';
import type { StoredSpan } from '../src/storage/index.js';
import { knownTruthWorkload, MEDIAN_NS, SIGMA } from './helpers/compare-workload.js';
import { makeSpan } from './helpers/edge-spans.js';

/** The log-normal's z for p95: durations above it are the slowest 5 %. */
const P95_NS = MEDIAN_NS * Math.exp(SIGMA * 1.6449);

describe('compare statistics on seeded workloads with a known truth', () => {
  it('fails a canary whose p99 is 20 % slower (the slowest 5 % of requests 20 % slower)', () => {
    const report = compareSpans(
      knownTruthWorkload({ seed: 3, spans: 5000, canaryLatency: (d) => (d > P95_NS ? d * 1.2 : d) }),
    );
    assert.equal(report.verdict, 'fail');
    const p99 = report.overall.rows.find((r) => r.metric === 'p99')!;
    assert.equal(p99.verdict, 'fail');
    assert.ok(p99.relative! > 0.15 && p99.relative! < 0.25, `p99 +${p99.relative}`);
    const p50 = report.overall.rows.find((r) => r.metric === 'p50')!;
    assert.equal(p50.verdict, 'pass', 'the median did not move');
  });

  it('fails a canary whose error rate is 2 percentage points higher', () => {
    const report = compareSpans(
      knownTruthWorkload({ seed: 4, spans: 5000, baselineErrorRate: 0.01, canaryErrorRate: 0.03 }),
    );
    assert.equal(report.verdict, 'fail');
    const errors = report.overall.rows.find((r) => r.metric === 'error_rate')!;
    assert.equal(errors.verdict, 'fail');
    assert.ok(errors.interval![0] > 0.005, 'the increase is confidently above the 0.5pp allowed');
  });

  it('passes identical distributions in at least 95 of 100 seeds', () => {
    let passed = 0;
    const failures: string[] = [];
    for (let seed = 100; seed < 200; seed++) {
      const report = compareSpans(knownTruthWorkload({ seed, spans: 5000 }));
      if (report.verdict === 'pass') passed++;
      else failures.push(`${seed}: ${report.reasons.join('; ')}`);
    }
    assert.ok(passed >= 95, `passed ${passed} of 100:\n${failures.join('\n')}`);
  });

  it('says inconclusive, never pass, with 20 spans', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const report = compareSpans(knownTruthWorkload({ seed, spans: 10 }));
      assert.equal(report.overall.samples.baseline.stored + report.overall.samples.canary.stored, 20);
      assert.equal(report.verdict, 'inconclusive');
    }
    // Even a glaring regression is not called on 20 spans.
    const worse = compareSpans(knownTruthWorkload({ seed: 9, spans: 10, canaryLatency: (d) => d * 3 }));
    assert.equal(worse.verdict, 'inconclusive');
  });

  it('does not judge p99 on too few effective spans beyond it', () => {
    const report = compareSpans(knownTruthWorkload({ seed: 5, spans: 200 }));
    const p99 = report.overall.rows.find((r) => r.metric === 'p99')!;
    assert.equal(p99.verdict, 'inconclusive');
    assert.equal(report.verdict, 'inconclusive');
  });

  it('reports a per-operation section for each operation and ignores other variants', () => {
    const spans = knownTruthWorkload({ seed: 6, spans: 2000 });
    const report = compareSpans([
      ...spans,
      { durationNs: 1, isError: false, weight: 1, variant: '', operation: 'x' },
    ]);
    assert.deepEqual(
      report.operations.map((s) => s.operation),
      ['GET /cart', 'POST /checkout'],
    );
    assert.equal(report.ignoredSpans, 1);
    assert.equal(report.distribution.baseline.length, 40);
    const total = report.distribution.canary.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-3);
  });
});

describe('weighted statistics', () => {
  it('counts a span of weight w like w copies of it', () => {
    const weighted = weightedSample([1, 2, 3], [1, 5, 1]);
    const copies = weightedSample([1, 2, 2, 2, 2, 2, 3], [1, 1, 1, 1, 1, 1, 1]);
    for (const q of [0.1, 0.2, 0.5, 0.8, 0.9, 1])
      assert.equal(weightedQuantile(weighted, q), weightedQuantile(copies, q));
    const other = weightedSample([1.5, 2, 2.5], [2, 1, 1]);
    const otherCopies = weightedSample([1.5, 1.5, 2, 2.5], [1, 1, 1, 1]);
    assert.equal(superiority(weighted, other), superiority(copies, otherCopies));
    assert.equal(
      pairDifferenceQuantile(weighted, other, 0.5),
      pairDifferenceQuantile(copies, otherCopies, 0.5),
    );
    assert.equal(weighted.total, 7);
    assert.ok(Math.abs(weighted.nEff - 49 / 27) < 1e-9, 'Kish effective size (sum w)^2 / sum w^2');
  });

  it('gives the Hodges-Lehmann shift of a shifted sample', () => {
    const base = Array.from({ length: 400 }, (_, i) => i * 3);
    const shifted = base.map((v) => v + 100);
    const ones = base.map(() => 1);
    const hl = pairDifferenceQuantile(weightedSample(shifted, ones), weightedSample(base, ones), 0.5);
    assert.ok(Math.abs(hl - 100) <= 3, `HL ${hl}`);
    assert.equal(superiority(weightedSample(base, ones), weightedSample(base, ones)), 0.5);
  });

  it('inverts the normal CDF', () => {
    for (const p of [0.001, 0.025, 0.5, 0.9, 0.975, 0.9995])
      assert.ok(Math.abs(normalCdf(normalQuantile(p)) - p) < 1e-6);
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  });
});

describe('spans kept to complete a trace (issue 9)', () => {
  it('are left out of the comparison, so their traces are not counted twice', () => {
    const collector = new CompareSpanCollector();
    const row = (spanId: string, completed: boolean): StoredSpan => ({
      resource: {
        attributes: [{ key: 'service.name', value: { kind: 'string', value: 'frontend' } }],
        droppedAttributesCount: 0,
      },
      resourceSchemaUrl: '',
      scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
      scopeSchemaUrl: '',
      span: makeSpan({
        traceId: 'ab'.repeat(16),
        spanId,
        name: 'GET /',
        startTimeUnixNano: 1n,
        endTimeUnixNano: 2n,
        attributes: [
          { key: 'sampling.weight', value: { kind: 'double', value: completed ? 1 : 20 } },
          ...(completed
            ? [{ key: 'sampling.completed', value: { kind: 'bool' as const, value: true } }]
            : []),
        ],
      }),
    });
    collector.add([row('0000000000000001', false), row('0000000000000002', true)]);
    assert.equal(collector.spans.length, 1);
    assert.equal(collector.spans[0]!.weight, 20);
    assert.equal(collector.completedSkipped, 1);
  });
});
