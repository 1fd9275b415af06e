import { ProtobufWriter } from '../otlp/index.js';

/** gRPC status codes used by the receivers (grpc/doc/statuscodes.md). */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * `google.rpc.Status { code = 1; message = 2; details = 3 (google.protobuf.Any) }`, optionally with a
 * `google.rpc.RetryInfo { retry_delay = 1 (google.protobuf.Duration { seconds = 1; nanos = 2 }) }` detail,
 * which OTLP clients read to pace their retries (OTLP specification, "Failures").
 */
export function encodeRpcStatus(code: number, message: string, retryAfterSeconds?: number): Buffer {
  const w = new ProtobufWriter(128);
  w.uint32(1, code);
  w.string(2, message);
  if (retryAfterSeconds !== undefined) {
    const any = w.begin(3);
    w.string(1, 'type.googleapis.com/google.rpc.RetryInfo');
    const value = w.begin(2);
    const delay = w.begin(1);
    w.int64(1, BigInt(Math.floor(retryAfterSeconds)));
    w.uint32(2, Math.round((retryAfterSeconds % 1) * 1e9));
    w.end(delay);
    w.end(value);
    w.end(any);
  }
  return Buffer.from(w.finish());
}
