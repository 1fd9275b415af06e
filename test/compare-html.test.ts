import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compareSpans } from '../src/compare/compare-spans.js';
import { renderHtml } from '../src/compare/render.js';
import { knownTruthWorkload } from './helpers/compare-workload.js';
import { decodePng } from './helpers/png.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (Debian's chromium package: apt-get install -y chromium); the screenshot test needs it`;

/** Pixels within `tolerance` of `rgb` per channel. */
function countNear(png: ReturnType<typeof decodePng>, rgb: [number, number, number], tolerance = 14): number {
  let n = 0;
  for (let y = 0; y < png.height; y++)
    for (let x = 0; x < png.width; x++) {
      const p = png.pixel(x, y);
      if (
        Math.abs(p[0] - rgb[0]) <= tolerance &&
        Math.abs(p[1] - rgb[1]) <= tolerance &&
        Math.abs(p[2] - rgb[2]) <= tolerance
      )
        n++;
    }
  return n;
}

/** A color at `alpha` over the plot's #fafafa background. */
function over(hex: string, alpha: number): [number, number, number] {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return c.map((v) => Math.round(alpha * v + (1 - alpha) * 0xfa)) as [number, number, number];
}

describe('the HTML report in headless Chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-html-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('renders without errors and shows both latency distributions', () => {
    const report = compareSpans(knownTruthWorkload({ seed: 3, spans: 3000, canaryLatency: (d) => d * 1.4 }));
    const page = join(dir, 'report.html');
    writeFileSync(page, renderHtml({ ...report, query: { service: 'checkout', start: 'a', end: 'b' } }));
    const shot = join(dir, 'report.png');
    const run = spawnSync(
      CHROMIUM,
      [
        ...FLAGS,
        `--user-data-dir=${join(dir, 'profile')}`,
        '--window-size=1000,1000',
        `--screenshot=${shot}`,
        `file://${page}`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 0, `chromium exited ${run.status}: ${run.stderr}`);
    assert.doesNotMatch(run.stderr, /Uncaught|Failed to load|net::ERR_/, 'no page error in the log');
    const dom = spawnSync(
      CHROMIUM,
      [...FLAGS, `--user-data-dir=${join(dir, 'profile2')}`, '--dump-dom', `file://${page}`],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(dom.status, 0);
    assert.match(
      dom.stdout,
      /<p class="verdict" id="verdict">FAIL<\/p>/,
      'the parsed page holds the verdict',
    );
    assert.match(dom.stdout, /<path id="dist-baseline" d="M[^"]+"/);
    assert.match(dom.stdout, /<path id="dist-canary" d="M[^"]+"/);

    const png = decodePng(readFileSync(shot));
    assert.equal(png.width, 1000);
    // Each distribution's own fill (where it does not overlap the other) covers a good part of the plot.
    const baseline = countNear(png, over('#2f6fdf', 0.35));
    const canary = countNear(png, over('#e0662b', 0.35));
    assert.ok(baseline > 3000, `baseline fill pixels: ${baseline}`);
    assert.ok(canary > 3000, `canary fill pixels: ${canary}`);
  });
});
