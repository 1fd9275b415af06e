import type { InstrumentationScope, Resource, Span, TraceData } from '../otlp/index.js';

/** One span with the resource and scope it was sent under: one row of a block. */
export interface StoredSpan {
  span: Span;
  resource: Resource;
  resourceSchemaUrl: string;
  scope: InstrumentationScope;
  scopeSchemaUrl: string;
}

/** Flattens decoded OTLP data into rows (resources and scopes shared by reference, not copied). */
export function flattenTraceData(data: TraceData, out: StoredSpan[] = []): StoredSpan[] {
  for (const rs of data.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        out.push({
          span,
          resource: rs.resource,
          resourceSchemaUrl: rs.schemaUrl,
          scope: ss.scope,
          scopeSchemaUrl: ss.schemaUrl,
        });
      }
    }
  }
  return out;
}

/**
 * Groups rows back into OTLP shape. Rows share a ResourceSpans while their resource (and schema URL)
 * is the same object or deep-equal to the previous one, so a block read back nests as it was sent.
 */
export function toTraceData(rows: readonly StoredSpan[]): TraceData {
  const data: TraceData = { resourceSpans: [] };
  const resourceIndex = new Map<string, number>();
  const scopeIndex = new Map<string, number>();
  for (const row of rows) {
    const rkey = row.resourceSchemaUrl + '\u0000' + fingerprint(row.resource);
    let ri = resourceIndex.get(rkey);
    if (ri === undefined) {
      ri = data.resourceSpans.length;
      resourceIndex.set(rkey, ri);
      data.resourceSpans.push({ resource: row.resource, scopeSpans: [], schemaUrl: row.resourceSchemaUrl });
    }
    const rs = data.resourceSpans[ri]!;
    const skey = `${ri}\u0000${row.scopeSchemaUrl}\u0000${fingerprint(row.scope)}`;
    let si = scopeIndex.get(skey);
    if (si === undefined) {
      si = rs.scopeSpans.length;
      scopeIndex.set(skey, si);
      rs.scopeSpans.push({ scope: row.scope, spans: [], schemaUrl: row.scopeSchemaUrl });
    }
    rs.scopeSpans[si]!.spans.push(row.span);
  }
  return data;
}

const fingerprints = new WeakMap<object, string>();

function fingerprint(value: object): string {
  let f = fingerprints.get(value);
  if (f === undefined) {
    f = JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
    );
    fingerprints.set(value, f);
  }
  return f;
}

/** Keeps the first row of each (trace id, span id): one span written by several agents, blocks or retries. */
export function dedupeSpans(rows: readonly StoredSpan[]): StoredSpan[] {
  const seen = new Set<string>();
  const out: StoredSpan[] = [];
  for (const row of rows) {
    const key = row.span.traceId + row.span.spanId;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(row);
  }
  return out;
}
