/**
 * The one request primitive of the agent's HTTP clients (the OTLP/HTTP exporter, the client to the store's query
 * port): node:http or node:https by the URL's scheme over keep-alive agents, a deadline, and an answer read up
 * to a limit. What an answer means (which statuses are errors, what is retried) stays with each caller, as
 * undici's `request()` leaves it; opentelemetry-js's `sendWithHttp` (otlp-exporter-base, http-transport-utils.ts)
 * classifies statuses itself, which the store's client, with its own rules, could not share.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { tlsServerNameFor } from './tls-server-name.js';

export interface KeepAliveAgentOptions {
  /** Connections per origin at most; by default Node's (unbounded). */
  readonly maxSockets?: number | undefined;
  /** The CA bundle that https servers are verified against, instead of Node's roots. */
  readonly ca?: Buffer | undefined;
  readonly rejectUnauthorized: boolean;
  /**
   * The TLS server name of every https request through these agents (a client of one host), set in the agent's
   * options, which win over a request's; without it each request sends its own (`SendOptions.servername`).
   */
  readonly servername?: string | undefined;
}

/** A client's kept-alive connections: a node:http and a node:https agent, each made at its first request. */
export class KeepAliveAgents {
  private http: HttpAgent | undefined;
  private https: HttpsAgent | undefined;

  constructor(private readonly options: KeepAliveAgentOptions) {}

  /** The agent for `https` or plain http requests. */
  agentFor(https: boolean): HttpAgent {
    return https ? (this.https ??= this.makeHttpsAgent()) : (this.http ??= this.makeHttpAgent());
  }

  /** Closes the kept-alive connections. */
  destroy(): void {
    this.http?.destroy();
    this.https?.destroy();
  }

  private makeHttpAgent(): HttpAgent {
    const { maxSockets } = this.options;
    return new HttpAgent({ keepAlive: true, ...(maxSockets ? { maxSockets } : {}) });
  }

  private makeHttpsAgent(): HttpsAgent {
    const { maxSockets, ca, servername, rejectUnauthorized } = this.options;
    return new HttpsAgent({
      keepAlive: true,
      ...(maxSockets ? { maxSockets } : {}),
      ...(ca ? { ca } : {}),
      ...(servername ? { servername } : {}),
      rejectUnauthorized,
    });
  }
}

/** Why a request got no answer: the `reason` of an HttpRequestError. */
export type HttpRequestFailure = 'network' | 'timeout' | 'too_large';

/** A request that got no (whole) answer; its message starts with the method and URL. */
export class HttpRequestError extends Error {
  constructor(
    readonly reason: HttpRequestFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpRequestError';
  }
}

export interface SendOptions {
  readonly agents: KeepAliveAgents;
  readonly method: 'GET' | 'POST';
  /** Sent as given, plus `content-length` when there is a body. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | undefined;
  /**
   * Fails with reason 'timeout' when the connection is silent this long: connecting, waiting for the answer or
   * between its chunks (node's `request.setTimeout`).
   */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /**
   * An answer over `maxResponseBytes`: 'truncate' keeps its first `maxResponseBytes` and reads the rest away, so
   * the connection stays alive; 'refuse' closes the connection at once and fails with reason 'too_large'.
   */
  readonly overLimit: 'truncate' | 'refuse';
  /**
   * TLS server name when the URL holds an address resolved from a name; by default the URL's host without the
   * trailing dot of an absolute name (`tlsServerNameFor`). The agents' own `servername` wins over both.
   */
  readonly servername?: string | undefined;
}

export interface SentResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The answer's bytes (the first `maxResponseBytes` when `truncated`). */
  readonly body: Buffer;
  /** True when the answer was longer than `maxResponseBytes` (only with `overLimit: 'truncate'`). */
  readonly truncated: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * Sends one request and reads its answer, whatever its status; rejects with an HttpRequestError on a network
 * error, the deadline, or (`overLimit: 'refuse'`) an answer over the limit.
 */
export function sendRequest(url: URL, o: SendOptions): Promise<SentResponse> {
  const https = url.protocol === 'https:';
  const options: RequestOptions = { method: o.method, headers: o.headers, agent: o.agents.agentFor(https) };
  if (https) {
    const servername = o.servername ?? tlsServerNameFor(url.hostname);
    if (servername) options.servername = servername;
  }
  const { maxResponseBytes: max, timeoutMs } = o;
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < max) chunks.push(chunk);
        size += chunk.length;
        if (size > max && o.overLimit === 'refuse') {
          res.destroy();
          reject(new HttpRequestError('too_large', `${o.method} ${url.href}: answer too large`));
        }
      });
      res.on('error', (err) => reject(networkError(o.method, url, err)));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: joinChunks(chunks, Math.min(size, max)),
          truncated: size > max,
        }),
      );
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new HttpRequestError('timeout', `${o.method} ${url.href}: no answer in ${timeoutMs} ms`)),
    );
    req.on('error', (err) =>
      reject(err instanceof HttpRequestError ? err : networkError(o.method, url, err)),
    );
    if (o.body) req.setHeader('content-length', o.body.length);
    req.end(o.body);
  });
}

function networkError(method: string, url: URL, err: Error): HttpRequestError {
  return new HttpRequestError('network', `${method} ${url.href}: ${err.message}`, { cause: err });
}

/** The first `length` bytes of `chunks`, copied only when there is more than one chunk (the usual answer is one). */
function joinChunks(chunks: Buffer[], length: number): Buffer {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0]!.subarray(0, length);
  return Buffer.concat(chunks, length);
}
