import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runDemo } from '../src/demo/run-demo.js';

describe('sentinel demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-demo-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a store, two agents and an SDK app, then prints the comparison and writes the HTML report', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDemo(['--duration', '4s', '--rate', '150', '--dir', dir], {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      now: Date.now,
    });
    const text = out.join('');
    assert.equal(code, 0, err.join(''));
    assert.match(text, /app: sent \d+ requests/);
    assert.match(text, /verdict: (FAIL|INCONCLUSIVE|PASS)/);
    assert.match(text, /overall: \w+ {2}\(baseline: \d+ spans stored for ~\d+; canary: \d+ for ~\d+\)/);
    const stored = /baseline: (\d+) spans stored for ~(\d+)/.exec(text)!;
    assert.ok(
      Number(stored[2]) > Number(stored[1]),
      'tail sampling stored fewer spans than the weights stand for',
    );
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    assert.match(html, /<path id="dist-baseline" d="M/);
    assert.match(html, /<path id="dist-canary" d="M/);
    assert.ok(existsSync(join(dir, 'data', 'blocks')), 'the store wrote blocks');
  });
});
