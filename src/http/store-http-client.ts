/**
 * The agent's HTTP client for the store's query port: keep-alive agents, the CA of `tls.ca_file`, a bearer token
 * read from a file (a projected ServiceAccount token, rotated by the kubelet) and a deadline per request. Shared
 * by the decision feed (src/decision-feed/feed-client.ts) and the central policy (central-policy-source.ts).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BearerTokenFile } from './bearer-token.js';
import { readCaFile } from './ca-file.js';
import { tlsServerNameFor } from './tls-server-name.js';

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
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  private readonly httpsAgent: HttpsAgent;
  private readonly token: BearerTokenFile | undefined;

  constructor(options: StoreHttpClientOptions) {
    this.options = options;
    this.token = options.bearerTokenFile ? new BearerTokenFile(options.bearerTokenFile) : undefined;
    const ca = readCaFile(options.tls?.caFile ?? '', options.caFileKey);
    this.httpsAgent = new HttpsAgent({
      keepAlive: true,
      maxSockets: 4,
      ...(ca ? { ca } : {}),
      rejectUnauthorized: !(options.tls?.insecureSkipVerify ?? false),
    });
  }

  /** Sends one request; rejects with a StoreRequestError on a network error, a timeout or an unexpected status. */
  async request(url: URL, r: StoreRequest): Promise<StoreResponse> {
    const { method, body } = r;
    const headers: Record<string, string> = { ...r.headers };
    if (body) headers['content-length'] = String(body.length);
    const token = await this.token?.current();
    if (token) headers['authorization'] = `Bearer ${token}`;
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const servername = r.servername ?? tlsServerNameFor(url.hostname);
    const { timeoutMs, maxResponseBytes } = this.options;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers,
          agent: https ? this.httpsAgent : this.httpAgent,
          ...(https && servername ? { servername } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxResponseBytes) {
              res.destroy();
              reject(new StoreRequestError('bad_response', `${method} ${url.href}: answer too large`));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (err) => reject(new StoreRequestError('network', err.message)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const data = Buffer.concat(chunks);
            if ((status < 200 || status >= 300) && !r.accept?.includes(status)) {
              reject(
                new StoreRequestError(
                  'status',
                  `${method} ${url.href}: HTTP ${status} ${data.subarray(0, 200).toString('utf8')}`,
                  status,
                ),
              );
            } else resolve({ status, headers: res.headers, body: data });
          });
        },
      );
      req.setTimeout(timeoutMs, () =>
        req.destroy(new StoreRequestError('timeout', `${method} ${url.href}: no answer in ${timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(err instanceof StoreRequestError ? err : new StoreRequestError('network', err.message)),
      );
      req.end(body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
