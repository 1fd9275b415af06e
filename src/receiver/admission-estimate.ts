import { ProtobufReader, WireType } from '../otlp/index.js';

/**
 * What decoding a request will cost, estimated before decoding it (issue 18). The old estimate, 10 heap bytes per
 * wire byte, held for SDK spans with rich attributes but not for small objects: an id-only span is ~30 wire bytes
 * and ~1 KB once decoded and held by the pipeline, so a 4 MB request of 130k such spans cost ~50 bytes per wire
 * byte. The estimate now counts the objects the decoder will build (spans, attributes, values, events, links,
 * strings) with a walk over tags and lengths that builds nothing, and prices each kind by its measured heap
 * (bench/admission.ts; BENCHMARKS.md "Admission estimate"). For OTLP/JSON it counts objects and strings in the text.
 */

/** What a protobuf pre-scan found. */
export interface RequestShape {
  spans: number;
  /** KeyValue messages at every level (resource, scope, span, event, link attributes, kvlist entries). */
  attributes: number;
  /** AnyValue messages, including the elements of arrays. */
  values: number;
  events: number;
  links: number;
  /** Resources, scopes and the other small containers. */
  containers: number;
  /** Non-empty string and bytes fields: each becomes its own heap object. */
  strings: number;
}

/**
 * Estimated heap bytes per object kind, and per wire byte (string contents, the request buffer itself). Measured
 * by bench/admission.ts as what the store's pipeline and the agent's hold per object, with margin; see
 * BENCHMARKS.md "Admission estimate" for the figures and the worst case.
 */
export const ADMISSION_COSTS = {
  /** String contents (one byte per character) and the request buffer. */
  perWireByte: 2,
  /** A span object, its hex ids, bigints, status and arrays, and its block row in the store (measured 824). */
  perSpan: 1000,
  /** A KeyValue object and its key string's header (with perValue: measured 116 for a 1-character int attribute). */
  perAttribute: 80,
  /** An AnyValue object and its payload (bigint, boxed number). */
  perValue: 50,
  /** An event object (measured 106 for an empty one). */
  perEvent: 130,
  /** A link object, its hex ids and arrays (measured 567). */
  perLink: 600,
  /** A resource, scope, array or kvlist, with the per-resource caches of the block encoder. */
  perContainer: 400,
  /** A heap string's header. */
  perString: 24,
  /**
   * OTLP/JSON, by the counts of a pass over the text: JSON.parse builds a generic tree first (freed after the
   * model is built), then the model. Measured 1.35 to 2.4 times below this for the shapes of bench/admission.ts.
   */
  json: { perWireByte: 2, perObject: 48, perString: 20 },
} as const;

// Message kinds of the walk. A field table says, per kind, which field numbers are sub-messages of which kind,
// and which are strings or bytes (counted, then skipped).
const enum K {
  Request,
  ResourceSpans,
  Resource,
  ScopeSpans,
  Scope,
  Span,
  Event,
  Link,
  Status,
  KeyValue,
  AnyValue,
  ArrayValue,
  KvList,
}

type FieldTable = Record<number, K | 'str'>;

const FIELDS: Record<K, FieldTable> = {
  [K.Request]: { 1: K.ResourceSpans },
  [K.ResourceSpans]: { 1: K.Resource, 2: K.ScopeSpans, 3: 'str' },
  [K.Resource]: { 1: K.KeyValue },
  [K.ScopeSpans]: { 1: K.Scope, 2: K.Span, 3: 'str' },
  [K.Scope]: { 1: 'str', 2: 'str', 3: K.KeyValue },
  [K.Span]: { 3: 'str', 5: 'str', 9: K.KeyValue, 11: K.Event, 13: K.Link, 15: K.Status },
  [K.Event]: { 2: 'str', 3: K.KeyValue },
  [K.Link]: { 3: 'str', 4: K.KeyValue },
  [K.Status]: { 2: 'str' },
  [K.KeyValue]: { 1: 'str', 2: K.AnyValue },
  [K.AnyValue]: { 1: 'str', 5: K.ArrayValue, 6: K.KvList, 7: 'str' },
  [K.ArrayValue]: { 1: K.AnyValue },
  [K.KvList]: { 1: K.KeyValue },
};

/** Nesting the walk follows at most (the decoders refuse attribute values nested deeper than 32). */
const MAX_DEPTH = 48;

function count(shape: RequestShape, kind: K): void {
  switch (kind) {
    case K.Span:
      shape.spans++;
      return;
    case K.KeyValue:
      shape.attributes++;
      return;
    case K.AnyValue:
      shape.values++;
      return;
    case K.Event:
      shape.events++;
      return;
    case K.Link:
      shape.links++;
      return;
    case K.ResourceSpans:
    case K.ScopeSpans:
    case K.Resource:
    case K.Scope:
    case K.ArrayValue:
    case K.KvList:
      shape.containers++;
      return;
    default:
  }
}

function walk(r: ProtobufReader, kind: K, shape: RequestShape, depth: number): void {
  if (depth > MAX_DEPTH) r.fail('nested too deeply');
  const table = FIELDS[kind];
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wt = tag & 7;
    const sub = wt === WireType.LEN ? table[tag >>> 3] : undefined;
    if (sub === undefined) {
      r.skip(wt);
    } else if (sub === 'str') {
      const { start, end } = r.lengthDelimited();
      if (end > start) shape.strings++;
    } else {
      count(shape, sub);
      const saved = r.enter();
      walk(r, sub, shape, depth + 1);
      r.leave(saved);
    }
  }
}

/** Counts what decoding `bytes` (an ExportTraceServiceRequest) will build; undefined when it does not parse. */
export function scanTraceRequest(bytes: Uint8Array): RequestShape | undefined {
  const shape: RequestShape = {
    spans: 0,
    attributes: 0,
    values: 0,
    events: 0,
    links: 0,
    containers: 0,
    strings: 0,
  };
  try {
    walk(new ProtobufReader(bytes), K.Request, shape, 0);
  } catch {
    return undefined;
  }
  return shape;
}

/** Estimated heap bytes of a request of `wireBytes` with `shape`, as the pipeline will hold it. */
export function estimateFromShape(wireBytes: number, shape: RequestShape): number {
  const c = ADMISSION_COSTS;
  return (
    wireBytes * c.perWireByte +
    shape.spans * c.perSpan +
    shape.attributes * c.perAttribute +
    shape.values * c.perValue +
    shape.events * c.perEvent +
    shape.links * c.perLink +
    shape.containers * c.perContainer +
    shape.strings * c.perString
  );
}

/**
 * Estimated heap bytes of decoding and holding an OTLP protobuf request. A body that does not parse is priced
 * as if it were all spans' worth of small objects: it is refused by the decoder right after admission anyway.
 */
export function estimateProtobufRequest(bytes: Uint8Array): number {
  const shape = scanTraceRequest(bytes);
  if (shape) return estimateFromShape(bytes.byteLength, shape);
  return bytes.byteLength * ADMISSION_COSTS.perWireByte;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * Estimated heap bytes of decoding and holding an OTLP/JSON request: JSON.parse's tree (objects, arrays and
 * strings, counted in one pass over the bytes) and the model built from it.
 */
export function estimateJsonRequest(bytes: Uint8Array): number {
  let objects = 0;
  let quotes = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
      quotes++;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) objects++;
  }
  return estimateFromJsonCounts(bytes.byteLength, objects, quotes);
}

/** The JSON estimate from the counts of `estimateJsonRequest`. */
export function estimateFromJsonCounts(wireBytes: number, objects: number, strings: number): number {
  const c = ADMISSION_COSTS.json;
  return wireBytes * c.perWireByte + objects * c.perObject + strings * c.perString;
}
