import protobuf from 'protobufjs';

/**
 * OTLP's trace messages for protobufjs, written by hand from the field numbers of opentelemetry-proto
 * (trace/v1/trace.proto, common/v1/common.proto), plus `extra` messages that use them (Tempo's, in tests).
 * `Request` is ExportTraceServiceRequest (`repeated ResourceSpans resource_spans = 1`).
 */
export function otlpProtobufjsRoot(
  extra: Record<string, protobuf.INamespace | protobuf.IType> = {},
): protobuf.Root {
  const kv = { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } };
  const root = protobuf.Root.fromJSON({
    nested: {
      AnyValue: {
        oneofs: { value: { oneof: ['s', 'b', 'i', 'd', 'a', 'k', 'y'] } },
        fields: {
          s: { type: 'string', id: 1 },
          b: { type: 'bool', id: 2 },
          i: { type: 'int64', id: 3 },
          d: { type: 'double', id: 4 },
          a: { type: 'ArrayValue', id: 5 },
          k: { type: 'KeyValueList', id: 6 },
          y: { type: 'bytes', id: 7 },
        },
      },
      ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
      KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
      KeyValue: kv,
      Resource: {
        fields: {
          attributes: { rule: 'repeated', type: 'KeyValue', id: 1 },
          droppedAttributesCount: { type: 'uint32', id: 2 },
        },
      },
      Scope: {
        fields: {
          name: { type: 'string', id: 1 },
          version: { type: 'string', id: 2 },
          attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
          droppedAttributesCount: { type: 'uint32', id: 4 },
        },
      },
      Event: {
        fields: {
          timeUnixNano: { type: 'fixed64', id: 1 },
          name: { type: 'string', id: 2 },
          attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
          droppedAttributesCount: { type: 'uint32', id: 4 },
        },
      },
      Link: {
        fields: {
          traceId: { type: 'bytes', id: 1 },
          spanId: { type: 'bytes', id: 2 },
          traceState: { type: 'string', id: 3 },
          attributes: { rule: 'repeated', type: 'KeyValue', id: 4 },
          droppedAttributesCount: { type: 'uint32', id: 5 },
          flags: { type: 'fixed32', id: 6 },
        },
      },
      Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
      Span: {
        fields: {
          traceId: { type: 'bytes', id: 1 },
          spanId: { type: 'bytes', id: 2 },
          traceState: { type: 'string', id: 3 },
          parentSpanId: { type: 'bytes', id: 4 },
          flags: { type: 'fixed32', id: 16 },
          name: { type: 'string', id: 5 },
          kind: { type: 'int32', id: 6 },
          startTimeUnixNano: { type: 'fixed64', id: 7 },
          endTimeUnixNano: { type: 'fixed64', id: 8 },
          attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
          droppedAttributesCount: { type: 'uint32', id: 10 },
          events: { rule: 'repeated', type: 'Event', id: 11 },
          droppedEventsCount: { type: 'uint32', id: 12 },
          links: { rule: 'repeated', type: 'Link', id: 13 },
          droppedLinksCount: { type: 'uint32', id: 14 },
          status: { type: 'Status', id: 15 },
        },
      },
      ScopeSpans: {
        fields: {
          scope: { type: 'Scope', id: 1 },
          spans: { rule: 'repeated', type: 'Span', id: 2 },
          schemaUrl: { type: 'string', id: 3 },
        },
      },
      ResourceSpans: {
        fields: {
          resource: { type: 'Resource', id: 1 },
          scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 },
          schemaUrl: { type: 'string', id: 3 },
        },
      },
      Request: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
      ...extra,
    },
  });
  return root;
}
