import type { ServiceDefinition } from '@grpc/grpc-js';

/** The OTLP/gRPC trace method (opentelemetry-proto collector/trace/v1/trace_service.proto). */
export const TRACE_EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/**
 * `TraceService` for grpc-js with identity (de)serialisers: request and response bytes go through Sentinel's own
 * codecs, so no .proto file or proto-loader is needed.
 */
export const traceServiceDefinition: ServiceDefinition = {
  Export: {
    path: TRACE_EXPORT_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};
