/**
 * A small runner for helm-unittest suites (`charts/<chart>/tests/*_test.yaml`, in helm-unittest's own format,
 * https://github.com/helm-unittest/helm-unittest/blob/main/DOCUMENT.md). helm-unittest is a Helm plugin that is
 * not on the npm registry; this renders each test job with the real `helm` (`install --dry-run=client`, so that
 * NOTES.txt renders too) and evaluates the assertion types listed in SUPPORTED_ASSERTIONS. A suite that uses
 * anything else fails with a message saying so, rather than passing silently.
 *
 *   node --import tsx scripts/helm-unittest.ts charts/sentinel
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { runHelm } from './helm.js';

export const SUPPORTED_ASSERTIONS = [
  'equal',
  'notEqual',
  'exists',
  'notExists',
  'isNull',
  'isNotNull',
  'isNullOrEmpty',
  'isEmpty',
  'isNotNullOrEmpty',
  'isNotEmpty',
  'isKind',
  'isAPIVersion',
  'hasDocuments',
  'containsDocument',
  'contains',
  'notContains',
  'isSubset',
  'isNotSubset',
  'matchRegex',
  'notMatchRegex',
  'lengthEqual',
  'failedTemplate',
  'notFailedTemplate',
  'equalRaw',
  'matchRegexRaw',
  'notMatchRegexRaw',
] as const;

type Doc = unknown;
type Values = Record<string, unknown>;

interface Release {
  name?: string;
  namespace?: string;
  revision?: number;
  upgrade?: boolean;
}

interface Capabilities {
  majorVersion?: number | string;
  minorVersion?: number | string;
  apiVersions?: string[];
}

interface Selector {
  path: string;
  value: unknown;
}

interface Assertion extends Record<string, unknown> {
  not?: boolean;
  template?: string;
  documentIndex?: number;
  documentSelector?: Selector;
}

interface TestJob {
  it: string;
  values?: string[];
  set?: Values;
  template?: string;
  templates?: string[];
  documentIndex?: number;
  documentSelector?: Selector;
  release?: Release;
  capabilities?: Capabilities;
  asserts: Assertion[];
}

interface Suite {
  suite?: string;
  values?: string[];
  set?: Values;
  templates?: string[];
  release?: Release;
  capabilities?: Capabilities;
  tests: TestJob[];
}

export interface TestResult {
  readonly suite: string;
  readonly file: string;
  readonly it: string;
  readonly failures: readonly string[];
}

interface Rendered {
  /** Documents by template path ("templates/x.yaml"). */
  readonly byTemplate: Map<string, Doc[]>;
  readonly notes: string;
  readonly error: string | undefined;
}

/** Suite files of a chart, sorted. */
export function suiteFiles(chartDir: string): string[] {
  const dir = join(chartDir, 'tests');
  return readdirSync(dir)
    .filter((f) => f.endsWith('_test.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

/** Runs every test job of one suite file. */
export function runSuiteFile(chartDir: string, file: string): TestResult[] {
  const suite = parseYaml(readFileSync(file, 'utf8')) as Suite;
  const name = suite.suite ?? file;
  if (!Array.isArray(suite.tests))
    return [{ suite: name, file, it: '(suite)', failures: ['"tests" must be a list'] }];
  return suite.tests.map((job) => ({
    suite: name,
    file,
    it: job.it,
    failures: runJob(chartDir, file, suite, job),
  }));
}

function runJob(chartDir: string, file: string, suite: Suite, job: TestJob): string[] {
  const tmp = mkdtempSync(join(tmpdir(), 'helm-unittest-'));
  try {
    const valueFiles: string[] = [];
    const rel = (f: string) => resolve(dirname(file), f);
    for (const f of suite.values ?? []) valueFiles.push(rel(f));
    if (suite.set) valueFiles.push(writeValues(tmp, 'suite-set.yaml', suite.set));
    for (const f of job.values ?? []) valueFiles.push(rel(f));
    if (job.set) valueFiles.push(writeValues(tmp, 'job-set.yaml', job.set));
    const release = { ...suite.release, ...job.release };
    const capabilities = { ...suite.capabilities, ...job.capabilities };
    const rendered = render(chartDir, valueFiles, release, capabilities);
    const failures: string[] = [];
    for (const [i, assertion] of job.asserts.entries()) {
      try {
        const message = evaluate(assertion, rendered, suite, job);
        if (message) failures.push(`assert ${i} (${assertionType(assertion)}): ${message}`);
      } catch (err) {
        failures.push(`assert ${i} (${assertionType(assertion)}): ${(err as Error).message}`);
      }
    }
    return failures;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** helm-unittest `set` keys are dotted paths (`image.tag`); values may be whole objects. */
function writeValues(dir: string, name: string, set: Values): string {
  const out: Values = {};
  for (const [key, value] of Object.entries(set)) {
    const parts = key.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.'));
    let node = out;
    for (const p of parts.slice(0, -1)) {
      if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
      node = node[p] as Values;
    }
    node[parts[parts.length - 1] as string] = value;
  }
  const path = join(dir, name);
  writeFileSync(path, stringifyYaml(out));
  return path;
}

/** Renders are cached by their inputs: many jobs of a suite render the same values. */
const renderCache = new Map<string, Rendered>();

function render(
  chartDir: string,
  valueFiles: string[],
  release: Release,
  capabilities: Capabilities,
): Rendered {
  const key = JSON.stringify([
    resolve(chartDir),
    valueFiles.map((f) => readFileSync(f, 'utf8')),
    release,
    capabilities,
  ]);
  const cached = renderCache.get(key);
  if (cached) return cached;
  const rendered = renderUncached(chartDir, valueFiles, release, capabilities);
  renderCache.set(key, rendered);
  return rendered;
}

function renderUncached(
  chartDir: string,
  valueFiles: string[],
  release: Release,
  capabilities: Capabilities,
): Rendered {
  // `helm install --dry-run=client` renders NOTES.txt too, but takes no capabilities; with capabilities the job
  // is rendered by `helm template`, which takes them and skips NOTES.txt.
  const withCapabilities =
    capabilities.majorVersion !== undefined ||
    capabilities.minorVersion !== undefined ||
    (capabilities.apiVersions ?? []).length > 0;
  const args = withCapabilities
    ? ['template', release.name ?? 'release-name', chartDir]
    : ['install', release.name ?? 'release-name', chartDir, '--dry-run=client'];
  args.push('--namespace', release.namespace ?? 'namespace');
  for (const f of valueFiles) args.push('--values', f);
  if (capabilities.majorVersion !== undefined || capabilities.minorVersion !== undefined) {
    args.push('--kube-version', `v${capabilities.majorVersion ?? 1}.${capabilities.minorVersion ?? 33}.0`);
  }
  for (const v of capabilities.apiVersions ?? []) args.push('--api-versions', v);
  const r = runHelm(args);
  if (r.status !== 0)
    return { byTemplate: new Map(), notes: '', error: (r.stderr || r.stdout || 'helm failed').trim() };
  return { ...splitOutput(r.stdout), error: undefined };
}

/**
 * `helm install --dry-run` prints HOOKS: (hook documents, such as `helm test` pods), then MANIFEST: and the
 * documents, then NOTES:. helm-unittest asserts on hook documents too.
 */
export function splitOutput(stdout: string): { byTemplate: Map<string, Doc[]>; notes: string } {
  const hooksAt = stdout.indexOf('\nHOOKS:\n');
  const manifestAt = stdout.indexOf('\nMANIFEST:\n');
  const notesAt = stdout.indexOf('\nNOTES:\n');
  const start = hooksAt >= 0 ? hooksAt + 8 : manifestAt >= 0 ? manifestAt + 11 : 0;
  const manifest = stdout.slice(start, notesAt < 0 ? undefined : notesAt).replace('\nMANIFEST:\n', '\n---\n');
  const notes = notesAt < 0 ? '' : stdout.slice(notesAt + 8);
  const byTemplate = new Map<string, Doc[]>();
  for (const chunk of manifest.split(/^---\s*$/m)) {
    const source = /^# Source: [^/]+\/(.+)$/m.exec(chunk)?.[1];
    if (!source) continue;
    const doc: unknown = parseYaml(chunk);
    if (doc === null || doc === undefined) continue;
    const list = byTemplate.get(source) ?? [];
    list.push(doc);
    byTemplate.set(source, list);
  }
  return { byTemplate, notes };
}

function assertionType(a: Assertion): string {
  const keys = Object.keys(a).filter(
    (k) => !['not', 'template', 'documentIndex', 'documentSelector'].includes(k),
  );
  if (keys.length !== 1)
    throw new Error(`an assertion has exactly one type key, got ${keys.join(', ') || 'none'}`);
  return keys[0] as string;
}

function normaliseTemplate(t: string): string {
  return t.startsWith('templates/') ? t : `templates/${t}`;
}

/** Returns undefined when the assertion holds, else a message. */
function evaluate(a: Assertion, rendered: Rendered, suite: Suite, job: TestJob): string | undefined {
  const type = assertionType(a);
  if (!(SUPPORTED_ASSERTIONS as readonly string[]).includes(type)) {
    return `assertion type "${type}" is not supported by this runner (see charts/sentinel/README.md)`;
  }
  const params = (a[type] ?? {}) as Record<string, unknown>;
  const negate = a.not === true;
  const verdict = (holds: boolean, what: string) =>
    holds !== negate ? undefined : `${negate ? 'NOT ' : ''}${what}`;

  if (type === 'failedTemplate') {
    if (rendered.error === undefined) return verdict(false, 'expected rendering to fail');
    const expected = params['errorMessage'] as string | undefined;
    const pattern = params['errorPattern'] as string | undefined;
    // helm-unittest compares errorMessage with the human-readable message: for `fail`, the text after helm's
    // "execution error at (file:line:col): " prefix.
    const human = rendered.error
      .replace(/^Error: (INSTALLATION FAILED: )?/, '')
      .replace(/^execution error at \([^)]*\): /, '')
      .split('\n')[0];
    const holds =
      (expected === undefined || human === expected || rendered.error === expected) &&
      (pattern === undefined || goRegExp(pattern).test(rendered.error));
    return verdict(holds, `expected the error to match ${expected ?? pattern}, got: ${rendered.error}`);
  }
  if (rendered.error !== undefined) return `rendering failed: ${rendered.error}`;
  if (type === 'notFailedTemplate') return verdict(true, 'expected rendering to fail');
  if (type === 'equalRaw' || type === 'matchRegexRaw' || type === 'notMatchRegexRaw') {
    const text = rendered.notes.trim();
    if (type === 'equalRaw')
      return verdict(text === String(params['value']).trim(), `NOTES.txt differs:\n${text}`);
    const holds = goRegExp(String(params['pattern'])).test(text) === (type === 'matchRegexRaw');
    return verdict(holds, `NOTES.txt vs /${String(params['pattern'])}/:\n${text}`);
  }

  const templates = (
    a.template ? [a.template] : job.template ? [job.template] : (job.templates ?? suite.templates ?? [])
  ).map(normaliseTemplate);
  if (templates.length === 0) return 'no template named in the assertion, the test job or the suite';
  let docs = templates.flatMap((t) => rendered.byTemplate.get(t) ?? []);

  if (type === 'hasDocuments') {
    return verdict(
      docs.length === params['count'],
      `expected ${String(params['count'])} documents, got ${docs.length}`,
    );
  }
  if (type === 'containsDocument') {
    const found = docs.some((d) => {
      const meta = (get(d, 'metadata') ?? {}) as Record<string, unknown>;
      return (
        get(d, 'kind') === params['kind'] &&
        get(d, 'apiVersion') === params['apiVersion'] &&
        (params['name'] === undefined || meta['name'] === params['name']) &&
        (params['namespace'] === undefined || meta['namespace'] === params['namespace'])
      );
    });
    return verdict(found, `expected a document ${JSON.stringify(params)}`);
  }

  const selector = a.documentSelector ?? job.documentSelector;
  const index = a.documentIndex ?? job.documentIndex;
  if (selector) docs = docs.filter((d) => isDeepStrictEqual(query(d, selector.path)[0], selector.value));
  else if (index !== undefined && index >= 0) docs = docs[index] === undefined ? [] : [docs[index]];
  if (docs.length === 0) return `no rendered document to assert on in ${templates.join(', ')}`;

  for (const [i, doc] of docs.entries()) {
    const message = evaluateOne(type, params, doc, negate);
    if (message) return docs.length > 1 ? `document ${i}: ${message}` : message;
  }
  return undefined;
}

function evaluateOne(
  type: string,
  p: Record<string, unknown>,
  doc: Doc,
  negate: boolean,
): string | undefined {
  const verdict = (holds: boolean, what: string) =>
    holds !== negate ? undefined : `${negate ? 'NOT ' : ''}${what}`;
  const path = p['path'] as string | undefined;
  const found = path === undefined ? [] : query(doc, path);
  const value = found[0];
  const show = (v: unknown) => JSON.stringify(v);
  switch (type) {
    case 'isKind':
      return verdict(
        get(doc, 'kind') === p['of'],
        `expected kind ${show(p['of'])}, got ${show(get(doc, 'kind'))}`,
      );
    case 'isAPIVersion':
      return verdict(
        get(doc, 'apiVersion') === p['of'],
        `expected apiVersion ${show(p['of'])}, got ${show(get(doc, 'apiVersion'))}`,
      );
    case 'equal':
      return verdict(
        found.length > 0 && isDeepStrictEqual(value, p['value']),
        `${path}: expected ${show(p['value'])}, got ${show(value)}`,
      );
    case 'notEqual':
      return verdict(
        !isDeepStrictEqual(value, p['value']),
        `${path}: expected anything but ${show(p['value'])}`,
      );
    case 'exists':
    case 'isNotNull':
      return verdict(found.length > 0 && value !== null && value !== undefined, `${path}: expected to exist`);
    case 'notExists':
    case 'isNull':
      return verdict(
        found.length === 0 || value === null || value === undefined,
        `${path}: expected not to exist, got ${show(value)}`,
      );
    case 'isNullOrEmpty':
    case 'isEmpty':
      return verdict(isEmpty(value), `${path}: expected null or empty, got ${show(value)}`);
    case 'isNotNullOrEmpty':
    case 'isNotEmpty':
      return verdict(!isEmpty(value), `${path}: expected a non-empty value`);
    case 'matchRegex':
    case 'notMatchRegex': {
      if (typeof value !== 'string') return `${path}: expected a string, got ${show(value)}`;
      const holds = goRegExp(String(p['pattern'])).test(value) === (type === 'matchRegex');
      return verdict(holds, `${path}: ${show(value)} vs /${String(p['pattern'])}/`);
    }
    case 'contains':
    case 'notContains': {
      if (!Array.isArray(value)) return `${path}: expected a list, got ${show(value)}`;
      const match = (item: unknown) =>
        p['any'] === true ? isSubset(item, p['content']) : isDeepStrictEqual(item, p['content']);
      const count = value.filter(match).length;
      const holds =
        type === 'contains' ? (p['count'] === undefined ? count > 0 : count === p['count']) : count === 0;
      return verdict(
        holds,
        `${path}: ${type === 'contains' ? 'expected' : 'did not expect'} ${show(p['content'])} in ${show(value)}`,
      );
    }
    case 'isSubset':
    case 'isNotSubset': {
      const holds = isSubset(value, p['content']) === (type === 'isSubset');
      return verdict(
        holds,
        `${path}: ${show(p['content'])} ${type === 'isSubset' ? 'is not' : 'is'} a subset of ${show(value)}`,
      );
    }
    case 'lengthEqual': {
      const paths = (p['paths'] as string[] | undefined) ?? (path ? [path] : []);
      for (const one of paths) {
        const list = query(doc, one)[0];
        const n = Array.isArray(list)
          ? list.length
          : list && typeof list === 'object'
            ? Object.keys(list).length
            : -1;
        const m = verdict(n === p['count'], `${one}: expected length ${show(p['count'])}, got ${n}`);
        if (m) return m;
      }
      return undefined;
    }
    default:
      return `assertion type "${type}" is not supported`;
  }
}

/** Go regexp (RE2) patterns may start with inline flags such as `(?m)`; JavaScript takes them as flags. */
export function goRegExp(pattern: string): RegExp {
  const m = /^\(\?([imsU]+)\)/.exec(pattern);
  if (!m) return new RegExp(pattern);
  const flags = [...new Set((m[1] as string).replace('U', '').split(''))].join('');
  return new RegExp(pattern.slice(m[0].length), flags);
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function isSubset(actual: unknown, expected: unknown): boolean {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) => isSubset((actual as Record<string, unknown>)[k], v));
  }
  return isDeepStrictEqual(actual, expected);
}

function get(doc: Doc, key: string): unknown {
  return doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>)[key] : undefined;
}

type Segment =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'filter'; key: string; value: string }
  | { kind: 'all' };

/**
 * The path syntax of helm-unittest (yaml-jsonpath): `a.b[0].c`, `metadata.annotations["x.y/z"]`,
 * `spec.containers[?(@.name == "app")].image`, `[*]`. Returns every match, in order.
 */
export function query(doc: Doc, path: string): unknown[] {
  let nodes: unknown[] = [doc];
  for (const seg of parsePath(path)) {
    const next: unknown[] = [];
    for (const node of nodes) {
      if (seg.kind === 'key') {
        if (node !== null && typeof node === 'object' && !Array.isArray(node) && seg.key in node) {
          next.push((node as Record<string, unknown>)[seg.key]);
        }
      } else if (seg.kind === 'index') {
        if (Array.isArray(node)) {
          const i = seg.index < 0 ? node.length + seg.index : seg.index;
          if (i >= 0 && i < node.length) next.push(node[i]);
        }
      } else if (seg.kind === 'all') {
        if (Array.isArray(node)) next.push(...(node as unknown[]));
        else if (node !== null && typeof node === 'object') next.push(...Object.values(node));
      } else if (Array.isArray(node)) {
        for (const item of node as unknown[]) if (String(get(item, seg.key)) === seg.value) next.push(item);
      }
    }
    nodes = next;
  }
  return nodes;
}

function parsePath(path: string): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  const s = path.trim().replace(/^\$\.?/, '');
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      i++;
    } else if (c === '[') {
      const end = s.indexOf(
        ']',
        s[i + 1] === '"' || s[i + 1] === "'" ? s.indexOf(s[i + 1] as string, i + 2) : i,
      );
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      const quoted = /^(["'])(.*)\1$/.exec(inner);
      const filter = /^\?\(@\.([\w.-]+)\s*==\s*(["'])(.*)\2\)$/.exec(inner);
      if (quoted) out.push({ kind: 'key', key: quoted[2] as string });
      else if (filter) out.push({ kind: 'filter', key: filter[1] as string, value: filter[3] as string });
      else if (inner === '*') out.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) out.push({ kind: 'index', index: Number(inner) });
      else throw new Error(`unsupported path segment [${inner}] in ${path}`);
    } else {
      const m = /^[^.[]+/.exec(s.slice(i));
      const key = (m?.[0] ?? '') as string;
      out.push(key === '*' ? { kind: 'all' } : { kind: 'key', key });
      i += key.length;
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const chart = process.argv[2] ?? 'charts/sentinel';
  let failed = 0;
  let total = 0;
  for (const file of suiteFiles(chart)) {
    for (const r of runSuiteFile(chart, file)) {
      total++;
      if (r.failures.length > 0) failed++;
      console.log(`${r.failures.length === 0 ? 'PASS' : 'FAIL'}  ${r.suite} > ${r.it}`);
      for (const f of r.failures) console.log(`      ${f}`);
    }
  }
  console.log(`\n${total - failed}/${total} passed`);
  process.exit(failed === 0 ? 0 : 1);
}
