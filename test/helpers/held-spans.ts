/**
 * Scanned requests of made-up items for the completion buffer's tests: item k is `lengths[k]` bytes, each byte
 * `fill + k` (mod 256), so that what comes back out can be checked byte for byte.
 */
import { WireLogs, WireResource, WireScope, WireSpans } from '../../src/otlp/index.js';

const EMPTY = new Uint8Array(0);

/** A scope under its own resource (each call a different one, as each request's scopes are). */
export function wireScope(name = 'svc'): WireScope {
  return new WireScope(new WireResource(EMPTY, EMPTY, EMPTY, name), Buffer.from(name));
}

export interface ItemOptions {
  /** Scopes of the request (default: one). */
  readonly scopes?: WireScope[];
  /** Per item, its scope's index in `scopes` (default 0). */
  readonly scopeIndex?: number[];
  /** Per item, its marks (default 0). */
  readonly marks?: number[];
  /** The first item's byte value (default 1). */
  readonly fill?: number;
}

function columns(lengths: readonly number[], opts: ItemOptions) {
  const count = lengths.length;
  const total = lengths.reduce((a, b) => a + b, 0);
  // A few bytes before and after, as a request has its headers around the spans.
  const buf = Buffer.alloc(total + 16, 0xee);
  const offsets = new Uint32Array(count);
  let pos = 8;
  for (let k = 0; k < count; k++) {
    offsets[k] = pos;
    buf.fill(((opts.fill ?? 1) + k) % 256, pos, pos + (lengths[k] as number));
    pos += lengths[k] as number;
  }
  return {
    buf,
    scopes: opts.scopes ?? [wireScope()],
    count,
    scopeIndex: Uint32Array.from(opts.scopeIndex ?? lengths.map(() => 0)),
    offsets,
    lengths: Uint32Array.from(lengths),
    marks: Uint8Array.from(opts.marks ?? lengths.map(() => 0)),
    ids: lengths.map(() => ''),
  };
}

/** A scanned trace request of spans of these lengths. */
export function scannedSpans(lengths: readonly number[], opts: ItemOptions = {}): WireSpans {
  const c = columns(lengths, opts);
  const n = c.count;
  return new WireSpans(
    c.buf,
    c.scopes,
    n,
    c.scopeIndex,
    c.offsets,
    c.lengths,
    new Uint8Array(n),
    new Uint8Array(n),
    c.marks,
    new Float64Array(n),
    c.ids,
    c.ids,
    new Uint32Array(n),
    new Uint32Array(n),
  );
}

/** A scanned logs request of records of these lengths. */
export function scannedLogs(lengths: readonly number[], opts: ItemOptions = {}): WireLogs {
  const c = columns(lengths, opts);
  const n = c.count;
  return new WireLogs(
    c.buf,
    c.scopes,
    n,
    c.scopeIndex,
    c.offsets,
    c.lengths,
    new Uint8Array(n),
    c.marks,
    new Uint32Array(n),
    new Uint32Array(n),
    c.ids,
    c.ids,
    c.ids,
  );
}
