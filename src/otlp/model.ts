/**
 * Sentinel's one in-memory model of OTLP trace data, shared by every room of the pipeline.
 *
 * It mirrors `opentelemetry.proto.trace.v1` field for field, so that nothing a client sent is lost:
 * ids are lower-case hex strings (empty when absent), 64-bit integers are `bigint`, enums are their
 * numeric values. Decoders build it; encoders read it; nothing else invents its own span shape.
 */

/** An attribute value: the OTLP `AnyValue` oneof, tagged by `kind`. */
export type AnyValue =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  | { readonly kind: 'array'; readonly value: readonly AnyValue[] }
  | { readonly kind: 'kvlist'; readonly value: readonly KeyValue[] }
  | { readonly kind: 'empty' };

/** One attribute. */
export interface KeyValue {
  readonly key: string;
  readonly value: AnyValue;
}

/** `opentelemetry.proto.resource.v1.Resource`. */
export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** `opentelemetry.proto.common.v1.InstrumentationScope`. */
export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** `Span.SpanKind` values. */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;
export type SpanKindValue = (typeof SpanKind)[keyof typeof SpanKind];

/** `Status.StatusCode` values. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export type StatusCodeValue = (typeof StatusCode)[keyof typeof StatusCode];

/** `opentelemetry.proto.trace.v1.Status`. */
export interface Status {
  code: number;
  message: string;
}

/** `Span.Event`. */
export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** `Span.Link`. */
export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

/** `opentelemetry.proto.trace.v1.Span`. */
export interface Span {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits. */
  spanId: string;
  traceState: string;
  /** 16 lower-case hex digits, or '' for a root span. */
  parentSpanId: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: Status;
}

/** `opentelemetry.proto.trace.v1.ScopeSpans`. */
export interface ScopeSpans {
  scope: InstrumentationScope;
  spans: Span[];
  schemaUrl: string;
}

/** `opentelemetry.proto.trace.v1.ResourceSpans`. */
export interface ResourceSpans {
  resource: Resource;
  scopeSpans: ScopeSpans[];
  schemaUrl: string;
}

/** The decoded `ExportTraceServiceRequest`: the unit that moves down the pipeline. */
export interface TraceData {
  resourceSpans: ResourceSpans[];
}

/** An empty resource. */
export function emptyResource(): Resource {
  return { attributes: [], droppedAttributesCount: 0 };
}

/** An empty scope. */
export function emptyScope(): InstrumentationScope {
  return { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
}

/** Counts the spans in `data`. */
export function countSpans(data: TraceData): number {
  let n = 0;
  for (const rs of data.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

/** The first attribute named `key`, or undefined. */
export function findAttribute(attributes: readonly KeyValue[], key: string): AnyValue | undefined {
  for (const kv of attributes) if (kv.key === key) return kv.value;
  return undefined;
}

/** The string value of attribute `key`, or undefined when absent or not a string. */
export function stringAttribute(attributes: readonly KeyValue[], key: string): string | undefined {
  const v = findAttribute(attributes, key);
  return v?.kind === 'string' ? v.value : undefined;
}

/** Shorthand constructors, for code and tests that build attributes. */
export const av = {
  string: (value: string): AnyValue => ({ kind: 'string', value }),
  bool: (value: boolean): AnyValue => ({ kind: 'bool', value }),
  int: (value: bigint | number): AnyValue => ({ kind: 'int', value: BigInt(value) }),
  double: (value: number): AnyValue => ({ kind: 'double', value }),
  bytes: (value: Uint8Array): AnyValue => ({ kind: 'bytes', value }),
  array: (value: AnyValue[]): AnyValue => ({ kind: 'array', value }),
  kvlist: (value: KeyValue[]): AnyValue => ({ kind: 'kvlist', value }),
  empty: (): AnyValue => ({ kind: 'empty' }),
};

/** Span duration in nanoseconds (0 when the end precedes the start). */
export function spanDurationNanos(span: Span): bigint {
  const d = span.endTimeUnixNano - span.startTimeUnixNano;
  return d > 0n ? d : 0n;
}
