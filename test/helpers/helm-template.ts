/** `helm template` of a chart with the real helm binary, parsed into its objects (empty documents dropped). */
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { runHelm } from '../../scripts/helm.js';

/**
 * Renders `chart` as release `release` in `namespace` with `args` (`--set`, `--values`, ...); fails the test
 * with helm's stderr when it does not render. `T` is the caller's view of a Kubernetes object.
 */
export function helmTemplate<T>(
  args: readonly string[] = [],
  { release = 'sentinel', chart = 'charts/sentinel', namespace = 'sentinel' } = {},
): T[] {
  const r = runHelm(['template', release, chart, '--namespace', namespace, ...args]);
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as T | null)
    .filter((d): d is T => d !== null);
}
