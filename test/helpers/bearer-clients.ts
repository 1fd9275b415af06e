/** OTLP requests with an optional bearer token, answering only the status: for the store's auth tests. */
import { Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { TRACE_EXPORT_METHOD } from '../../src/otlp/index.js';

/** `{ authorization: 'Bearer <token>' }`, or no header for `undefined`. */
export function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** POST /v1/traces (protobuf) to a receiver on 127.0.0.1; the HTTP status. */
export async function otlpHttpStatus(
  port: number,
  body: Uint8Array,
  token: string | undefined,
): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...bearer(token) },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** TraceService/Export over `client`; the gRPC status code. */
export function otlpGrpcStatus(client: Client, body: Buffer, token: string | undefined): Promise<number> {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      TRACE_EXPORT_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      md,
      (err: ServiceError | null) => resolve(err ? err.code : GrpcStatus.OK),
    );
  });
}
