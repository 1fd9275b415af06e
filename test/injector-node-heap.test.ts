/**
 * The injected agent's V8 heap limits come from its container's memory limit (issue 13, src/injector/node-heap.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { buildInjectionPatch, type AgentSettings } from '../src/injector/pod-patch.js';
import {
  AGENT_MALLOC_ARENAS,
  AGENT_MMAP_THRESHOLD_BYTES,
  AGENT_TRIM_THRESHOLD_BYTES,
  nodeOptionsForMemoryLimit,
  v8HeapSizesMiB,
} from '../src/injector/node-heap.js';
import { readPod } from '../src/injector/pod-view.js';
import { CHART_AGENT_SETTINGS } from './helpers/agent-settings.js';

const MiB = 2 ** 20;

const settings = CHART_AGENT_SETTINGS;

/** The chart's settings with no memory limit for the agent. */
const withoutLimit: AgentSettings = { ...settings, resources: { requests: { memory: '64Mi' }, limits: {} } };

function agentEnv(annotations: Record<string, string>, agentSettings = settings) {
  const pod = readPod({
    metadata: { name: 'app', namespace: 'shop', annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  });
  const ops = buildInjectionPatch(pod, agentSettings, true, []);
  const agent = (
    ops.find((o) => o.path === '/spec/initContainers')?.value as Array<Record<string, unknown>>
  )[0]!;
  return agent['env'] as Array<{ name: string; value?: string }>;
}

void describe('V8 heap limits from the agent container memory limit', () => {
  void test('the chart default (256Mi + 32MiB completion = 288Mi) gives a 210 MiB old space and 2 MiB semi-spaces', () => {
    assert.deepEqual(v8HeapSizesMiB(288 * MiB), { oldSpaceMiB: 210, semiSpaceMiB: 2 });
    assert.equal(nodeOptionsForMemoryLimit(288 * MiB), '--max-old-space-size=210 --max-semi-space-size=2');
  });

  void test('old space plus the young generation leave a quarter of the limit (at least 64 MiB) outside the heap', () => {
    for (let limitMiB = 128; limitMiB <= 4096; limitMiB += 32) {
      const { oldSpaceMiB, semiSpaceMiB } = v8HeapSizesMiB(limitMiB * MiB);
      const heapMiB = oldSpaceMiB + 3 * semiSpaceMiB;
      assert.ok(limitMiB - heapMiB >= Math.max(64, limitMiB / 4) - 1, `${limitMiB} MiB: heap ${heapMiB} MiB`);
      assert.ok(semiSpaceMiB >= 1 && semiSpaceMiB <= 8, `${limitMiB} MiB: semi-space ${semiSpaceMiB} MiB`);
    }
  });

  void test('a larger limit never gives a smaller heap', () => {
    let previous = 0;
    for (let limitMiB = 32; limitMiB <= 4096; limitMiB += 16) {
      const { oldSpaceMiB, semiSpaceMiB } = v8HeapSizesMiB(limitMiB * MiB);
      assert.ok(oldSpaceMiB + 3 * semiSpaceMiB >= previous, `${limitMiB} MiB`);
      previous = oldSpaceMiB + 3 * semiSpaceMiB;
    }
  });

  void test('a limit too small for the reserve still gets the 32 MiB floor; no limit gets no flags', () => {
    assert.equal(v8HeapSizesMiB(64 * MiB).oldSpaceMiB, 32);
    assert.equal(nodeOptionsForMemoryLimit(undefined), undefined);
    assert.equal(nodeOptionsForMemoryLimit(Number.NaN), undefined);
    assert.equal(nodeOptionsForMemoryLimit(0), undefined);
  });

  void test('the injected agent container carries NODE_OPTIONS for its memory limit', () => {
    const env = agentEnv({ 'sidecar.sentinel.dev/inject': 'true' });
    assert.deepEqual(
      env.find((e) => e.name === 'NODE_OPTIONS'),
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=210 --max-semi-space-size=2' },
    );
  });

  void test('a memory-limit annotation sizes the heap it sets, and no limit means no NODE_OPTIONS', () => {
    const annotated = agentEnv({
      'sidecar.sentinel.dev/inject': 'true',
      'sidecar.sentinel.dev/memory-limit': '1Gi',
    });
    assert.equal(
      annotated.find((e) => e.name === 'NODE_OPTIONS')?.value,
      '--max-old-space-size=744 --max-semi-space-size=8',
    );
    const unlimited = agentEnv({ 'sidecar.sentinel.dev/inject': 'true' }, withoutLimit);
    assert.equal(
      unlimited.find((e) => e.name === 'NODE_OPTIONS'),
      undefined,
    );
  });

  void test('Node accepts the flags in NODE_OPTIONS and V8 takes the heap limit from them', () => {
    const options = nodeOptionsForMemoryLimit(288 * MiB)!;
    const r = spawnSync(
      process.execPath,
      ['-e', 'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))'],
      { env: { ...process.env, NODE_OPTIONS: options }, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    // heap_size_limit = old space + the young generation (3 semi-spaces of 2 MiB).
    assert.equal(Number(r.stdout) / MiB, 210 + 3 * 2);
  });

  void test("the agent gets glibc's mmap and trim thresholds and arena count, with or without a memory limit", () => {
    const glibc = (env: Array<{ name: string; value?: string }>) =>
      env.filter((e) => e.name.startsWith('MALLOC_')).map((e) => [e.name, e.value]);
    const expected = [
      ['MALLOC_MMAP_THRESHOLD_', String(AGENT_MMAP_THRESHOLD_BYTES)],
      ['MALLOC_TRIM_THRESHOLD_', String(AGENT_TRIM_THRESHOLD_BYTES)],
      ['MALLOC_ARENA_MAX', String(AGENT_MALLOC_ARENAS)],
    ];
    assert.deepEqual(glibc(agentEnv({ 'sidecar.sentinel.dev/inject': 'true' })), expected);
    assert.deepEqual(glibc(agentEnv({ 'sidecar.sentinel.dev/inject': 'true' }, withoutLimit)), expected);
    assert.deepEqual([AGENT_TRIM_THRESHOLD_BYTES, AGENT_MALLOC_ARENAS], [524288, 2]);
    // A user's variable of the same name comes later and wins (Kubernetes takes the last of duplicate names).
    const overridden = agentEnv(
      { 'sidecar.sentinel.dev/inject': 'true' },
      { ...settings, extraEnv: [{ name: 'MALLOC_MMAP_THRESHOLD_', value: '131072' }] },
    );
    assert.equal(overridden.findLast((e) => e.name === 'MALLOC_MMAP_THRESHOLD_')?.value, '131072');
  });

  void test('with the threshold, long-held buffers freed out of order leave the resident set', () => {
    // What the agent does with the buffers it holds for seconds (request chunks, packed completion slabs): taken
    // in order, every other one freed later. glibc raises its own threshold once a large block is freed (here a
    // 4 MiB one first, as an export batch would be); from its heap the freed ones then stay resident between live
    // ones. With the threshold set, each is its own mmap and goes back to the kernel.
    const size = AGENT_MMAP_THRESHOLD_BYTES + 16 * 1024;
    const script = `
      const rss = () => Number(/^VmRSS:\\s+(\\d+)/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      let big = new ArrayBuffer(4 * 2 ** 20);
      new Uint8Array(big).fill(1);
      big = undefined;
      gc();
      const keep = [], drop = [];
      for (let i = 0; i < 400; i++) {
        const b = new ArrayBuffer(${size});
        new Uint8Array(b).fill(1);
        (i % 2 ? keep : drop).push(b);
      }
      const before = rss();
      drop.length = 0;
      const deadline = Date.now() + 3000;
      (function poll() {
        gc();
        const freed = before - rss();
        if (freed > 16 * 2 ** 20 || Date.now() > deadline) process.stdout.write(String(freed + keep.length * 0));
        else setTimeout(poll, 50);
      })();`;
    const freedMiB = (env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
        env: { ...process.env, NODE_OPTIONS: '', ...env },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      return Number(r.stdout) / MiB;
    };
    const withThreshold = freedMiB({ MALLOC_MMAP_THRESHOLD_: String(AGENT_MMAP_THRESHOLD_BYTES) });
    const without = freedMiB({ MALLOC_MMAP_THRESHOLD_: undefined });
    // 200 buffers of 112 KiB freed: about 22 MiB.
    assert.ok(withThreshold > 16, `with the threshold ${withThreshold.toFixed(1)} MiB left the resident set`);
    assert.ok(
      without < withThreshold / 2,
      `without it ${without.toFixed(1)} MiB (with: ${withThreshold.toFixed(1)})`,
    );
  });
});
