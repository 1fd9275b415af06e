/**
 * The HTTPS admission webhook: `POST /mutate` (pods that opt in by annotation) and `POST /mutate/namespace`
 * (the webhook entry whose namespaceSelector matches `sentinel.dev/inject=enabled`), plus `/healthz`,
 * `/readyz` and `/metrics` for whoever can only reach the TLS port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { SentinelError } from '../errors.js';
import { answerUnreadableRequests, listen, readBoundedBody, timeoutChecking } from '../http/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { admissionResponse, MalformedReviewError, parseAdmissionReview } from './admission-review.js';
import { CertificateReloader } from './certificate-reloader.js';
import { mutate, type MutateOptions } from './mutate.js';

export interface WebhookServerOptions {
  /** "host:port" for the HTTPS listener. */
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly maxRequestBytes: number;
  readonly mutate: MutateOptions;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly certificateCheckIntervalMs?: number;
}

type ErrorReason =
  'malformed_review' | 'body_too_large' | 'unparsable_pod' | 'certificate_reload' | 'internal';

/** At least this much of a body over max_request_bytes is read before its 413 (see handleMutate). */
const DRAIN_BYTES = 16 * 1024 * 1024;
/** A review never takes longer than the webhook's timeoutSeconds (at most 30 s). */
const WEBHOOK_REQUEST_TIMEOUT_MS = 30_000;

export class WebhookServer {
  private readonly options: WebhookServerOptions;
  private server: Server | undefined;
  private reloader: CertificateReloader | undefined;
  private draining = false;
  private readonly requests;
  private readonly skipped;
  private readonly errors;
  private readonly duration;
  private readonly reloads;

  constructor(options: WebhookServerOptions) {
    this.options = options;
    const m = options.metrics;
    this.requests = m.counter('injector_requests_total', 'AdmissionReview requests by result', ['result']);
    this.skipped = m.counter('injector_skipped_total', 'Pods that got no agent, by reason', ['reason']);
    this.errors = m.counter('injector_errors_total', 'Requests or reloads that failed, by reason', [
      'reason',
    ]);
    this.duration = m.histogram(
      'injector_request_duration_seconds',
      'Time to answer one AdmissionReview',
      [],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    );
    this.reloads = m.counter('injector_certificate_reloads_total', 'Certificate pairs applied after start');
  }

  /** Loads the certificate and listens; resolves with the bound port. */
  async start(): Promise<number> {
    const reloader = new CertificateReloader({
      certFile: this.options.certFile,
      keyFile: this.options.keyFile,
      intervalMs: this.options.certificateCheckIntervalMs ?? 10_000,
      onChange: (pair) => {
        this.server?.setSecureContext(pair);
        this.reloads.inc();
        this.options.logger.info({ certFile: this.options.certFile }, 'serving certificate reloaded');
      },
      onError: (err) => {
        this.errors.inc({ reason: 'certificate_reload' });
        this.options.logger.warn({ err }, 'certificate reload failed; keeping the last good certificate');
      },
    });
    let pair;
    try {
      pair = await reloader.load();
    } catch (err) {
      throw new SentinelError(
        'SENTINEL_ERR_TLS_LOAD',
        `cannot load tls.cert_file ${this.options.certFile} and tls.key_file ${this.options.keyFile}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.reloader = reloader;
    const server = createServer(
      { ...pair, minVersion: 'TLSv1.2', ...timeoutChecking(WEBHOOK_REQUEST_TIMEOUT_MS) },
      (req, res) => this.route(req, res),
    );
    // The API server keeps connections alive; a short idle timeout keeps dead ones from piling up, and a
    // review never takes longer than the webhook's timeoutSeconds (at most 30 s), so slow senders are cut off.
    server.keepAliveTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = WEBHOOK_REQUEST_TIMEOUT_MS;
    // A request Node could not read (timeout, not HTTP/1.1): answered as Node would, and counted
    // (`request_timeout`, `invalid_http`), which Node's own answer was not.
    answerUnreadableRequests(server, 'webhook', (reason) =>
      this.errors.inc({ reason: reason === 'timeout' ? 'request_timeout' : 'invalid_http' }),
    );
    this.server = server;
    const port = await listen(server, this.options.listen, 'listen');
    reloader.start();
    return port;
  }

  /** Ready while listening and not draining. */
  isReady(): boolean {
    return this.server?.listening === true && !this.draining;
  }

  /** Re-reads the certificate files now; resolves true when a new pair was applied. */
  reloadCertificate(): Promise<boolean> {
    return this.reloader?.check() ?? Promise.resolve(false);
  }

  /** Answers 503 on /readyz from now on while still serving, so the Service drops this replica first. */
  beginDrain(): void {
    this.draining = true;
  }

  /** Stops accepting, answers what is in flight, then closes. */
  async close(): Promise<void> {
    this.draining = true;
    this.reloader?.stop();
    const server = this.server;
    if (!server?.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/mutate' || path === '/mutate/namespace') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      this.handleMutate(req, res, path === '/mutate/namespace');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = this.isReady();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      const registry = this.options.metrics.registry;
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  private handleMutate(req: IncomingMessage, res: ServerResponse, namespaceOptIn: boolean): void {
    const end = this.duration.startTimer();
    const limit = this.options.maxRequestBytes;
    const declared = Number(req.headers['content-length'] ?? NaN);
    // A body over the limit is read and thrown away up to this bound before the 413 is sent: answering (and
    // closing) while the client still uploads made it see EPIPE instead of the 413 (issue 18). Past the bound
    // the connection is closed after the answer.
    readBoundedBody(req, { limit, drainLimit: Math.max(4 * limit, DRAIN_BYTES) })
      .then(
        (read) => {
          if (read.kind === 'too_large') {
            this.reject(
              res,
              413,
              'body_too_large',
              Number.isFinite(declared)
                ? `AdmissionReview of ${declared} bytes is over max_request_bytes (${limit})`
                : `AdmissionReview is over max_request_bytes (${limit})`,
            );
            if (!read.drained) res.once('finish', () => req.destroy());
            return;
          }
          try {
            this.answer(res, read.body.toString('utf8'), namespaceOptIn);
          } catch (err) {
            // A bug here must not fail pod creation: the API server treats the error per failurePolicy.
            this.options.logger.error({ err }, 'mutate failed');
            this.reject(res, 500, 'internal', 'internal error');
          }
        },
        // The API server went away mid-body: nobody is left to answer.
        () => undefined,
      )
      .finally(end);
  }

  private answer(res: ServerResponse, body: string, namespaceOptIn: boolean): void {
    let request;
    try {
      request = parseAdmissionReview(body);
    } catch (err) {
      if (!(err instanceof MalformedReviewError)) throw err;
      this.reject(res, 400, 'malformed_review', err.message);
      return;
    }
    const result = mutate(request, namespaceOptIn, this.options.mutate);
    this.requests.inc({ result: result.result });
    if (result.result === 'skipped') this.skipped.inc({ reason: result.reason });
    if (result.result === 'unparsable') {
      this.errors.inc({ reason: 'unparsable_pod' });
      this.options.logger.warn(
        { uid: request.uid, namespace: request.namespace, error: result.error },
        'pod not parsed; allowed unchanged',
      );
    } else if (result.result !== 'ignored') {
      this.options.logger.debug(
        { uid: request.uid, namespace: request.namespace, result: result.result },
        'admission',
      );
    }
    const payload = JSON.stringify(admissionResponse(request.uid, result.outcome));
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
      .end(payload);
  }

  private reject(res: ServerResponse, status: number, reason: ErrorReason, message: string): void {
    this.errors.inc({ reason });
    this.requests.inc({ result: 'rejected' });
    if (res.headersSent) return;
    const code =
      status === 413
        ? 'SENTINEL_ERR_BODY_TOO_LARGE'
        : status === 400
          ? 'SENTINEL_ERR_ADMISSION_INVALID'
          : undefined;
    const payload = JSON.stringify(code ? { code, message } : { message });
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(payload);
  }
}
