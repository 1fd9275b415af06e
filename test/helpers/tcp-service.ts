import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A Kubernetes Service in front of one port of a test server: a port on 127.0.0.1 that stays the same while the
 * pod behind it is replaced. Each connection is forwarded to the current backend port; while there is none (the
 * pod is gone, the new one not ready), a connection is closed at once, as kube-proxy rejects one to a Service
 * without endpoints. Closing the backend closes the connections forwarded to it.
 *
 * Closed with `destroy()`, never `resetAndDestroy()`: on Node 24 a test process whose Service had reset
 * connections could spin at 100 % CPU at exit, after its tests had passed, in node::Environment::CleanupHandles
 * (perf: uv_run and clock_gettime, no system calls), a handle's close never completing.
 *
 * A test that stops a server and listens again on the port it had raced every other process on the machine for
 * that port: during the gap the kernel could hand it to another test's port 0 listener or, as the local port of
 * a client reconnecting to it, to the client itself (a TCP self-connect), and the restart failed with EADDRINUSE.
 */
export class TestService {
  private backend: number | undefined;
  private readonly open = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  /** Starts listening on a port of its own, forwarding to `backend` (none: refuses until one is set). */
  static async start(backend?: number): Promise<TestService> {
    const server = createServer();
    const service = new TestService(server);
    service.backend = backend;
    server.on('connection', (client) => service.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return service;
  }

  /** The Service's port, the same for its whole life. */
  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Points new connections at `port`, or, with undefined, closes them at once; open connections are left alone. */
  route(port: number | undefined): void {
    this.backend = port;
  }

  private forward(client: Socket): void {
    client.on('error', () => client.destroy());
    if (this.backend === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect(this.backend, '127.0.0.1');
    this.open.add(client);
    client.once('close', () => {
      this.open.delete(client);
      upstream.destroy();
    });
    // The backend went away between the route and this connection: the client sees the connection close.
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.open) socket.destroy();
    await closed;
  }
}
