import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseEndpoint } from '../config/runtime.js';
import { SentinelError } from '../errors.js';

/**
 * The plumbing every Sentinel HTTP server shares (issue 17): listening on a configured `host:port`, and reading a
 * request body with a bound. The OTLP/HTTP receiver, the store's query server (and its decision feed) and the
 * injector's webhook use it; the admin server (src/telemetry, which comes before this room) keeps its own listen.
 */

/**
 * Listens on `endpoint` (`host:port`, port 0 for any); resolves with the bound port. An endpoint that is not
 * `host:port` is SENTINEL_ERR_CONFIG_INVALID naming the config key, the same for every server (config validation
 * refuses it first; this is for embeddings that build options by hand).
 */
export async function listen(server: Server, endpoint: string, configKey: string): Promise<number> {
  const ep = parseEndpoint(endpoint);
  if (!ep)
    throw new SentinelError(
      'SENTINEL_ERR_CONFIG_INVALID',
      `${configKey}: expected "host:port", got ${JSON.stringify(endpoint)}`,
    );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ep.port, ep.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** What `readBoundedBody` read. */
export type BoundedBody =
  | { readonly kind: 'body'; readonly body: Buffer }
  /**
   * Over the limit. `drained`: the rest of the body was read and thrown away, so the answer reaches the client
   * (answering while it still uploads makes it see EPIPE or a reset instead); false when the body passed
   * `drainLimit` (or declared it would): the caller answers and then closes the connection.
   */
  | { readonly kind: 'too_large'; readonly received: number; readonly drained: boolean };

export interface BoundedBodyOptions {
  /** The largest body kept, in bytes. */
  readonly limit: number;
  /**
   * Bytes read in all (and the excess thrown away) from a body over `limit` before giving up. Default: the
   * larger of 4x the limit and 16 MiB. 0: stop at once (nothing is drained).
   */
  readonly drainLimit?: number;
}

/** The client went away (reset, or closed) before the whole body came. Nobody is left to answer. */
export class BodyAborted extends Error {
  constructor() {
    super('the client closed the connection before the whole request body was read');
    this.name = 'BodyAborted';
  }
}

const DEFAULT_DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * Reads a request body of at most `limit` bytes, never buffering more. A body over the limit is drained up to
 * `drainLimit` before the result says so; a declared `Content-Length` past `drainLimit` is refused without
 * reading. Rejects with BodyAborted when the client goes away mid-body.
 */
export function readBoundedBody(req: IncomingMessage, options: BoundedBodyOptions): Promise<BoundedBody> {
  const { limit } = options;
  const drainLimit = options.drainLimit ?? Math.max(4 * limit, DEFAULT_DRAIN_BYTES);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit && declared > drainLimit) {
    req.pause();
    return Promise.resolve({ kind: 'too_large', received: 0, drained: false });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (result: BoundedBody) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      if (received > drainLimit) {
        req.pause();
        req.removeAllListeners('data');
        settle({ kind: 'too_large', received, drained: false });
      }
    });
    req.once('end', () =>
      settle(
        received <= limit
          ? { kind: 'body', body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received) }
          : { kind: 'too_large', received, drained: true },
      ),
    );
    const aborted = () => {
      if (settled) return;
      settled = true;
      reject(new BodyAborted());
    };
    req.once('error', aborted);
    req.once('close', aborted);
  });
}

/** Why a request could not be read: it missed the request timeout, or it was not HTTP/1.1 a parser reads. */
export type UnreadableReason = 'timeout' | 'invalid';

/**
 * Options for Node's HTTP servers so that `requestTimeoutMs` is kept: Node checks its request and headers timeouts
 * every `connectionsCheckingInterval` (default 30 s, so a 60 s timeout fired after 60-90 s). A tenth of the
 * timeout, at most 30 s.
 */
export const timeoutChecking = (requestTimeoutMs: number): { connectionsCheckingInterval: number } => ({
  connectionsCheckingInterval: Math.min(30_000, Math.max(50, requestTimeoutMs / 10)),
});

/**
 * Answers a request Node could not read, for a server's `clientError` event: one that did not arrive within the
 * request timeout (ERR_HTTP_REQUEST_TIMEOUT), or that is not HTTP/1.1 a parser reads (HPE_*). Answered as Node
 * answers it without a listener (408, 431 or 400, then the connection closed), with a text that says which, and
 * `count` is called with the reason and the status, which Node's own answer was not (session 12 for the OTLP/HTTP
 * receiver, 13 for the store's query API and the injector). A connection that failed otherwise (reset, closed,
 * or already answered) is let go, uncounted.
 */
function answerUnreadable(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  server: Pick<Server, 'headersTimeout' | 'requestTimeout'>,
  what: string,
  count: (reason: UnreadableReason, status: number) => void,
): void {
  const code = err.code ?? '';
  const timeout = code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const answerable = socket.writable && (socket as Socket).bytesWritten === 0;
  if (!answerable || !(timeout || code.startsWith('HPE_'))) {
    socket.destroy();
    return;
  }
  // Node raises the same error for its headers timeout and its request timeout: both are named when they differ.
  const { headersTimeout: headersMs, requestTimeout: requestMs } = server;
  const limits =
    headersMs === requestMs ? `${requestMs} ms` : `headers ${headersMs} ms, whole request ${requestMs} ms`;
  const [status, body] = timeout
    ? [408, `the request did not arrive within the ${what}'s request timeout (${limits})\n`]
    : code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers are too large\n']
      : [400, `not an HTTP/1.1 request this server can read (${code})\n`];
  count(timeout ? 'timeout' : 'invalid', status);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * Makes answerUnreadable `server`'s `clientError` listener: what every Sentinel HTTP server does with a request
 * Node could not read (the OTLP/HTTP receiver, the store's query API, the injector's webhook).
 */
export function answerUnreadableRequests(
  server: Server,
  what: string,
  count: (reason: UnreadableReason, status: number) => void,
): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
    answerUnreadable(err, socket, server, what, count),
  );
}
