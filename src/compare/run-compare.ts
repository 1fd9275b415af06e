import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isSentinelError, SentinelError } from '../errors.js';
import { openObjectStore } from '../storage/index.js';
import { compareSpans, type CompareReport, type Verdict } from './compare-spans.js';
import { COMPARE_PARAMS, describeQuery, parseCompareParams } from './compare-query.js';
import { loadSpansFromStorage } from './load-spans.js';
import { renderHtml, renderJson, renderTable } from './render.js';

/** Exit codes of `sentinel compare` (docs/canary.md "`sentinel compare`"). */
export const COMPARE_EXIT_CODES: Record<Verdict | 'error', number> = {
  pass: 0,
  fail: 1,
  inconclusive: 2,
  error: 3,
};

const USAGE = `usage: sentinel compare --service NAME (--store URL | --storage URL) [options]

Compares the canary's spans with the baseline's: request count, error rate, latency shift, p50/p90/p99.
Exit code: 0 pass, 1 fail, 2 inconclusive (too few spans), 3 the comparison could not be made.

where the spans are (one of):
  --store URL                  a Sentinel store's query API, e.g. http://sentinel-store:3200 (asks its /api/compare)
  --storage URL                the blocks themselves: s3://bucket/prefix or file:///path
  --token-file FILE            bearer token for --store (auth.required)
  --s3-endpoint URL, --s3-region REGION, --s3-force-path-style   for an s3:// --storage

what to compare:
  --service NAME               service.name (required)
  --baseline NAME              deployment.variant of the baseline (default baseline)
  --canary NAME                deployment.variant of the canary (default canary)
  --window DURATION            the last DURATION (default 1h), or:
  --start TIME --end TIME      unix seconds or RFC 3339
  --operation NAME             only spans of this name
  --span-kinds LIST            comma list (default server,consumer)

how to judge:
  --max-latency-increase PCT   default 10%
  --max-error-rate-increase PP default 0.5pp
  --confidence LEVEL           default 0.95
  --min-spans N                stored spans each variant needs (default 100)

output:
  --format table|json|html     default table
  --out FILE                   write there instead of stdout (the HTML report, typically)
`;

/** The comparison's flags: the query parameters of `GET /api/compare` in kebab case (`span_kinds` -> `--span-kinds`). */
const PARAM_FLAGS = COMPARE_PARAMS.map((p) => [p, p.replaceAll('_', '-')] as const);

export interface CompareCommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now: () => number;
}

const defaultIo: CompareCommandIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  now: Date.now,
};

/** `sentinel compare`: resolves with the exit code (0 pass, 1 fail, 2 inconclusive, 3 error). */
export async function runCompare(argv: string[], io: CompareCommandIo = defaultIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...Object.fromEntries(PARAM_FLAGS.map(([, f]) => [f, { type: 'string' as const }])),
        store: { type: 'string' },
        storage: { type: 'string' },
        'token-file': { type: 'string' },
        's3-endpoint': { type: 'string' },
        's3-region': { type: 'string' },
        's3-force-path-style': { type: 'boolean' },
        format: { type: 'string', default: 'table' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`sentinel compare: ${(err as Error).message}\n\n${USAGE}`);
    return COMPARE_EXIT_CODES.error;
  }
  if (values['help']) {
    io.stdout(USAGE);
    return 0;
  }
  const format = values['format'] as string;
  if (!['table', 'json', 'html'].includes(format)) {
    io.stderr(`sentinel compare: --format: expected table, json or html, got ${JSON.stringify(format)}\n`);
    return COMPARE_EXIT_CODES.error;
  }
  const storeUrl = values['store'] as string | undefined;
  const storageUrl = values['storage'] as string | undefined;
  if ((storeUrl === undefined) === (storageUrl === undefined)) {
    io.stderr(`sentinel compare: give exactly one of --store URL or --storage URL\n\n${USAGE}`);
    return COMPARE_EXIT_CODES.error;
  }
  const params = new URLSearchParams();
  for (const [p, f] of PARAM_FLAGS) {
    const v = values[f];
    if (typeof v === 'string') params.set(p, v);
  }
  let report: CompareReport;
  try {
    if (storeUrl !== undefined) {
      const token = values['token-file']
        ? (await readFile(values['token-file'] as string, 'utf8')).trim()
        : '';
      report = await fetchReport(storeUrl, params, token);
    } else {
      const { query, options } = parseCompareParams(params, io.now());
      const store = openObjectStore(storageUrl!, {
        ...(values['s3-endpoint'] ? { endpoint: values['s3-endpoint'] as string } : {}),
        ...(values['s3-region'] ? { region: values['s3-region'] as string } : {}),
        ...(values['s3-force-path-style'] ? { forcePathStyle: true } : {}),
      });
      const { spans } = await loadSpansFromStorage(store, query, (key, reason) =>
        io.stderr(`sentinel compare: skipping ${key}: ${reason}\n`),
      );
      report = { ...compareSpans(spans, options), query: describeQuery(query) };
    }
  } catch (err) {
    const code = isSentinelError(err) ? `${err.code}: ` : '';
    io.stderr(`sentinel compare: ${code}${(err as Error).message}\n`);
    return COMPARE_EXIT_CODES.error;
  }
  const text =
    format === 'json' ? renderJson(report) : format === 'html' ? renderHtml(report) : renderTable(report);
  const out = values['out'] as string | undefined;
  if (out !== undefined) {
    await writeFile(out, text);
    io.stderr(`sentinel compare: ${report.verdict}; report written to ${out}\n`);
  } else {
    io.stdout(text);
  }
  return COMPARE_EXIT_CODES[report.verdict];
}

/** Asks a store's `GET /api/compare` (the same computation, next to the data). */
async function fetchReport(base: string, params: URLSearchParams, token: string): Promise<CompareReport> {
  const url = `${base.replace(/\/+$/, '')}/api/compare?${params.toString()}`;
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const body = await res.text();
  if (res.status !== 200) {
    let message = body.slice(0, 500);
    try {
      message = (JSON.parse(body) as { error?: string }).error ?? message;
    } catch {
      // Not JSON: the raw text says more than nothing.
    }
    throw new SentinelError('SENTINEL_ERR_QUERY_INVALID', `${url}: HTTP ${res.status}: ${message}`);
  }
  return JSON.parse(body) as CompareReport;
}
