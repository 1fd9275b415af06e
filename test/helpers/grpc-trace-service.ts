import type { ServiceDefinition } from '@grpc/grpc-js';
import { TRACE_EXPORT_METHOD } from '../../src/otlp/index.js';

/**
 * OTLP's `TraceService` for a grpc-js server, with identity (de)serialisers: request and response bytes go
 * through Sentinel's own codecs, so no .proto file or proto-loader is needed. Only tests' and benches' servers
 * use it (a stand-in store, the no-decode floor); the agent and the store serve gRPC on node:http2
 * (src/receiver/grpc-receiver.ts).
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
