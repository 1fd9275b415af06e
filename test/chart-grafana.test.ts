/**
 * The Grafana data sources as the chart provisions them: the example file in manifests/examples equals the
 * chart's render, and Grafana, set up from that file (URL, header name, `${VAR}` expanded from its environment
 * as Grafana's provisioning does), reads a real store that requires a token.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startTestStore } from './helpers/store-harness.js';
import { helmTemplate } from './helpers/helm-template.js';

interface DataSource {
  name: string;
  type: string;
  url: string;
  jsonData: Record<string, unknown>;
  secureJsonData?: Record<string, string>;
}
interface Provisioning {
  apiVersion: number;
  datasources: DataSource[];
}

function renderedProvisioning(args: string[] = []): Provisioning {
  const objs = helmTemplate<{ kind: string; metadata: { name: string }; data?: Record<string, string> }>([
    '--set',
    'grafana.datasource.enabled=true',
    ...args,
  ]);
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sentinel-grafana-datasource');
  assert.ok(cm?.data, 'the chart renders the data source ConfigMap');
  return parseYaml(cm.data['sentinel-datasources.yaml']!) as Provisioning;
}

/** Grafana's provisioning expands `$VAR` and `${VAR}` from its environment. */
function expandEnv(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_m, a: string | undefined, b: string | undefined) => env[a ?? b!] ?? '',
  );
}

let h: Awaited<ReturnType<typeof startTestStore>>;
let dir: string;
const token = randomBytes(24).toString('hex');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-grafana-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  h = await startTestStore({ dir, overrides: { auth: { required: true, reader_token_files: [tokenFile] } } });
});
after(async () => {
  await h.dispose();
  rmSync(dir, { recursive: true, force: true });
});

void test('manifests/examples/grafana/sentinel-datasources.yaml is the chart’s render', () => {
  const example = parseYaml(
    readFileSync('manifests/examples/grafana/sentinel-datasources.yaml', 'utf8'),
  ) as Provisioning;
  assert.deepEqual(example, renderedProvisioning());
});

void test('Grafana set up from the provisioned data sources reads the store with the reader token', async () => {
  const env = { SENTINEL_READER_TOKEN: token };
  const sources = renderedProvisioning().datasources;
  assert.deepEqual(
    sources.map((s) => s.type),
    ['tempo', 'jaeger'],
  );
  for (const ds of sources) {
    // The in-cluster host is the test store's port here; the path is the data source's own.
    const url = new URL(ds.url);
    const base = `http://127.0.0.1:${h.store.ports.query}${url.pathname.replace(/\/$/, '')}`;
    const headerName = ds.jsonData['httpHeaderName1'] as string;
    const headers = { [headerName]: expandEnv(ds.secureJsonData!['httpHeaderValue1']!, env) };
    assert.equal(headers['Authorization'], `Bearer ${token}`);
    // What "Save & test" calls: Tempo's data source GET /api/echo; Jaeger's the services list.
    const path = ds.type === 'jaeger' ? '/api/services' : '/api/echo';
    const ok = await fetch(`${base}${path}`, { headers });
    assert.equal(ok.status, 200, `${ds.name} ${path}`);
    const refused = await fetch(`${base}${path}`);
    assert.equal(refused.status, 401, `${ds.name} ${path} without the token`);
    await ok.arrayBuffer();
    await refused.arrayBuffer();
  }
});
