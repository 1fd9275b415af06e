import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { gunzip, inflate } from 'node:zlib';
import { answerUnreadableRequests, listen, readBoundedBody, timeoutChecking } from '../http/index.js';
import {
  decodeTraceRequestJson,
  transcodeTraceRequestJson,
  encodeTraceResponse,
  encodeSignalResponseJson,
  HTTP_PATHS,
  transcodeLogsRequestJson,
  transcodeMetricsRequestJson,
  type Signal,
} from '../otlp/index.js';
import type { Logger } from '../telemetry/index.js';
import { estimateJsonRequest } from './admission-estimate.js';
import { authRefusal, type ReceiverAuthorize } from './authorize.js';
import { encodeRpcStatus, GrpcCode } from './rpc-status.js';
import {
  RECEIVE_TIMEOUT_MS,
  RETRY_AFTER_SECONDS,
  refusal,
  type Ingest,
  type IngestResult,
  type ItemSignal,
} from './ingest.js';
import type { ReceiverTls } from './tls.js';

/** CORS for browser SDKs; off unless origins are listed (the Collector's confighttp `cors`). */
export interface CorsOptions {
  readonly allowedOrigins: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

export interface HttpReceiverOptions {
  readonly endpoint: string;
  readonly maxRequestBytes: number;
  readonly ingest: Ingest;
  readonly logger: Logger;
  readonly cors?: CorsOptions | undefined;
  readonly tls?: ReceiverTls | undefined;
  readonly authorize?: ReceiverAuthorize | undefined;
  /** How long a request may take to arrive, headers to last byte (RECEIVE_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number | undefined;
}

type Encoding = 'protobuf' | 'json';

const TRACES_PATH = HTTP_PATHS.traces;

/** JSON to protobuf at the door, per signal (issue 16). */
const TRANSCODE: Readonly<Record<ItemSignal, (body: Uint8Array) => Uint8Array>> = {
  logs: transcodeLogsRequestJson,
  metrics: transcodeMetricsRequestJson,
};

/**
 * OTLP/HTTP: `POST /v1/traces`, and `/v1/logs` and `/v1/metrics` when the pipeline takes them (issue 16; else
 * 404 as before), in protobuf or JSON, gzip or identity (OTLP specification, "OTLP/HTTP").
 */
export class HttpReceiver {
  private readonly server: Server;
  private readonly corsMatchers: RegExp[];

  constructor(private readonly options: HttpReceiverOptions) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        // handle() answers every request itself; this is a last guard that keeps the process up.
        options.logger.error({ err }, 'OTLP/HTTP handler failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    };
    const requestTimeoutMs = options.requestTimeoutMs ?? RECEIVE_TIMEOUT_MS;
    const checking = timeoutChecking(requestTimeoutMs);
    this.server = options.tls
      ? createHttpsServer({ ...options.tls.serverOptions(), ...checking }, handler)
      : createHttpServer(checking, handler);
    options.tls?.onChange((o) => (this.server as HttpsServer).setSecureContext(o));
    this.server.requestTimeout = requestTimeoutMs;
    this.server.headersTimeout = Math.min(30_000, requestTimeoutMs);
    // A request Node could not read (timeout, not HTTP/1.1) is answered and counted as refused.
    answerUnreadableRequests(this.server, 'receiver', (reason) =>
      options.ingest.countRefusedRequest('http', reason),
    );
    this.server.keepAliveTimeout = 65_000;
    this.corsMatchers = (options.cors?.allowedOrigins ?? []).map(originPattern);
  }

  start(): Promise<number> {
    return listen(this.server, this.options.endpoint, 'receivers.otlp.http.endpoint');
  }

  /**
   * Stops accepting connections; requests being handled are answered, and keep-alive connections are
   * closed as soon as they fall idle (or all of them after `graceMs`).
   */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sweep = setInterval(() => this.server.closeIdleConnections(), 25);
    const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
    sweep.unref();
    force.unref();
    this.server.closeIdleConnections();
    await closed;
    clearInterval(sweep);
    clearTimeout(force);
  }

  private applyCors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (!origin || this.corsMatchers.length === 0) return false;
    if (!this.corsMatchers.some((re) => re.test(origin))) return false;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '';
    const corsAllowed = this.applyCors(req, res);
    if (req.method === 'OPTIONS' && corsAllowed) return this.preflight(res);
    const signal = this.signalAt(path);
    if (signal === undefined) return this.notFound(req, res);
    if (req.method !== 'POST') {
      drain(req);
      res
        .writeHead(405, { allow: 'POST', 'content-type': 'text/plain' })
        .end('method not allowed: use POST\n');
      return;
    }
    const accepted = await this.accepts(req, res, path, signal);
    if (!accepted) return;
    const body = await this.readRequestBody(req, res, accepted, signal);
    if (!body) return;
    this.reply(res, accepted.encoding, await this.ingestBody(signal, accepted.encoding, body), signal);
  }

  /** A CORS preflight from an allowed origin. */
  private preflight(res: ServerResponse): void {
    const cors = this.options.cors as CorsOptions;
    res.setHeader('access-control-allow-methods', 'POST');
    res.setHeader(
      'access-control-allow-headers',
      ['content-type', 'content-encoding', 'authorization', ...cors.allowedHeaders].join(', '),
    );
    res.setHeader('access-control-max-age', String(cors.maxAgeSeconds));
    res.writeHead(204).end();
  }

  /** The signal a path carries here: traces always, logs and metrics when the pipeline takes them. */
  private signalAt(path: string): Signal | undefined {
    const { ingest } = this.options;
    if (path === TRACES_PATH) return 'traces';
    if (path === HTTP_PATHS.logs && ingest.takes('logs')) return 'logs';
    if (path === HTTP_PATHS.metrics && ingest.takes('metrics')) return 'metrics';
    return undefined;
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    const { ingest } = this.options;
    drain(req);
    const served = [
      TRACES_PATH,
      ...(['logs', 'metrics'] as const).filter((s) => ingest.takes(s)).map((s) => HTTP_PATHS[s]),
    ];
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(`not found: this receiver takes OTLP/HTTP at ${served.join(', ')}\n`);
  }

  /**
   * Authentication, then the content type and encoding. Authentication first: an unauthenticated client learns
   * nothing about what the receiver accepts. A refusal is answered in the encoding the request asked for, JSON
   * when it named none we know; undefined then.
   */
  private async accepts(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    signal: Signal,
  ): Promise<{ encoding: Encoding; gzip: boolean } | undefined> {
    const { ingest } = this.options;
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const encoding: Encoding | undefined =
      contentType === 'application/x-protobuf' || contentType === 'application/protobuf'
        ? 'protobuf'
        : contentType === 'application/json'
          ? 'json'
          : undefined;
    const verdict = this.options.authorize && (await this.options.authorize(req.headers.authorization, path));
    const contentEncoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const refused: Extract<IngestResult, { kind: 'refused' }> | undefined =
      verdict && !verdict.ok
        ? authRefusal(verdict)
        : !encoding
          ? refusal(
              'unsupported_media_type',
              'SENTINEL_ERR_UNSUPPORTED_MEDIA_TYPE',
              `unsupported content type "${contentType}": expected application/x-protobuf or application/json`,
            )
          : contentEncoding !== 'gzip' && contentEncoding !== 'identity'
            ? refusal(
                'unsupported_media_type',
                'SENTINEL_ERR_UNSUPPORTED_ENCODING',
                `unsupported Content-Encoding "${contentEncoding}": expected gzip or identity`,
              )
            : undefined;
    if (!refused) return { encoding: encoding!, gzip: contentEncoding === 'gzip' };
    drain(req);
    ingest.countRefusedRequest('http', refused.reason);
    if (verdict && !verdict.ok && verdict.status === 401) res.setHeader('www-authenticate', 'Bearer');
    this.reply(res, encoding ?? 'json', refused, signal);
    return undefined;
  }

  /** The body within max_request_bytes, gunzipped within it too; undefined once the refusal is answered. */
  private async readRequestBody(
    req: IncomingMessage,
    res: ServerResponse,
    accepted: { encoding: Encoding; gzip: boolean },
    signal: Signal,
  ): Promise<Buffer | undefined> {
    const { ingest } = this.options;
    const { encoding, gzip } = accepted;
    const limit = this.options.maxRequestBytes;
    const body = await readBody(req, limit);
    if (body === undefined) {
      ingest.countRefusedRequest('http', 'too_large');
      res.setHeader('connection', 'close');
      this.reply(res, encoding, tooLarge(limit, gzip ? 'compressed' : ''), signal);
      req.resume();
      return undefined;
    }
    if (!gzip) return body;
    const unpacked = await decompressLimited(body, 'gzip', limit);
    if (unpacked.kind === 'refused') {
      ingest.countRefusedRequest('http', unpacked.refused.reason);
      this.reply(res, encoding, unpacked.refused, signal);
      return undefined;
    }
    return unpacked.body;
  }

  /** Hands the body to the ingest: logs and metrics as protobuf bytes, traces decoded or scanned. */
  private ingestBody(signal: Signal, encoding: Encoding, bytes: Buffer): Promise<IngestResult> {
    const { ingest } = this.options;
    if (signal !== 'traces') {
      const transcode = TRANSCODE[signal];
      return ingest.ingestSignal(signal, 'http', bytes.length, () =>
        encoding === 'protobuf' ? bytes : transcode(bytes),
      );
    }
    return encoding === 'protobuf'
      ? ingest.ingestProtobuf('http', bytes)
      : ingest.ingest(
          'http',
          bytes.length,
          () => decodeTraceRequestJson(bytes),
          undefined,
          () => estimateJsonRequest(bytes),
          () => transcodeTraceRequestJson(bytes),
        );
  }

  private reply(res: ServerResponse, encoding: Encoding, result: IngestResult, signal: Signal): void {
    const contentType = encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json';
    if (result.kind === 'accepted') {
      const body =
        encoding === 'protobuf'
          ? encodeTraceResponse(result.partial)
          : encodeSignalResponseJson(signal, result.partial);
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    const status = httpStatusFor(result);
    if (status === 429 || status === 503) res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
    const grpcCode = grpcCodeFor(result);
    const body =
      encoding === 'protobuf'
        ? encodeRpcStatus(grpcCode, result.message)
        : JSON.stringify({ code: grpcCode, message: result.message, errorCode: result.code });
    res.writeHead(status, { 'content-type': contentType }).end(body);
  }
}

export function tooLarge(limit: number, which: string): Extract<IngestResult, { kind: 'refused' }> {
  return refusal(
    'too_large',
    'SENTINEL_ERR_BODY_TOO_LARGE',
    `request body${which ? ` (${which})` : ''} is over the limit of ${limit} bytes (receivers.otlp.max_request_bytes)`,
  );
}

/** OTLP/HTTP's mapping: 400 for bad data, 413 too large, 415 media type, 429 and 503 retryable. */
export function httpStatusFor(result: Extract<IngestResult, { kind: 'refused' }>): number {
  switch (result.reason) {
    case 'decode_error':
    case 'invalid':
      return 400;
    case 'too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'memory_limit':
    case 'queue_full':
      return 429;
    case 'shutting_down':
    case 'pipeline_error':
    case 'auth_unavailable':
      return 503;
    case 'timeout':
      return 408;
  }
}

/** The gRPC status code that stands for the same refusal. */
export function grpcCodeFor(result: Extract<IngestResult, { kind: 'refused' }>): number {
  switch (result.reason) {
    case 'decode_error':
    case 'invalid':
    case 'unsupported_media_type':
      return GrpcCode.INVALID_ARGUMENT;
    case 'too_large':
    case 'memory_limit':
    case 'queue_full':
      return GrpcCode.RESOURCE_EXHAUSTED;
    case 'unauthenticated':
      return GrpcCode.UNAUTHENTICATED;
    case 'forbidden':
      return GrpcCode.PERMISSION_DENIED;
    case 'shutting_down':
    case 'pipeline_error':
    case 'auth_unavailable':
      return GrpcCode.UNAVAILABLE;
    case 'timeout':
      return GrpcCode.DEADLINE_EXCEEDED;
  }
}

/**
 * Reads a body of at most `limit` bytes; undefined when it is larger (nothing more is buffered: the caller
 * answers 413 and closes the connection).
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const read = await readBoundedBody(req, { limit, drainLimit: 0 });
  return read.kind === 'body' ? read.body : undefined;
}

/**
 * Gunzips or inflates with the output bounded, so a compression bomb is refused before it is inflated: the body,
 * or the refusal (over the limit once decompressed, or data that does not decompress). Both receivers use it.
 */
export async function decompressLimited(
  body: Buffer,
  encoding: 'gzip' | 'deflate',
  limit: number,
): Promise<
  { kind: 'body'; body: Buffer } | { kind: 'refused'; refused: Extract<IngestResult, { kind: 'refused' }> }
> {
  try {
    const out = await new Promise<Buffer>((resolve, reject) =>
      (encoding === 'gzip' ? gunzip : inflate)(body, { maxOutputLength: limit }, (err, b) =>
        err ? reject(err) : resolve(b),
      ),
    );
    return { kind: 'body', body: out };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return { kind: 'refused', refused: tooLarge(limit, 'decompressed') };
    }
    return {
      kind: 'refused',
      refused: refusal('decode_error', 'SENTINEL_ERR_OTLP_DECODE', `${encoding}: ${(err as Error).message}`),
    };
  }
}

function drain(req: IncomingMessage): void {
  req.resume();
}

/** "https://*.example.com" or "*" to a RegExp over Origin values. */
function originPattern(pattern: string): RegExp {
  if (pattern === '*') return /^.*$/;
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${escaped}$`, 'i');
}
