import {
  constants as h2,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Server } from 'node:http';
import { headerValue, listen } from '../http/index.js';
import { EXPORT_METHODS, encodeTraceResponse } from '../otlp/index.js';
import type { Logger } from '../telemetry/index.js';
import { authRefusal, type ReceiverAuthorize } from './authorize.js';
import { decompressLimited, grpcCodeFor, tooLarge } from './http-receiver.js';
import {
  RECEIVE_TIMEOUT_MS,
  refusal,
  RETRY_AFTER_SECONDS,
  type Ingest,
  type IngestResult,
  type ItemSignal,
} from './ingest.js';
import { encodeRpcStatus, GrpcCode } from './rpc-status.js';
import type { ReceiverTls } from './tls.js';

export interface GrpcReceiverOptions {
  readonly endpoint: string;
  readonly maxRequestBytes: number;
  readonly ingest: Ingest;
  readonly logger: Logger;
  readonly tls?: ReceiverTls | undefined;
  readonly authorize?: ReceiverAuthorize | undefined;
  /** How long a call's message may take to arrive (RECEIVE_TIMEOUT_MS, as the HTTP receiver's requestTimeout). */
  readonly requestTimeoutMs?: number | undefined;
}

type Refused = Extract<IngestResult, { kind: 'refused' }>;

/** The compressions a request message may use (gRPC's `grpc-encoding`), as `grpc-accept-encoding` lists them. */
const ACCEPT_ENCODING = 'identity,deflate,gzip';

/**
 * OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, and `LogsService/Export` and
 * `MetricsService/Export` when the pipeline takes logs and metrics (issue 16; else UNIMPLEMENTED).
 *
 * Served on node:http2 directly, by gRPC's wire protocol for unary calls (grpc/doc/PROTOCOL-HTTP2.md): one
 * length-prefixed message in, one out, the status in trailers (or trailers only, for an error). grpc-js's server
 * cost the agent 5-8 ms of CPU per 1,000 spans at 10k spans/s before a span was read, of its 15-18 (a server on
 * node:http2 alone: 0.78-0.83x of that, bench/grpc-server.ts), and loading it 3-4 MiB of every idle agent's
 * memory (BENCHMARKS.md, session 9). Clients are still grpc-js and grpc-go (tests: the OpenTelemetry SDK's gRPC
 * exporter and grpc-js's own client).
 *
 * A call's message must arrive within `requestTimeoutMs` (60 s, the HTTP receiver's requestTimeout) and within
 * the client's deadline (`grpc-timeout`), whichever ends first; past it the call is answered DEADLINE_EXCEEDED
 * and what it had sent is let go, so a client that stalls mid-message (an app paused in a debugger, a frozen
 * process) holds nothing for long. A message is held as the bytes that arrived, never as its declared length: a
 * 5-byte prefix declaring 4 MiB costs 5 bytes. Once the message is in, a passing deadline is the client's: it
 * resets the stream and the answer is dropped (as grpc-js's server does); the data may already have been
 * accepted.
 */
export class GrpcReceiver {
  private readonly server: Http2Server | Http2SecureServer;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly methods = new Map<string, ItemSignal | 'traces'>();

  constructor(private readonly options: GrpcReceiverOptions) {
    const settings = {
      // gRPC clients keep one connection and multiplex; node's own session-memory cap (10 MB of queued data)
      // would refuse streams with ENHANCE_YOUR_CALM under a burst of large requests. The ingest's memory budget
      // is the bound, as with grpc-js (which sets the same).
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    };
    this.server = options.tls
      ? createSecureServer({ ...options.tls.serverOptions(), ...settings, ALPNProtocols: ['h2'] })
      : createServer(settings);
    const tlsServer = this.server as Http2SecureServer;
    options.tls?.onChange((o) => tlsServer.setSecureContext(o));
    this.methods.set(EXPORT_METHODS.traces, 'traces');
    for (const signal of ['logs', 'metrics'] as const) {
      if (options.ingest.takes(signal)) this.methods.set(EXPORT_METHODS[signal], signal);
    }
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      // A client that goes away mid-call, or breaks HTTP/2: its session ends, the process goes on.
      session.on('error', (err: Error) => options.logger.debug({ err }, 'OTLP/gRPC connection error'));
    });
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on('error', (err: Error) => options.logger.debug({ err }, 'OTLP/gRPC stream error'));
      this.call(stream, headers).catch((err: unknown) => {
        options.logger.error({ err }, 'OTLP/gRPC handler failed');
        respondStatus(stream, GrpcCode.INTERNAL, 'internal error');
      });
    });
  }

  private async call(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const contentType = headerValue(headers[h2.HTTP2_HEADER_CONTENT_TYPE]);
    if (
      headerValue(headers[h2.HTTP2_HEADER_METHOD]) !== 'POST' ||
      !contentType?.startsWith('application/grpc')
    ) {
      // Not gRPC at all: gRPC's protocol answers with an HTTP status (415), not a grpc-status.
      this.options.ingest.countRefusedRequest('grpc', 'unsupported_media_type');
      stream.resume();
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 415, 'content-type': 'text/plain' }, { endStream: true });
      return;
    }
    const path = headerValue(headers[h2.HTTP2_HEADER_PATH]) ?? '';
    const signal = this.methods.get(path);
    if (signal === undefined) {
      stream.resume();
      respondStatus(
        stream,
        GrpcCode.UNIMPLEMENTED,
        `unknown method ${path}: this server serves ${[...this.methods.keys()].join(', ')}`,
      );
      return;
    }
    if (this.options.authorize) {
      const verdict = await this.options.authorize(headerValue(headers['authorization']), path);
      if (!verdict.ok) return this.refuse(stream, authRefusal(verdict), verdict.message);
    }
    const encoding = headerValue(headers['grpc-encoding'])?.toLowerCase() ?? 'identity';
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      this.options.ingest.countRefusedRequest('grpc', 'unsupported_media_type');
      stream.resume();
      respondStatus(
        stream,
        GrpcCode.UNIMPLEMENTED,
        `unsupported grpc-encoding "${encoding}": expected ${ACCEPT_ENCODING}`,
      );
      return;
    }
    const requestTimeoutMs = this.options.requestTimeoutMs ?? RECEIVE_TIMEOUT_MS;
    const clientMs = grpcTimeoutMs(headerValue(headers['grpc-timeout']));
    const waitMs = clientMs === undefined ? requestTimeoutMs : Math.min(clientMs, requestTimeoutMs);
    const message = await readMessage(stream, this.options.maxRequestBytes, waitMs);
    if (message.kind === 'gone') return; // the client reset the stream (cancelled, or its deadline passed)
    if (message.kind === 'refused') return this.refuse(stream, message.refused);
    if (message.kind === 'timeout') {
      const whose =
        waitMs === requestTimeoutMs
          ? `the receiver's request timeout (${requestTimeoutMs} ms)`
          : `the call's deadline (grpc-timeout ${waitMs} ms)`;
      return this.refuse(
        stream,
        refusal(
          'timeout',
          'SENTINEL_ERR_REQUEST_TIMEOUT',
          `the request's message did not arrive within ${whose}: ${message.received} of ${message.declared ?? 'an unknown number of'} bytes came`,
        ),
      );
    }
    let request = message.body;
    if (message.compressed) {
      if (encoding === 'identity') {
        return this.refuse(
          stream,
          framing('a compressed gRPC message without grpc-encoding (gzip or deflate)'),
        );
      }
      const unpacked = await decompressLimited(request, encoding, this.options.maxRequestBytes);
      if (unpacked.kind === 'refused') return this.refuse(stream, unpacked.refused);
      request = unpacked.body;
    }
    const { ingest } = this.options;
    const result =
      signal === 'traces'
        ? await ingest.ingestProtobuf('grpc', request)
        : await ingest.ingestSignal(signal, 'grpc', request.length, () => request);
    if (result.kind === 'accepted') respondMessage(stream, encodeTraceResponse(result.partial));
    else answerRefused(stream, result);
  }

  /** Counts and answers a refusal made here, before the ingest (which counts its own). */
  private refuse(stream: ServerHttp2Stream, refused: Refused, message = refused.message): void {
    this.options.ingest.countRefusedRequest('grpc', refused.reason);
    answerRefused(stream, { ...refused, message });
  }

  async start(): Promise<number> {
    // Http2Server and http.Server share net.Server's listen and address, which is all `listen` uses.
    return listen(this.server as unknown as Server, this.options.endpoint, 'receivers.otlp.grpc.endpoint');
  }

  /** Stops accepting connections, sends GOAWAY, waits for running calls, and forces the end after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}

type Message =
  | { kind: 'message'; body: Buffer; compressed: boolean }
  | { kind: 'refused'; refused: Refused }
  | { kind: 'timeout'; received: number; declared: number | undefined }
  | { kind: 'gone' };

/**
 * Reads a unary call's one length-prefixed message (1 byte compressed flag, 4 bytes big-endian length) within
 * `timeoutMs`. A length over `limit` is refused before the message is read. The chunks are kept as they come
 * and copied once into one buffer at the end: a stalled or lying client holds only what it sent. (The chunks
 * are copied rather than kept: the request may wait `decision_wait` in the trace buffer.)
 */
function readMessage(stream: ServerHttp2Stream, limit: number, timeoutMs: number): Promise<Message> {
  return new Promise((resolve) => {
    if (stream.destroyed) return resolve({ kind: 'gone' });
    let prefix: Buffer | undefined;
    let declared: number | undefined;
    let chunks: Buffer[] = [];
    let filled = 0;
    let extra = false;
    let settled = false;
    const done = (m: Message): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      chunks = [];
      resolve(m);
    };
    const timer = setTimeout(() => {
      // Whatever the client goes on sending is discarded until the answer resets the stream.
      stream.resume();
      done({ kind: 'timeout', received: (prefix?.length ?? 0) + filled, declared });
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      let at = 0;
      if (declared === undefined) {
        const need = 5 - (prefix?.length ?? 0);
        const head = chunk.subarray(0, need);
        prefix = prefix ? Buffer.concat([prefix, head]) : Buffer.from(head);
        at = head.length;
        if (prefix.length < 5) return;
        declared = prefix.readUInt32BE(1);
        if (declared > limit) {
          stream.resume();
          done({ kind: 'refused', refused: tooLarge(limit, prefix[0] === 1 ? 'compressed' : '') });
          return;
        }
      }
      const take = Math.min(chunk.length - at, declared - filled);
      if (take > 0) {
        chunks.push(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
        filled += take;
      }
      if (at + take < chunk.length) extra = true;
    };
    const onEnd = (): void => {
      if (!prefix || declared === undefined || filled < declared) {
        done({
          kind: 'refused',
          refused: framing('the request ended inside its gRPC message (5-byte prefix and length)'),
        });
      } else if (extra) {
        done({
          kind: 'refused',
          refused: framing('a unary call carries one gRPC message; the request had more bytes after it'),
        });
      } else if (prefix[0] !== 0 && prefix[0] !== 1) {
        done({
          kind: 'refused',
          refused: framing(`gRPC message flag ${prefix[0]}: expected 0 or 1 (compressed)`),
        });
      } else {
        done({ kind: 'message', body: Buffer.concat(chunks, declared), compressed: prefix[0] === 1 });
      }
    };
    const onClose = (): void => done({ kind: 'gone' });
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onClose);
  });
}

/** Milliseconds of a `grpc-timeout` header (1 to 8 digits and a unit, PROTOCOL-HTTP2.md); undefined if absent or malformed. */
export function grpcTimeoutMs(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as 'H'];
  return Number(m[1]) * unitMs;
}

function framing(message: string): Refused {
  return refusal('decode_error', 'SENTINEL_ERR_OTLP_DECODE', message);
}

function answerRefused(stream: ServerHttp2Stream, result: Refused): void {
  const code = grpcCodeFor(result);
  const extra: Record<string, string> = {};
  if (result.retryable && code === GrpcCode.RESOURCE_EXHAUSTED) {
    // RESOURCE_EXHAUSTED is retryable for OTLP clients only with RetryInfo (OTLP specification, "Failures").
    extra['grpc-status-details-bin'] = encodeRpcStatus(code, result.message, RETRY_AFTER_SECONDS).toString(
      'base64',
    );
    // gRPC's own retry design (A6) reads server pushback from this trailer; grpc-js retry policies honour it.
    extra['grpc-retry-pushback-ms'] = String(RETRY_AFTER_SECONDS * 1000);
  }
  respondStatus(stream, code, result.message, extra);
}

/** A successful call: response headers, the message, then `grpc-status: 0` in trailers. */
function respondMessage(stream: ServerHttp2Stream, message: Uint8Array): void {
  if (stream.destroyed || stream.headersSent) return;
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  stream.respond(
    {
      [h2.HTTP2_HEADER_STATUS]: 200,
      'content-type': 'application/grpc',
      'grpc-accept-encoding': ACCEPT_ENCODING,
    },
    { waitForTrailers: true },
  );
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(frame);
}

/**
 * An error: gRPC's Trailers-Only response (one HEADERS frame with the status, ending the stream). A client still
 * sending is told to stop with RST_STREAM(NO_ERROR) after it, as gRPC servers do.
 */
function respondStatus(
  stream: ServerHttp2Stream,
  code: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond(
    {
      [h2.HTTP2_HEADER_STATUS]: 200,
      'content-type': 'application/grpc',
      'grpc-accept-encoding': ACCEPT_ENCODING,
      'grpc-status': String(code),
      'grpc-message': percentEncode(message),
      ...extra,
    },
    { endStream: true },
  );
  if (!stream.readableEnded) stream.close(h2.NGHTTP2_NO_ERROR);
}

/** grpc-message's encoding: bytes outside printable ASCII, and `%`, as `%XX` of their UTF-8 (PROTOCOL-HTTP2.md). */
export function percentEncode(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
