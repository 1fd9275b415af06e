import type { CompareReport, CompareRow, CompareSection, LatencyDistribution } from './compare-spans.js';
import { renderNeighboursSvg } from './neighbours.js';

const LABELS: Record<CompareRow['metric'], string> = {
  count: 'requests',
  error_rate: 'error rate',
  latency_shift: 'latency shift',
  p50: 'p50',
  p90: 'p90',
  p99: 'p99',
};

function fmtValue(row: CompareRow, v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (row.unit === 'ratio') return `${(v * 100).toFixed(2)}%`;
  if (row.unit === 'spans') return Math.round(v).toLocaleString('en-US');
  return fmtMs(v);
}

function fmtMs(ms: number): string {
  const a = Math.abs(ms);
  return `${a >= 100 ? ms.toFixed(0) : a >= 1 ? ms.toFixed(1) : ms.toFixed(3)}ms`;
}

function fmtDiff(row: CompareRow): string {
  const d = row.difference;
  if (d === null || !Number.isFinite(d)) return '-';
  const sign = (x: number) => (x >= 0 ? '+' : '');
  let s: string;
  if (row.unit === 'ratio') s = `${sign(d)}${(d * 100).toFixed(2)}pp`;
  else if (row.unit === 'spans') s = `${sign(d)}${Math.round(d).toLocaleString('en-US')}`;
  else s = `${sign(d)}${fmtMs(d)}`;
  if (row.relative !== null && row.unit !== 'ratio')
    s += ` (${sign(row.relative)}${(row.relative * 100).toFixed(1)}%)`;
  if (row.interval) {
    const [lo, hi] = row.interval;
    s +=
      row.unit === 'ratio'
        ? ` CI ${(lo * 100).toFixed(2)}..${(hi * 100).toFixed(2)}pp`
        : ` CI ${fmtMs(lo)}..${fmtMs(hi)}`;
  }
  return s;
}

function sectionTitle(s: CompareSection, report: CompareReport): string {
  const b = s.samples.baseline;
  const c = s.samples.canary;
  const name = s.operation === '*' ? 'overall' : `operation ${JSON.stringify(s.operation)}`;
  return `${name}: ${s.verdict.toUpperCase()}  (${report.baseline}: ${b.stored} spans stored for ~${Math.round(b.estimated)}; ${report.canary}: ${c.stored} for ~${Math.round(c.estimated)})`;
}

/** The report as a plain-text table for a terminal. */
export function renderTable(report: CompareReport): string {
  const lines: string[] = [];
  const q = report.query;
  if (q) {
    lines.push(
      `service ${q['service'] ?? '?'}, ${q['start'] ?? '?'} .. ${q['end'] ?? '?'}, span kinds ${q['span_kinds'] ?? '?'}${q['operation'] ? `, operation ${q['operation']}` : ''}`,
    );
  }
  lines.push(
    `verdict: ${report.verdict.toUpperCase()}  (${report.canary} against ${report.baseline}; latency +${(report.thresholds.maxLatencyIncrease * 100).toFixed(1)}%, errors +${(report.thresholds.maxErrorRateIncrease * 100).toFixed(2)}pp allowed, confidence ${report.thresholds.confidence}, at least ${report.thresholds.minSpans} spans per variant)`,
  );
  for (const s of [report.overall, ...report.operations]) {
    lines.push('', sectionTitle(s, report));
    const rows = [
      ['metric', report.baseline, report.canary, 'difference', 'verdict'],
      ...s.rows.map((r) => [
        LABELS[r.metric],
        fmtValue(r, r.baseline),
        fmtValue(r, r.canary),
        fmtDiff(r),
        r.verdict,
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      lines.push(
        '  ' +
          r
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
      );
  }
  if (report.reasons.length > 0) {
    lines.push('', 'why:');
    for (const r of report.reasons) lines.push(`  - ${r}`);
  }
  if (report.ignoredSpans > 0)
    lines.push('', `${report.ignoredSpans} spans of other variants (or none) were left out.`);
  return lines.join('\n') + '\n';
}

/** The report as JSON (the body of GET /api/compare). */
export function renderJson(report: CompareReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const BASELINE_COLOR = '#2f6fdf';
const CANARY_COLOR = '#e0662b';

/** Both latency distributions over each other: weighted share per log-spaced bin, as SVG. */
export function renderDistributionSvg(
  d: LatencyDistribution,
  names: { baseline: string; canary: string },
): string {
  const W = 760;
  const H = 300;
  const m = { left: 56, right: 16, top: 28, bottom: 44 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const bins = d.baseline.length;
  if (bins === 0 || d.edgesMs.length !== bins + 1) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60" role="img" aria-label="no spans"><text x="10" y="35">No spans to draw.</text></svg>`;
  }
  const peak = Math.max(...d.baseline, ...d.canary, 1e-9);
  const x = (i: number) => m.left + (i / bins) * pw;
  const y = (share: number) => m.top + ph - (share / peak) * ph;
  const path = (shares: readonly number[]) => {
    let p = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
    shares.forEach((s, i) => {
      p += ` L${x(i).toFixed(1)},${y(s).toFixed(1)} L${x(i + 1).toFixed(1)},${y(s).toFixed(1)}`;
    });
    return p + ` L${x(bins).toFixed(1)},${y(0).toFixed(1)} Z`;
  };
  const ticks: string[] = [];
  for (let i = 0; i <= bins; i += Math.max(1, Math.round(bins / 8))) {
    ticks.push(
      `<line x1="${x(i).toFixed(1)}" y1="${m.top + ph}" x2="${x(i).toFixed(1)}" y2="${m.top + ph + 5}" stroke="#555"/>` +
        `<text x="${x(i).toFixed(1)}" y="${m.top + ph + 18}" font-size="11" text-anchor="middle">${escapeHtml(fmtMs(d.edgesMs[i]!))}</text>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency distributions of ${escapeHtml(names.baseline)} and ${escapeHtml(names.canary)}" font-family="sans-serif">`,
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
    `<path id="dist-baseline" d="${path(d.baseline)}" fill="${BASELINE_COLOR}" fill-opacity="0.35" stroke="${BASELINE_COLOR}" stroke-width="1.5"/>`,
    `<path id="dist-canary" d="${path(d.canary)}" fill="${CANARY_COLOR}" fill-opacity="0.35" stroke="${CANARY_COLOR}" stroke-width="1.5"/>`,
    ...ticks,
    `<text x="${m.left + pw / 2}" y="${H - 6}" font-size="12" text-anchor="middle">span duration (log scale)</text>`,
    `<text x="14" y="${m.top + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${m.top + ph / 2})">share of spans (weighted)</text>`,
    `<rect x="${m.left + 10}" y="8" width="12" height="12" fill="${BASELINE_COLOR}" fill-opacity="0.6"/><text x="${m.left + 27}" y="18" font-size="12">${escapeHtml(names.baseline)}</text>`,
    `<rect x="${m.left + 140}" y="8" width="12" height="12" fill="${CANARY_COLOR}" fill-opacity="0.6"/><text x="${m.left + 157}" y="18" font-size="12">${escapeHtml(names.canary)}</text>`,
    `</svg>`,
  ].join('\n');
}

/** A self-contained HTML page (no script, no external resource): verdict, tables, and the two distributions. */
export function renderHtml(report: CompareReport): string {
  const verdictColor = { pass: '#1a7f37', fail: '#cf222e', inconclusive: '#9a6700' }[report.verdict];
  const table = (s: CompareSection) =>
    `<h2>${escapeHtml(sectionTitle(s, report))}</h2>\n<table><thead><tr><th>metric</th><th>${escapeHtml(report.baseline)}</th><th>${escapeHtml(report.canary)}</th><th>difference</th><th>verdict</th><th>why</th></tr></thead><tbody>\n` +
    s.rows
      .map(
        (r) =>
          `<tr class="${r.verdict}"><td>${LABELS[r.metric]}</td><td>${escapeHtml(fmtValue(r, r.baseline))}</td><td>${escapeHtml(fmtValue(r, r.canary))}</td><td>${escapeHtml(fmtDiff(r))}</td><td>${r.verdict}</td><td>${escapeHtml(r.reason)}</td></tr>`,
      )
      .join('\n') +
    '\n</tbody></table>';
  const q = report.query ?? {};
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sentinel: ${escapeHtml(report.canary)} against ${escapeHtml(report.baseline)}${q['service'] ? ` (${escapeHtml(q['service'])})` : ''}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #1f2328; }
.verdict { font-size: 28px; font-weight: bold; color: ${verdictColor}; }
table { border-collapse: collapse; margin-bottom: 16px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; font-size: 13px; }
tr.fail td { background: #ffebe9; } tr.inconclusive td { background: #fff8c5; }
</style></head>
<body>
<h1>Canary versus baseline${q['service'] ? `: ${escapeHtml(q['service'])}` : ''}</h1>
<p class="verdict" id="verdict">${report.verdict.toUpperCase()}</p>
<p>${escapeHtml(q['start'] ?? '')} .. ${escapeHtml(q['end'] ?? '')}; latency +${(report.thresholds.maxLatencyIncrease * 100).toFixed(1)}% and errors +${(report.thresholds.maxErrorRateIncrease * 100).toFixed(2)}pp allowed at confidence ${report.thresholds.confidence}; at least ${report.thresholds.minSpans} stored spans per variant.</p>
${report.reasons.length ? `<ul>${report.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` : ''}
<h2>Latency distributions</h2>
${renderDistributionSvg(report.distribution, { baseline: report.baseline, canary: report.canary })}
${report.neighbours && q['service'] ? `<h2>Neighbours of ${escapeHtml(q['service'])} per variant</h2>\n${renderNeighboursSvg(report.neighbours, q['service'], { baseline: report.baseline, canary: report.canary }, { baseline: BASELINE_COLOR, canary: CANARY_COLOR })}\n<p>Requests estimated from the sample by the store's service graph (${escapeHtml(report.neighbours.source)}); red edges fail more than 5 %.</p>` : ''}
${[report.overall, ...report.operations].map(table).join('\n')}
<p>Estimates weight every stored span by its sampling.weight; intervals are simultaneous over every judged row.</p>
</body></html>
`;
}
