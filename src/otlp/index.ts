export type { TraceBatch, TraceConsumer } from './consumer.js';
export {
  SpanKind,
  StatusCode,
  av,
  countSpans,
  emptyResource,
  emptyScope,
  findAttribute,
  spanDurationNanos,
  stringAttribute,
} from './model.js';
export type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanKindValue,
  SpanLink,
  Status,
  StatusCodeValue,
  TraceData,
} from './model.js';
