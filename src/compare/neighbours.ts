/**
 * Issue 19: the compared service's neighbours per variant, from the store's service graph (`/api/servicegraph`
 * edges split by variant), drawn as two SVG panels side by side: baseline's edges and canary's.
 */

/** One edge of the service graph with the variants of its two sides (the store's `ServiceGraphEdge` fits). */
export interface NeighbourEdge {
  readonly client: string;
  readonly server: string;
  readonly clientVariant?: string;
  readonly serverVariant?: string;
  /** Estimated requests (weighted by the sample). */
  readonly requests: number;
  readonly failed: number;
}

/** What the report carries: the service graph around the compared service, for the window compared. */
export interface ServiceNeighbours {
  /** Where the edges come from (the store's live pairing state). */
  readonly source: string;
  readonly edges: readonly NeighbourEdge[];
}

interface Side {
  readonly peer: string;
  readonly requests: number;
  readonly failed: number;
}

/** Callers into `variant`'s pods of `service`, and the services those pods call. */
export function neighboursOf(
  edges: readonly NeighbourEdge[],
  service: string,
  variant: string,
): { callers: Side[]; callees: Side[] } {
  const add = (into: Map<string, Side>, peer: string, e: NeighbourEdge) => {
    const s = into.get(peer);
    into.set(peer, {
      peer,
      requests: (s?.requests ?? 0) + e.requests,
      failed: (s?.failed ?? 0) + e.failed,
    });
  };
  const callers = new Map<string, Side>();
  const callees = new Map<string, Side>();
  for (const e of edges) {
    if (e.server === service && (e.serverVariant ?? '') === variant) add(callers, e.client, e);
    if (e.client === service && (e.clientVariant ?? '') === variant) add(callees, e.server, e);
  }
  const sorted = (m: Map<string, Side>) => [...m.values()].sort((a, b) => a.peer.localeCompare(b.peer));
  return { callers: sorted(callers), callees: sorted(callees) };
}

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function label(s: Side): string {
  const rate = s.requests > 0 ? (s.failed / s.requests) * 100 : 0;
  return `${Math.round(s.requests).toLocaleString('en-US')} req, ${rate.toFixed(rate < 10 ? 1 : 0)}% err`;
}

/** One panel: callers on the left, the service in the middle, callees on the right; edges labelled. */
function panel(
  x0: number,
  width: number,
  title: string,
  color: string,
  service: string,
  n: ReturnType<typeof neighboursOf>,
  id: string,
): string {
  const rows = Math.max(1, n.callers.length, n.callees.length);
  const top = 44;
  const rowH = 56;
  const cy = top + (rows * rowH) / 2;
  const box = (cx: number, y: number, text: string, fill: string) =>
    `<rect x="${(cx - 62).toFixed(1)}" y="${(y - 14).toFixed(1)}" width="124" height="28" rx="6" fill="${fill}" stroke="#57606a"/>` +
    `<text x="${cx.toFixed(1)}" y="${(y + 4).toFixed(1)}" font-size="12" text-anchor="middle">${escape(text.length > 18 ? text.slice(0, 17) + '…' : text)}</text>`;
  const parts: string[] = [
    `<g id="${id}">`,
    `<text x="${(x0 + width / 2).toFixed(1)}" y="20" font-size="14" font-weight="bold" text-anchor="middle" fill="${color}">${escape(title)}</text>`,
  ];
  const mid = x0 + width / 2;
  const left = x0 + 70;
  const right = x0 + width - 70;
  const edge = (x1: number, y1: number, x2: number, y2: number, s: Side) => {
    const failedShare = s.requests > 0 ? s.failed / s.requests : 0;
    const stroke = failedShare > 0.05 ? '#cf222e' : '#57606a';
    parts.push(
      `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" stroke="${stroke}" stroke-width="${(1 + Math.min(4, Math.log10(1 + s.requests))).toFixed(1)}" marker-end="url(#arrow)"/>`,
      `<text x="${((x1 + x2) / 2).toFixed(1)}" y="${((y1 + y2) / 2 - 6).toFixed(1)}" font-size="10" text-anchor="middle">${escape(label(s))}</text>`,
    );
  };
  n.callers.forEach((s, i) => {
    const y = top + rowH * (i + 0.5) + ((rows - n.callers.length) * rowH) / 2;
    edge(left + 62, y, mid - 62, cy, s);
    parts.push(box(left, y, s.peer, '#f6f8fa'));
  });
  n.callees.forEach((s, i) => {
    const y = top + rowH * (i + 0.5) + ((rows - n.callees.length) * rowH) / 2;
    edge(mid + 62, cy, right - 62, y, s);
    parts.push(box(right, y, s.peer, '#f6f8fa'));
  });
  parts.push(box(mid, cy, service, '#ddf4ff'));
  if (n.callers.length === 0 && n.callees.length === 0)
    parts.push(
      `<text x="${mid.toFixed(1)}" y="${(cy + 30).toFixed(1)}" font-size="11" text-anchor="middle">no edges seen</text>`,
    );
  parts.push('</g>');
  return parts.join('\n');
}

/** Baseline's and canary's neighbours of `service`, side by side, as one SVG. */
export function renderNeighboursSvg(
  neighbours: ServiceNeighbours,
  service: string,
  names: { baseline: string; canary: string },
  colors: { baseline: string; canary: string },
): string {
  const W = 960;
  const half = W / 2;
  const b = neighboursOf(neighbours.edges, service, names.baseline);
  const c = neighboursOf(neighbours.edges, service, names.canary);
  const rows = Math.max(1, b.callers.length, b.callees.length, c.callers.length, c.callees.length);
  const H = 44 + rows * 56 + 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="neighbours of ${escape(service)} per variant" font-family="sans-serif">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>',
    panel(0, half, names.baseline, colors.baseline, service, b, 'neighbours-baseline'),
    `<line x1="${half}" y1="8" x2="${half}" y2="${H - 8}" stroke="#d0d7de"/>`,
    panel(half, half, names.canary, colors.canary, service, c, 'neighbours-canary'),
    '</svg>',
  ].join('\n');
}
