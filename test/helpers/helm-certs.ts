/** Certificates for tests, made by Helm's own template functions (no openssl on these machines). */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runHelm } from '../../scripts/helm.js';

/** A CA and a serving certificate for `names`, made by Helm's own genCA / genSignedCert (no openssl needed). */
export function makeCertificates(dir: string, names: string[]): { ca: string; cert: string; key: string } {
  const chart = join(dir, 'certs-chart');
  mkdirSync(join(chart, 'templates'), { recursive: true });
  writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: certs\nversion: 0.0.1\n');
  writeFileSync(
    join(chart, 'templates', 'certs.yaml'),
    [
      '{{- $ca := genCA "sentinel-test-ca" 1 }}',
      `{{- $cert := genSignedCert "sentinel-store" nil (list ${names.map((n) => JSON.stringify(n)).join(' ')}) 1 $ca }}`,
      'ca: {{ $ca.Cert | b64enc }}',
      'cert: {{ $cert.Cert | b64enc }}',
      'key: {{ $cert.Key | b64enc }}',
    ].join('\n'),
  );
  const r = runHelm(['template', 'certs', chart]);
  assert.equal(r.status, 0, r.stderr);
  const doc = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Record<string, string> | null)
    .find((d) => d?.['ca']);
  assert.ok(doc);
  const pem = (k: string) => Buffer.from(doc[k] ?? '', 'base64').toString('utf8');
  return { ca: pem('ca'), cert: pem('cert'), key: pem('key') };
}
