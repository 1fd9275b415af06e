import { createServer } from 'node:net';

/**
 * A loopback port free a moment ago, for a process that takes its listen address from config or a flag and
 * cannot report a port 0 back (or, closed again, for a client to find nothing listening).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
