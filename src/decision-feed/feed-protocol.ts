/**
 * The wire of the decision feed (issue 9): what an agent POSTs to and GETs from a store replica's
 * `/api/decisions`. One definition shared by the agent's client (feed-client.ts) and the store's routes
 * (src/store/query-server.ts imports this file by relative path), so both sides agree byte for byte.
 */
import { bytesToHex, hexToBytes } from '../otlp/index.js';

/** Route of both verbs on the store's query server (`query.endpoint`). */
export const DECISIONS_PATH = '/api/decisions';
/** Bytes of one trace id on the wire (raw, no framing). */
export const DECISION_ID_BYTES = 16;
/** Most ids one POST may carry, and most one GET answers with (also the default `limit`). */
export const MAX_DECISION_IDS = 65_536;
/** Content type of the binary forms (agents): n x 16 raw id bytes. */
export const DECISIONS_BINARY_TYPE = 'application/octet-stream';
export const DECISIONS_JSON_TYPE = 'application/json';

/** Response headers of a binary GET. */
export const FEED_CURSOR_HEADER = 'sentinel-cursor';
/** `1` when the reader's cursor was of another epoch or past the head: the answer starts at the oldest entry. */
export const FEED_RESET_HEADER = 'sentinel-feed-reset';
/** Entries skipped because the cursor was older than the oldest retained entry (absent when 0). */
export const FEED_MISSED_HEADER = 'sentinel-feed-missed';
/** `1` when more entries remain after this answer: poll again at once. */
export const FEED_MORE_HEADER = 'sentinel-feed-more';
/** The store's append time (unix ms) of the first id in the body (absent when the body is empty). */
export const FEED_OLDEST_MS_HEADER = 'sentinel-feed-oldest-ms';

/** A position in one replica's feed: `<epoch>.<seq>`, opaque to clients. */
export interface FeedCursor {
  /** 16 lower-case hex chars, random, created with the feed's directory. */
  readonly epoch: string;
  /** Count of entries ever appended before the next one to read. */
  readonly seq: number;
}

const CURSOR_RE = /^([0-9a-f]{16})\.(0|[1-9][0-9]{0,15})$/;

/** Parses `<epoch>.<seq>`; undefined when malformed (the store answers 400). */
export function parseFeedCursor(raw: string): FeedCursor | undefined {
  const m = CURSOR_RE.exec(raw);
  if (!m) return undefined;
  const seq = Number(m[2]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { epoch: m[1]!, seq };
}

export function formatFeedCursor(cursor: FeedCursor): string {
  return `${cursor.epoch}.${cursor.seq}`;
}

/** The 16 bytes of a 32-hex-digit trace id (either case); undefined when it is not one. */
export function decisionIdToBytes(hex: string): Uint8Array | undefined {
  if (hex.length !== DECISION_ID_BYTES * 2) return undefined;
  return hexToBytes(hex);
}

/** Lower-case hex of the id at `offset` in a body of concatenated ids. */
export function decisionIdFromBytes(buf: Uint8Array, offset = 0): string {
  return bytesToHex(buf, offset, offset + DECISION_ID_BYTES);
}

/** True when the id at `offset` is all zero bytes (invalid, as in OTLP). */
export function isZeroDecisionId(buf: Uint8Array, offset = 0): boolean {
  for (let i = offset; i < offset + DECISION_ID_BYTES; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Concatenates hex ids into a binary POST body; throws a TypeError naming the first bad id. */
export function encodeDecisionIds(ids: readonly string[]): Uint8Array {
  const out = new Uint8Array(ids.length * DECISION_ID_BYTES);
  ids.forEach((id, i) => {
    const bytes = decisionIdToBytes(id);
    if (!bytes) throw new TypeError(`traceIds[${i}]: expected 32 hex digits, got ${JSON.stringify(id)}`);
    out.set(bytes, i * DECISION_ID_BYTES);
  });
  return out;
}

/** The hex ids of a binary body (its length must be a multiple of 16). */
export function decodeDecisionIds(body: Uint8Array): string[] {
  const ids: string[] = [];
  for (let o = 0; o + DECISION_ID_BYTES <= body.length; o += DECISION_ID_BYTES) {
    ids.push(decisionIdFromBytes(body, o));
  }
  return ids;
}

/** The answer to a POST (always JSON). */
export interface DecisionsPublishResponse {
  readonly accepted: number;
  readonly appended: number;
  /** The head cursor after the append. */
  readonly cursor: string;
}

/** The JSON form of a GET (for people and curl); agents read the binary form. */
export interface DecisionsPageJson {
  readonly cursor: string;
  readonly traceIds: string[];
  readonly reset: boolean;
  readonly missed: number;
  readonly more: boolean;
  readonly oldestAppendedMs: number | null;
}

/** The feed headers of a binary GET, read through any `get(name)` (fetch Headers, undici, node:http). */
export interface FeedPageHeaders {
  readonly cursor: FeedCursor;
  readonly reset: boolean;
  readonly missed: number;
  readonly more: boolean;
  readonly oldestAppendedMs: number | undefined;
}

/** Reads the feed headers; undefined when the cursor header is missing or malformed. */
export function readFeedHeaders(
  get: (name: string) => string | null | undefined,
): FeedPageHeaders | undefined {
  const cursor = parseFeedCursor(get(FEED_CURSOR_HEADER) ?? '');
  if (!cursor) return undefined;
  const missed = Number(get(FEED_MISSED_HEADER) ?? 0);
  const oldest = get(FEED_OLDEST_MS_HEADER);
  return {
    cursor,
    reset: get(FEED_RESET_HEADER) === '1',
    missed: Number.isSafeInteger(missed) && missed > 0 ? missed : 0,
    more: get(FEED_MORE_HEADER) === '1',
    oldestAppendedMs: oldest ? Number(oldest) : undefined,
  };
}
