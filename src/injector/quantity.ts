/**
 * Kubernetes resource quantities ("100m", "128Mi", "1.5", "2e3"), as the API server reads them
 * (k8s.io/apimachinery resource.Quantity). The injector checks every value that reaches the pod spec, because
 * a patch that makes the pod invalid fails the pod's creation, which injection must never do.
 */
const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY_RE = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:([eE][-+]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The quantity's value in base units, or undefined when `text` is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2].slice(1));
  return base * (SUFFIX[m[3] ?? ''] as number);
}
