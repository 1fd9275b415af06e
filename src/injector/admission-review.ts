/**
 * `admission.k8s.io/v1` AdmissionReview: reading a request and writing a response.
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request
 */
import type { JsonPatchOperation } from './pod-patch.js';

/** The fields of `request` the injector reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { group?: string; version?: string; kind?: string };
  readonly resource?: { group?: string; version?: string; resource?: string };
  readonly subResource?: string;
  readonly namespace?: string;
  readonly operation?: string;
  readonly object?: unknown;
}

/** What the injector answers for one request. */
export interface AdmissionOutcome {
  readonly patch?: readonly JsonPatchOperation[];
  readonly warnings?: readonly string[];
}

/** A body that is not an AdmissionReview; the server answers HTTP 400 with `message`. */
export class MalformedReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedReviewError';
  }
}

/** Parses and checks an AdmissionReview body; throws MalformedReviewError naming what was expected. */
export function parseAdmissionReview(body: string): AdmissionRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new MalformedReviewError(
      `expected a JSON AdmissionReview, got invalid JSON: ${(err as Error).message}`,
    );
  }
  if (!isRecord(doc)) throw new MalformedReviewError('expected a JSON object (AdmissionReview)');
  if (doc['apiVersion'] !== 'admission.k8s.io/v1' || doc['kind'] !== 'AdmissionReview') {
    throw new MalformedReviewError(
      `expected apiVersion "admission.k8s.io/v1" and kind "AdmissionReview", got ${JSON.stringify(doc['apiVersion'])} and ${JSON.stringify(doc['kind'])}`,
    );
  }
  const request = doc['request'];
  if (!isRecord(request)) throw new MalformedReviewError('expected "request" to be an object');
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '')
    throw new MalformedReviewError('expected "request.uid" to be a non-empty string');
  return request as unknown as AdmissionRequest;
}

/** The AdmissionReview response: always allowed (injection never blocks pod creation). */
export function admissionResponse(uid: string, outcome: AdmissionOutcome): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: true };
  if (outcome.patch && outcome.patch.length > 0) {
    response['patchType'] = 'JSONPatch';
    response['patch'] = Buffer.from(JSON.stringify(outcome.patch)).toString('base64');
  }
  if (outcome.warnings && outcome.warnings.length > 0) response['warnings'] = outcome.warnings;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
