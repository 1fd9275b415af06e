import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Enricher } from '../src/enrich/enricher.js';
import { detectVariant, type Variant } from '../src/enrich/variant-rules.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { KubeletVolume } from './fixtures/enrich/kubelet-volume.js';
import { attrsOf, batchOf, enrichConfig, resourceSpans } from './fixtures/enrich/helpers.js';
import { CollectingConsumer } from './helpers/collecting-consumer.js';

interface Case {
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly workload?: string;
  readonly flaggerPrimarySibling?: boolean;
  readonly baselineVersion?: string;
  readonly want: Variant | undefined;
  /** The rule expected to decide. */
  readonly rule?: string;
}

const ARGO = { 'rollouts-pod-template-hash': '6c9f7b5d4' };
const FLAGGER_ID = { 'flagger-id': '0f5b2c8e-7a4d-4c1e-9b3a-2d6e8f1a4c7b' };

// Label and annotation sets as the tools produce them (Argo Rollouts canaryMetadata/stableMetadata, Flagger's
// primary copy, Istio's version label, plain track labels), plus conflicting and partial ones.
const CASES: Case[] = [
  {
    name: 'explicit annotation canary',
    annotations: { 'sentinel.dev/variant': 'canary' },
    want: 'canary',
    rule: 'annotation',
  },
  {
    name: 'explicit annotation "Stable" normalised to baseline',
    annotations: { 'sentinel.dev/variant': ' Stable ' },
    want: 'baseline',
    rule: 'annotation',
  },
  { name: 'plain track=canary', labels: { app: 'checkout', track: 'canary' }, want: 'canary', rule: 'track' },
  {
    name: 'plain track=stable',
    labels: { app: 'checkout', track: 'stable' },
    want: 'baseline',
    rule: 'track',
  },
  {
    name: 'variant=primary normalised to baseline',
    labels: { variant: 'primary' },
    want: 'baseline',
    rule: 'variant',
  },
  {
    name: 'Argo Rollouts canaryMetadata role=canary',
    labels: { app: 'checkout', role: 'canary', ...ARGO },
    want: 'canary',
    rule: 'argo-rollouts',
  },
  {
    name: 'Argo Rollouts stableMetadata role=stable',
    labels: { app: 'checkout', role: 'stable', ...ARGO },
    want: 'baseline',
    rule: 'argo-rollouts',
  },
  {
    name: 'partial: role=canary without the Rollouts hash is not Argo',
    labels: { role: 'canary' },
    want: undefined,
  },
  {
    name: 'partial: Argo pod outside a canary step (no role label)',
    labels: { app: 'checkout', ...ARGO },
    want: undefined,
  },
  {
    name: 'Flagger primary: flagger-id and -primary workload and app label',
    labels: { app: 'podinfo-primary', 'pod-template-hash': '5d8f9c7b6' },
    annotations: FLAGGER_ID,
    workload: 'podinfo-primary',
    want: 'baseline',
    rule: 'flagger',
  },
  {
    name: 'conflict: Flagger primary carrying the target template annotation variant=canary stays baseline',
    labels: { app: 'podinfo-primary' },
    annotations: { ...FLAGGER_ID, 'sentinel.dev/variant': 'canary' },
    workload: 'podinfo-primary',
    want: 'baseline',
    rule: 'flagger',
  },
  {
    name: 'Flagger target pod without API evidence: no guess',
    labels: { app: 'podinfo' },
    workload: 'podinfo',
    want: undefined,
  },
  {
    name: 'Flagger target pod whose -primary sibling the API found: canary',
    labels: { app: 'podinfo' },
    workload: 'podinfo',
    flaggerPrimarySibling: true,
    want: 'canary',
    rule: 'flagger',
  },
  {
    name: 'Flagger target annotated on its template: canary by the annotation',
    labels: { app: 'podinfo' },
    annotations: { 'sentinel.dev/variant': 'canary' },
    workload: 'podinfo',
    want: 'canary',
    rule: 'annotation',
  },
  {
    name: 'partial: a Deployment merely named db-primary is not Flagger',
    labels: { app: 'db-primary' },
    workload: 'db-primary',
    want: undefined,
  },
  {
    name: 'Istio version equal to the baseline version',
    labels: { app: 'reviews', version: 'v1' },
    baselineVersion: 'v1',
    want: 'baseline',
    rule: 'istio-version',
  },
  {
    name: 'Istio version other than the baseline version',
    labels: { app: 'reviews', version: 'v2' },
    baselineVersion: 'v1',
    want: 'canary',
    rule: 'istio-version',
  },
  {
    name: 'partial: Istio version label but no baseline version configured',
    labels: { app: 'reviews', version: 'v2' },
    want: undefined,
  },
  {
    name: 'conflict: track=canary and Argo role=stable, track comes first',
    labels: { track: 'canary', role: 'stable', ...ARGO },
    want: 'canary',
    rule: 'track',
  },
  {
    name: 'conflict: annotation baseline beats label track=canary',
    labels: { track: 'canary' },
    annotations: { 'sentinel.dev/variant': 'baseline' },
    want: 'baseline',
    rule: 'annotation',
  },
  {
    name: 'partial: unknown track value falls through to the Istio rule',
    labels: { track: 'blue', version: 'v2' },
    baselineVersion: 'v1',
    want: 'canary',
    rule: 'istio-version',
  },
  {
    name: 'partial: empty annotation value and unknown label values: absent',
    labels: { track: 'green' },
    annotations: { 'sentinel.dev/variant': '' },
    want: undefined,
  },
  { name: 'nothing at all: absent', want: undefined },
];

void describe('variant detection with the default rules', () => {
  const rules = enrichConfig().variant.rules;
  assert.ok(CASES.length >= 12);
  for (const c of CASES) {
    void test(c.name, () => {
      const decision = detectVariant(
        rules,
        {
          labels: new Map(Object.entries(c.labels ?? {})),
          annotations: new Map(Object.entries(c.annotations ?? {})),
          workloadName: c.workload,
          flaggerPrimarySibling: c.flaggerPrimarySibling,
        },
        c.baselineVersion ?? '',
      );
      assert.equal(decision?.variant, c.want);
      if (c.rule) assert.equal(decision?.rule, c.rule);
    });
  }
});

void describe('configured variant rules', () => {
  void test('replace the defaults, apply in order, and use their own values', () => {
    const rules = enrichConfig({
      variant: {
        rules: [
          {
            kind: 'value',
            source: 'label',
            key: 'color',
            canary_values: ['green'],
            baseline_values: ['blue'],
          },
          { kind: 'version', key: 'app.kubernetes.io/version', baseline_version: '1.0.0' },
        ],
      },
    }).variant.rules;
    const decide = (labels: Record<string, string>) =>
      detectVariant(rules, { labels: new Map(Object.entries(labels)), annotations: new Map() }, '')?.variant;
    assert.equal(decide({ color: 'green' }), 'canary');
    assert.equal(decide({ color: 'blue', track: 'canary' }), 'baseline');
    assert.equal(decide({ track: 'canary' }), undefined, 'the default rules are gone');
    assert.equal(decide({ 'app.kubernetes.io/version': '1.0.0' }), 'baseline');
    assert.equal(decide({ 'app.kubernetes.io/version': '1.1.0' }), 'canary');
  });

  void test('a rule of unknown kind is refused at load with the key named', () => {
    assert.throws(
      () => enrichConfig({ variant: { rules: [{ kind: 'guess' }] } }),
      /enrich\.variant\.rules\.0\.kind/,
    );
  });
});

void describe('variant through the enricher', () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  void test('a Flagger primary pod is baseline from its podinfo files and pod name alone', async () => {
    const volume = new KubeletVolume({
      labels: { app: 'podinfo-primary', 'pod-template-hash': '5d8f9c7b6' },
      annotations: { ...FLAGGER_ID, 'sentinel.dev/variant': 'canary' },
    });
    cleanups.push(() => volume.remove());
    const sink = new CollectingConsumer();
    const enricher = new Enricher({
      next: sink,
      config: enrichConfig({ podinfo_dir: volume.dir }),
      env: { POD_NAME: 'podinfo-primary-5d8f9c7b6-x2k9q', POD_NAMESPACE: 'test' },
      metrics: new Metrics(),
      logger: silentLogger(),
    });
    cleanups.push(() => enricher.shutdown());
    await enricher.consume(batchOf(resourceSpans()));
    const attrs = attrsOf(sink.batches[0]!.data.resourceSpans[0]!.resource.attributes);
    assert.equal(attrs['k8s.deployment.name'], 'podinfo-primary');
    assert.equal(attrs['deployment.variant'], 'baseline');
    assert.equal(enricher.identity().variant?.rule, 'flagger');
  });

  void test('an Istio version label is compared with variant.baseline_version', async () => {
    const volume = new KubeletVolume({ labels: { app: 'reviews', version: 'v3' }, annotations: {} });
    cleanups.push(() => volume.remove());
    const sink = new CollectingConsumer();
    const enricher = new Enricher({
      next: sink,
      config: enrichConfig({ podinfo_dir: volume.dir, variant: { baseline_version: 'v1' } }),
      env: { POD_NAME: 'reviews-v3-abc', POD_NAMESPACE: 'bookinfo' },
      metrics: new Metrics(),
      logger: silentLogger(),
    });
    cleanups.push(() => enricher.shutdown());
    await enricher.consume(batchOf(resourceSpans()));
    assert.equal(
      attrsOf(sink.batches[0]!.data.resourceSpans[0]!.resource.attributes)['deployment.variant'],
      'canary',
    );
  });
});
