/**
 * The agent's HTTP client for the store's query port: keep-alive agents, the CA of `tls.ca_file`, a bearer token
 * read from a file (a projected ServiceAccount token, rotated by the kubelet) and a deadline per request. Shared
 * by the decision feed (src/decision-feed/feed-client.ts) and the central policy (central-policy-source.ts).
 */
import type { IncomingMessage } from 'node:http';
import { BearerTokenFile } from './bearer-token.js';
import { readCaFile } from './ca-file.js';
import { HttpRequestError, KeepAliveAgents, sendRequest } from './client-request.js';

/** Why a request failed, as the `reason` label of the callers' error counters. */
export type StoreRequestFailure = 'network' | 'timeout' | 'status' | 'bad_response';

export class StoreRequestError extends Error {
  constructor(
    readonly reason: StoreRequestFailure,
    message: string,
    /** The HTTP status when `reason` is 'status'. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface StoreHttpClientOptions {
  readonly bearerTokenFile?: string | undefined;
  readonly tls?: { readonly caFile: string; readonly insecureSkipVerify?: boolean } | undefined;
  /** The config key of the CA file, for the error when it cannot be read. */
  readonly caFileKey: string;
  readonly timeoutMs: number;
  /** Larger answers are cut off and refused as 'bad_response'. */
  readonly maxResponseBytes: number;
}

export interface StoreRequest {
  readonly method: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | undefined;
  /**
   * TLS server name when the URL holds an address resolved from a name; by default the URL's host, without the
   * trailing dot of an absolute name.
   */
  readonly servername?: string | undefined;
  /** Statuses outside 2xx that are answers, not errors (304 for a conditional GET). */
  readonly accept?: readonly number[];
}

export interface StoreResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export class StoreHttpClient {
  private readonly options: StoreHttpClientOptions;
  private readonly agents: KeepAliveAgents;
  private readonly token: BearerTokenFile | undefined;

  constructor(options: StoreHttpClientOptions) {
    this.options = options;
    this.token = options.bearerTokenFile ? new BearerTokenFile(options.bearerTokenFile) : undefined;
    this.agents = new KeepAliveAgents({
      maxSockets: 4,
      ca: readCaFile(options.tls?.caFile ?? '', options.caFileKey),
      rejectUnauthorized: !(options.tls?.insecureSkipVerify ?? false),
    });
  }

  /** Sends one request; rejects with a StoreRequestError on a network error, a timeout or an unexpected status. */
  async request(url: URL, r: StoreRequest): Promise<StoreResponse> {
    const { method, body } = r;
    const headers: Record<string, string> = { ...r.headers };
    const token = await this.token?.current();
    if (token) headers['authorization'] = `Bearer ${token}`;
    let res;
    try {
      res = await sendRequest(url, {
        agents: this.agents,
        method,
        headers,
        body,
        timeoutMs: this.options.timeoutMs,
        maxResponseBytes: this.options.maxResponseBytes,
        overLimit: 'refuse',
        servername: r.servername,
      });
    } catch (err) {
      if (!(err instanceof HttpRequestError)) throw err;
      throw new StoreRequestError(err.reason === 'too_large' ? 'bad_response' : err.reason, err.message);
    }
    const { status } = res;
    if ((status < 200 || status >= 300) && !r.accept?.includes(status)) {
      const text = res.body.subarray(0, 200).toString('utf8');
      throw new StoreRequestError('status', `${method} ${url.href}: HTTP ${status} ${text}`, status);
    }
    return res;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agents.destroy();
  }
}
