import type { ErrorCode } from '../errors.js';
import { refusal, type IngestResult } from './ingest.js';

/** The answer of an authorizer for one request: go on, or refuse with this status, code and message. */
export type AuthVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** 401: no or bad credential; 403: a good one of the wrong role; 503: the checker is down (retry). */
      readonly status: 401 | 403 | 503;
      readonly code: ErrorCode;
      readonly message: string;
    };

/**
 * Decides a request from its `Authorization` header (or gRPC metadata) and its path (the HTTP path, or the gRPC
 * method path), so that the one role decision of the store covers the receivers too.
 */
export type ReceiverAuthorize = (
  authorization: string | undefined,
  path: string,
) => AuthVerdict | Promise<AuthVerdict>;

/** The receivers' refusal for a negative verdict: 401 / UNAUTHENTICATED, 403 / PERMISSION_DENIED, 503 / UNAVAILABLE. */
export function authRefusal(
  verdict: Extract<AuthVerdict, { ok: false }>,
): Extract<IngestResult, { kind: 'refused' }> {
  const reason =
    verdict.status === 403 ? 'forbidden' : verdict.status === 503 ? 'auth_unavailable' : 'unauthenticated';
  return refusal(reason, verdict.code, verdict.message, verdict.status === 503);
}
