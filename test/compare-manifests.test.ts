import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseCompareParams } from '../src/compare/compare-query.js';

const DIR = 'manifests/examples/canary-analysis';

function load(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(`${DIR}/${file}`, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${file} parses`);
    return d.toJS() as Record<string, unknown>;
  });
}

describe('canary analysis examples', () => {
  it('the Argo Rollouts AnalysisTemplate asks /api/compare with parameters the store accepts and reads $.verdict', () => {
    const [template] = load('argo-analysis-template.yaml');
    assert.equal(template?.['apiVersion'], 'argoproj.io/v1alpha1');
    assert.equal(template?.['kind'], 'AnalysisTemplate');
    const spec = template?.['spec'] as {
      args: { name: string; value?: string }[];
      metrics: {
        successCondition: string;
        failureCondition: string;
        provider: { web: { url: string; jsonPath: string } };
      }[];
    };
    const metric = spec.metrics[0]!;
    assert.equal(metric.provider.web.jsonPath, '{$.verdict}');
    assert.equal(metric.successCondition, 'result == "pass"');
    assert.equal(metric.failureCondition, 'result == "fail"');
    // Argo substitutes {{args.NAME}}; the one without a default is the service.
    const args = Object.fromEntries(spec.args.map((a) => [a.name, a.value ?? 'checkout']));
    const url = new URL(
      metric.provider.web.url.replace(/\{\{args\.([\w-]+)\}\}/g, (_, n: string) => args[n]!),
    );
    assert.equal(url.host, 'sentinel-store.sentinel:3200');
    assert.equal(url.pathname, '/api/compare');
    const { query, options } = parseCompareParams(url.searchParams, Date.now());
    assert.equal(query.service, 'checkout');
    assert.equal(options.maxLatencyIncrease, 0.1);
    assert.equal(options.maxErrorRateIncrease, 0.005);
  });

  it('the Flagger MetricTemplates query the span metrics by the labels the agent writes', () => {
    const docs = load('flagger-metric-template.yaml');
    assert.equal(docs.length, 2);
    for (const d of docs) {
      assert.equal(d['apiVersion'], 'flagger.app/v1beta1');
      assert.equal(d['kind'], 'MetricTemplate');
      const spec = d['spec'] as { provider: { type: string }; query: string };
      assert.equal(spec.provider.type, 'prometheus');
      assert.match(
        spec.query,
        /sentinel_spanmetrics_(calls_total|duration_seconds_bucket)\{service="\{\{ target \}\}",variant="canary"/,
      );
      assert.match(spec.query, /variant="baseline"/);
      for (const m of spec.query.matchAll(/(\w+)="/g)) {
        assert.ok(
          ['service', 'variant', 'status_code'].includes(m[1]!),
          `label ${m[1]} is one the agent writes`,
        );
      }
    }
  });
});

describe('the sentinel command', () => {
  it('has compare and demo commands that answer --help with exit 0', () => {
    for (const command of ['compare', 'demo']) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', command, '--help'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`usage: sentinel ${command}`));
    }
  });
});
