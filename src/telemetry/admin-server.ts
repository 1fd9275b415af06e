import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEndpoint } from '../config/runtime.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** What the admin server asks of the process it reports on. */
export interface AdminServerOptions {
  readonly endpoint: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Ready once the receivers listen; not ready while draining. */
  readonly isReady: () => boolean;
}

/** `/metrics`, `/healthz` and `/readyz`, in every mode (CONTRACT.md "HTTP endpoints"). */
export class AdminServer {
  private readonly server: Server;
  private readonly options: AdminServerOptions;

  constructor(options: AdminServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        options.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text),
          (err: unknown) => {
            options.logger.error({ err }, 'collecting metrics failed');
            res.writeHead(500).end();
          },
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = options.isReady();
        res
          .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
          .end(ready ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
  }

  /** Listens on the configured endpoint; resolves with the bound port. */
  async start(): Promise<number> {
    const ep = parseEndpoint(this.options.endpoint);
    if (!ep)
      throw new Error(`admin.endpoint: expected "host:port", got ${JSON.stringify(this.options.endpoint)}`);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(ep.port, ep.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }
}
