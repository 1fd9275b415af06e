import type { IncomingMessage, ServerResponse } from 'node:http';
// The wire is shared with the agent's feed client; one definition for both sides (issue 9 protocol).
import {
  DECISION_ID_BYTES,
  DECISIONS_BINARY_TYPE,
  DECISIONS_JSON_TYPE,
  FEED_CURSOR_HEADER,
  FEED_MISSED_HEADER,
  FEED_MORE_HEADER,
  FEED_OLDEST_MS_HEADER,
  FEED_RESET_HEADER,
  MAX_DECISION_IDS,
  decisionIdFromBytes,
  decisionIdToBytes,
  formatFeedCursor,
  isZeroDecisionId,
  parseFeedCursor,
  type DecisionsPageJson,
  type DecisionsPublishResponse,
  type FeedCursor,
} from './feed-protocol.js';
import { SentinelError } from '../errors.js';
import { BodyAborted, readBoundedBody } from '../http/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import type { DecisionLog } from './decision-log.js';

/** Largest binary POST body: 65,536 ids. */
export const MAX_BINARY_BODY_BYTES = MAX_DECISION_IDS * DECISION_ID_BYTES;
/** Largest JSON POST body: 65,536 quoted ids with separators take 2.3 MB; room for whitespace. */
export const MAX_JSON_BODY_BYTES = 4 * 1024 * 1024;
/** A body over its limit is read and discarded up to this much (so the client sees the 400), then cut. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

export interface DecisionFeedHttpOptions {
  readonly log: DecisionLog;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** A bad request: answered with `status` and SENTINEL_ERR_DECISIONS_INVALID, and counted. */
class InvalidDecisions extends SentinelError {
  readonly status: number;
  readonly closeConnection: boolean;
  constructor(message: string, status = 400, closeConnection = false) {
    super('SENTINEL_ERR_DECISIONS_INVALID', message);
    this.status = status;
    this.closeConnection = closeConnection;
  }
}

/**
 * `POST /api/decisions` (publish ids) and `GET /api/decisions?after=CURSOR` (read the feed) on the store's
 * query server, after its auth. Every input is checked before it touches the log; bad ones are answered
 * 400/415 with a message naming what was expected, and counted.
 */
export class DecisionFeedHttp {
  private readonly options: DecisionFeedHttpOptions;
  private readonly requests;
  private readonly published;
  private readonly invalid;
  private readonly feedRequests;
  private readonly servedIds;

  constructor(options: DecisionFeedHttpOptions) {
    this.options = options;
    const m = options.metrics;
    // The query server's own counter (same registry, same series), labelled with this route.
    this.requests = m.counter('store_query_requests_total', 'Query API requests, by route and status.', [
      'route',
      'status',
    ]);
    this.published = m.counter(
      'store_decisions_published_total',
      'Trace ids received by POST /api/decisions (before de-duplication).',
    );
    this.invalid = m.counter(
      'store_decisions_invalid_total',
      'Decision feed requests refused as malformed (400/415).',
    );
    this.feedRequests = m.counter(
      'store_decisions_feed_requests_total',
      'GET /api/decisions requests, by status.',
      ['status'],
    );
    this.servedIds = m.counter(
      'store_decisions_served_ids_total',
      'Trace ids answered by GET /api/decisions.',
    );
  }

  async publish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = 'decisions_publish';
    let ids: Uint8Array;
    try {
      ids = await this.readIds(req);
    } catch (err) {
      if (err instanceof InvalidDecisions) return this.refuse(res, route, err);
      if (err instanceof BodyAborted) {
        this.requests.inc({ route, status: 'aborted' });
        res.destroy();
        return;
      }
      throw err;
    }
    const accepted = ids.length / DECISION_ID_BYTES;
    this.published.inc(accepted);
    let result;
    try {
      result = await this.options.log.append(ids);
    } catch (err) {
      this.options.logger.error({ err }, 'decision feed: append failed');
      this.send(res, route, 503, json({ error: `the decision feed cannot append: ${String(err)}` }));
      return;
    }
    const body: DecisionsPublishResponse = {
      accepted: result.accepted,
      appended: result.appended,
      cursor: formatFeedCursor(result.cursor),
    };
    this.send(res, route, 200, json(body));
  }

  read(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const route = 'decisions_feed';
    let cursor: FeedCursor | undefined;
    let limit: number;
    try {
      cursor = parseAfter(url.searchParams.get('after'));
      limit = parseLimit(url.searchParams.get('limit'));
    } catch (err) {
      if (err instanceof InvalidDecisions) {
        this.feedRequests.inc({ status: String(err.status) });
        return this.refuse(res, route, err);
      }
      throw err;
    }
    const page = this.options.log.read(cursor, limit);
    this.feedRequests.inc({ status: '200' });
    this.servedIds.inc(page.count);
    if (acceptsBinary(req.headers.accept)) {
      const headers: Record<string, string> = {
        'content-type': DECISIONS_BINARY_TYPE,
        [FEED_CURSOR_HEADER]: formatFeedCursor(page.cursor),
      };
      if (page.reset) headers[FEED_RESET_HEADER] = '1';
      if (page.missed > 0) headers[FEED_MISSED_HEADER] = String(page.missed);
      if (page.more) headers[FEED_MORE_HEADER] = '1';
      if (page.oldestAppendedMs !== undefined) headers[FEED_OLDEST_MS_HEADER] = String(page.oldestAppendedMs);
      this.send(res, route, 200, { type: DECISIONS_BINARY_TYPE, body: page.ids }, headers);
      return;
    }
    const traceIds: string[] = new Array<string>(page.count);
    for (let i = 0; i < page.count; i++) traceIds[i] = decisionIdFromBytes(page.ids, i * DECISION_ID_BYTES);
    const body: DecisionsPageJson = {
      cursor: formatFeedCursor(page.cursor),
      traceIds,
      reset: page.reset,
      missed: page.missed,
      more: page.more,
      oldestAppendedMs: page.oldestAppendedMs ?? null,
    };
    this.send(res, route, 200, json(body));
  }

  /** The ids of a POST body, validated: n x 16 bytes, 1 <= n <= 65,536, none all-zero. */
  private async readIds(req: IncomingMessage): Promise<Uint8Array> {
    const type = mediaType(req.headers['content-type']);
    if (type !== DECISIONS_BINARY_TYPE && type !== DECISIONS_JSON_TYPE) {
      throw new InvalidDecisions(
        `content-type: expected ${DECISIONS_BINARY_TYPE} or ${DECISIONS_JSON_TYPE}, got ${JSON.stringify(req.headers['content-type'] ?? '')}`,
        415,
      );
    }
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding.toLowerCase() !== 'identity') {
      throw new InvalidDecisions(`content-encoding: expected identity, got ${JSON.stringify(encoding)}`, 415);
    }
    const binary = type === DECISIONS_BINARY_TYPE;
    const maxBytes = binary ? MAX_BINARY_BODY_BYTES : MAX_JSON_BODY_BYTES;
    const tooLarge = () =>
      new InvalidDecisions(
        `body: expected at most ${MAX_DECISION_IDS} ids (${binary ? `${maxBytes} bytes` : `a JSON body of at most ${maxBytes} bytes`})`,
        400,
        true,
      );
    // The excess is read and discarded (up to 64 MiB) so that the client sees the 400, not a reset connection.
    const read = await readBoundedBody(req, { limit: maxBytes, drainLimit: MAX_DISCARD_BYTES });
    if (read.kind === 'too_large') throw tooLarge();
    return binary ? binaryIds(read.body) : jsonIds(read.body);
  }

  private refuse(res: ServerResponse, route: string, err: InvalidDecisions): void {
    this.invalid.inc();
    this.send(
      res,
      route,
      err.status,
      json({ error: err.message, code: err.code }),
      err.closeConnection ? { connection: 'close' } : {},
    );
  }

  private send(
    res: ServerResponse,
    route: string,
    status: number,
    payload: { type: string; body: Uint8Array | string },
    headers: Record<string, string> = {},
  ): void {
    this.requests.inc({ route, status: String(status) });
    const body = typeof payload.body === 'string' ? Buffer.from(payload.body) : payload.body;
    res
      .writeHead(status, {
        'content-type': payload.type,
        'content-length': String(body.byteLength),
        ...headers,
      })
      .end(body);
  }
}

function json(value: unknown): { type: string; body: string } {
  return { type: DECISIONS_JSON_TYPE, body: JSON.stringify(value) };
}

function binaryIds(body: Buffer): Uint8Array {
  const n = body.length / DECISION_ID_BYTES;
  if (body.length === 0 || !Number.isInteger(n)) {
    throw new InvalidDecisions(
      `body: expected n x ${DECISION_ID_BYTES} raw trace-id bytes with 1 <= n <= ${MAX_DECISION_IDS}, got ${body.length} bytes`,
    );
  }
  if (n > MAX_DECISION_IDS)
    throw new InvalidDecisions(`body: expected at most ${MAX_DECISION_IDS} ids, got ${n}`);
  for (let i = 0; i < n; i++) {
    if (isZeroDecisionId(body, i * DECISION_ID_BYTES)) {
      throw new InvalidDecisions(`trace id ${i}: expected a non-zero id, got 16 zero bytes`);
    }
  }
  return body;
}

function jsonIds(body: Buffer): Uint8Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidDecisions(
      `body: expected JSON {"traceIds": ["<32 hex>", ...]}, got invalid JSON (${(err as Error).message})`,
    );
  }
  const list = (parsed as { traceIds?: unknown } | null)?.traceIds;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Array.isArray(list)) {
    throw new InvalidDecisions('body: expected a JSON object {"traceIds": ["<32 hex>", ...]}');
  }
  if (list.length === 0 || list.length > MAX_DECISION_IDS) {
    throw new InvalidDecisions(`traceIds: expected 1 to ${MAX_DECISION_IDS} ids, got ${list.length}`);
  }
  const out = Buffer.allocUnsafe(list.length * DECISION_ID_BYTES);
  list.forEach((id: unknown, i) => {
    const bytes = typeof id === 'string' ? decisionIdToBytes(id) : undefined;
    if (!bytes) {
      throw new InvalidDecisions(
        `traceIds[${i}]: expected 32 hex digits, got ${JSON.stringify(id)?.slice(0, 64) ?? String(id)}`,
      );
    }
    out.set(bytes, i * DECISION_ID_BYTES);
    if (isZeroDecisionId(out, i * DECISION_ID_BYTES)) {
      throw new InvalidDecisions(`traceIds[${i}]: expected a non-zero id, got all zeroes`);
    }
  });
  return out;
}

function parseAfter(raw: string | null): FeedCursor | undefined {
  if (raw === null || raw === '') return undefined;
  const cursor = parseFeedCursor(raw);
  if (!cursor) {
    throw new InvalidDecisions(
      `after: expected a cursor "<16 hex epoch>.<seq>" from a previous answer, got ${JSON.stringify(raw.slice(0, 64))}`,
    );
  }
  return cursor;
}

function parseLimit(raw: string | null): number {
  if (raw === null || raw === '') return MAX_DECISION_IDS;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) {
    throw new InvalidDecisions(
      `limit: expected a positive integer (at most ${MAX_DECISION_IDS} is used), got ${JSON.stringify(raw.slice(0, 64))}`,
    );
  }
  return Math.min(Number(raw), MAX_DECISION_IDS);
}

/** The media type of a Content-Type header, lower-case, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** Agents send `Accept: application/octet-stream`; anything else (people, curl) gets JSON. */
function acceptsBinary(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';');
    if (type!.trim().toLowerCase() !== DECISIONS_BINARY_TYPE) return false;
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
  });
}
