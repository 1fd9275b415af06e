import type { Socket } from 'node:net';

/** Writes `bytes` on a new connection (TCP or TLS); resolves with all the server sent once it closed. */
export function rawExchange(open: () => Socket, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = open();
    socket.once(socket.constructor.name === 'TLSSocket' ? 'secureConnect' : 'connect', () =>
      socket.write(bytes),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Bytes no HTTP/1.1 parser reads. */
export const NOT_HTTP = 'THIS IS NOT HTTP\r\n\r\n';
