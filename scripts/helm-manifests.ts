/**
 * Renders charts/sentinel with its default values into manifests/sentinel.yaml (test/chart.test.ts keeps the
 * two in sync). Values Helm generates at install (the webhook CA and certificate, the store token) are written
 * as placeholders: a private key published in the repository would be everybody's key. `--with-secrets`
 * prints a fresh, complete set to stdout instead, for `kubectl apply` without Helm.
 *
 *   node --import tsx scripts/helm-manifests.ts            # rewrite manifests/sentinel.yaml
 *   node --import tsx scripts/helm-manifests.ts --with-secrets | kubectl apply -f -
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, runHelm } from './helm.js';

export const MANIFEST_PATH = join(REPO_ROOT, 'manifests', 'sentinel.yaml');
export const RELEASE = { name: 'sentinel', namespace: 'sentinel' } as const;
export const GENERATED = 'GENERATED-AT-INSTALL-see-manifests-README';

const HEADER = `# Sentinel, rendered from charts/sentinel with its default values (release "${RELEASE.name}", namespace
# "${RELEASE.namespace}"). Do not edit: run \`node --import tsx scripts/helm-manifests.ts\`.
# The TLS Secret, the caBundle and the store token are placeholders; see manifests/README.md.
---
apiVersion: v1
kind: Namespace
metadata:
  name: ${RELEASE.namespace}
`;

/** `helm template` of the chart with its defaults; throws with helm's message when it fails. */
export function renderDefault(): string {
  const r = runHelm([
    'template',
    RELEASE.name,
    join(REPO_ROOT, 'charts', 'sentinel'),
    '--namespace',
    RELEASE.namespace,
    // The `helm test` pod is for `helm test`, not for `kubectl apply`.
    '--skip-tests',
  ]);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.stdout;
}

/** Replaces what Helm generates randomly at each render with a fixed placeholder. */
export function withPlaceholders(rendered: string): string {
  return rendered.replace(
    /^(\s*(?:ca\.crt|tls\.crt|tls\.key|caBundle|token|sentinel\.dev\/certificate-expires-at): ).+$/gm,
    `$1${GENERATED}`,
  );
}

export function manifestText(rendered: string): string {
  return HEADER + withPlaceholders(rendered);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rendered = renderDefault();
  if (process.argv.includes('--with-secrets')) {
    process.stdout.write(HEADER + rendered);
  } else {
    writeFileSync(MANIFEST_PATH, manifestText(rendered));
    console.log(`wrote ${MANIFEST_PATH}`);
  }
}
