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

/** A span waiting for its trace's decision, with its share of the request's decoded bytes. */
export interface BufferedSpan {
  readonly span: Span;
  readonly origin: SpanOrigin;
  readonly bytes: number;
}

/** Everything this agent has seen of one trace so far. */
export interface BufferedTrace {
  readonly traceId: string;
  /** Clock time of the first span's arrival; the decision is due `decision_wait` later. */
  readonly firstSeenMs: number;
  readonly spans: BufferedSpan[];
  bytes: number;
}
