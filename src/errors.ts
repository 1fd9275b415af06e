/**
 * The catalogue of Sentinel's error codes, after fastify's FST_ERR_* and undici's UND_ERR_*.
 * Every code is documented in docs/error-codes.md; test/errors.test.ts checks that.
 */
export const ErrorCodes = {
  SENTINEL_ERR_CONFIG_INVALID: 'a configuration file or environment override does not validate',
  SENTINEL_ERR_CONFIG_READ: 'the configuration file cannot be read or is not YAML',
  SENTINEL_ERR_OTLP_DECODE: 'an OTLP request body does not decode (protobuf or JSON)',
  SENTINEL_ERR_OTLP_INVALID:
    'an OTLP request decodes but breaks the spec (for example an id of the wrong length)',
  SENTINEL_ERR_BODY_TOO_LARGE:
    'a request body is over receivers.otlp.max_request_bytes, compressed or decompressed',
  SENTINEL_ERR_UNSUPPORTED_MEDIA_TYPE: 'an OTLP/HTTP request has a content type other than protobuf or JSON',
  SENTINEL_ERR_UNSUPPORTED_ENCODING:
    'an OTLP/HTTP request has a Content-Encoding other than gzip or identity',
  SENTINEL_ERR_REQUEST_TIMEOUT:
    "an OTLP/gRPC call's message did not arrive within the receiver's request timeout (60 s) or the call's grpc-timeout (gRPC DEADLINE_EXCEEDED)",
  SENTINEL_ERR_UNAUTHENTICATED: 'a request carried no bearer token, or one that is not valid (auth.required)',
  SENTINEL_ERR_FORBIDDEN:
    'a valid credential of the wrong role: an agent identity on a reader route, or a reader token on ingest (HTTP 403, gRPC PERMISSION_DENIED)',
  SENTINEL_ERR_AUTH_UNAVAILABLE:
    'the Kubernetes TokenReview API could not be asked or failed; the client should retry (HTTP 503, gRPC UNAVAILABLE)',
  SENTINEL_ERR_POLICY_NOT_CONFIGURED: 'GET /api/policy on a store without policy.file (HTTP 404)',
  SENTINEL_ERR_MEMORY_LIMIT:
    'the in-flight memory budget (memory_limit_mib) is spent; the client should retry',
  SENTINEL_ERR_SHUTTING_DOWN: 'the process is draining and accepts no new data',
  SENTINEL_ERR_EXPORT_FAILED: 'an exporter failed permanently for a batch',
  SENTINEL_ERR_STORAGE: 'an object store request (S3 or the local directory) failed',
  SENTINEL_ERR_BLOCK_INVALID:
    'an object under the storage prefix is not a readable Sentinel block or meta; it is skipped',
  SENTINEL_ERR_QUEUE_FULL:
    "an exporter's queue is at queue.max_bytes (its backend is down or slow); receivers refuse new spans and the client retries",
  SENTINEL_ERR_WAL_FULL: "the store's write-ahead log is at its size bound; the client should retry",
  SENTINEL_ERR_WAL_CORRUPT:
    'a write-ahead log record fails its checksum; replay stops at the last good record',
  SENTINEL_ERR_WAL_QUARANTINED:
    'a write-ahead log segment cannot be encoded as a block; it is moved to <wal_dir>/quarantine/ and the store goes on',
  SENTINEL_ERR_POLICY_INVALID:
    'a sampling policy file does not parse or validate; the message names the policy, the key, line and column',
  SENTINEL_ERR_POLICY_READ: 'the sampling policy file (sampling.policy_file) cannot be read',
  SENTINEL_ERR_QUERY_INVALID: 'a query API request has a malformed trace id or search parameter',
  SENTINEL_ERR_DECISIONS_INVALID:
    'a decision feed request (POST or GET /api/decisions) has a malformed body, content type or cursor',
  SENTINEL_ERR_PODINFO_MALFORMED:
    'a Downward API podinfo file (labels, annotations) is unreadable or malformed; the last good values stay',
  SENTINEL_ERR_KUBERNETES_API: 'a Kubernetes API request for the own pod or its owners failed or timed out',
  SENTINEL_ERR_ADMISSION_INVALID:
    'a request to the injector is not an admission.k8s.io/v1 AdmissionReview; answered with HTTP 400',
  SENTINEL_ERR_TLS_LOAD: 'a TLS certificate or key file cannot be read or does not load',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error with a stable code from the catalogue. */
export class SentinelError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SentinelError';
    this.code = code;
  }
}

/** True when `err` is a SentinelError with `code`. */
export function isSentinelError(err: unknown, code?: ErrorCode): err is SentinelError {
  return err instanceof SentinelError && (code === undefined || err.code === code);
}
