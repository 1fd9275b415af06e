import type { InstrumentationScope, Resource, Span } from '../otlp/index.js';

/**
 * Where a span came from: its ResourceSpans' resource and its ScopeSpans' scope, kept by reference so
 * that kept spans are regrouped under the very same Resource and InstrumentationScope objects.
 * One origin is shared by every span of one ScopeSpans of one request.
 */
export interface SpanOrigin {
  readonly resource: Resource;
  readonly resourceSchemaUrl: string;
  readonly scope: InstrumentationScope;
  readonly scopeSchemaUrl: string;
}

/**
 * Everything this agent has seen of one trace so far. Spans and their origins are parallel arrays rather
 * than one small object per span: 50,000 traces of 10 spans are half a million spans, and a wrapper
 * object each cost about 40 B more per buffered span (bench/sampling.ts).
 */
export interface BufferedTrace {
  readonly traceId: string;
  /** Clock time of the first span's arrival; the decision is due `decision_wait` later. */
  readonly firstSeenMs: number;
  readonly spans: Span[];
  /** `origins[i]` is where `spans[i]` came from. */
  readonly origins: SpanOrigin[];
  /** The spans' share of their requests' decoded bytes. */
  bytes: number;
}
