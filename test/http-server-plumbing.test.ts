import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { describe, test } from 'node:test';
import { SentinelError } from '../src/errors.js';
import { BodyAborted, listen, readBoundedBody, type BoundedBody } from '../src/http/server-plumbing.js';

/** A server whose one handler reads the body with `options`, answers what it read, and records it. */
async function bodyServer(limit: number, drainLimit: number) {
  const seen: Array<BoundedBody | Error> = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    readBoundedBody(req, { limit, drainLimit }).then(
      (read) => {
        seen.push(read);
        res.writeHead(read.kind === 'body' ? 200 : 413, { connection: 'close' }).end(read.kind);
        if (read.kind === 'too_large' && !read.drained) res.once('finish', () => req.destroy());
      },
      (err: Error) => seen.push(err),
    );
  });
  const port = await listen(server, '127.0.0.1:0', 'test.endpoint');
  return { server, port, seen };
}

/** Sends `chunks` one after another; resolves with the status, or the client-side error code. */
function send(
  port: number,
  chunks: Buffer[],
  headers: Record<string, string> = {},
): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    const write = (i: number) => {
      if (i === chunks.length) return req.end();
      req.write(chunks[i], () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}

void describe('server plumbing (src/http, issue 17)', () => {
  void test('a body within the limit is read whole, in order', async () => {
    const { server, port, seen } = await bodyServer(100, 1000);
    try {
      assert.equal(await send(port, [Buffer.from('abc'), Buffer.from('def')]), 200);
      const read = seen[0] as BoundedBody;
      assert.equal(read.kind, 'body');
      assert.equal(read.kind === 'body' && read.body.toString(), 'abcdef');
    } finally {
      server.close();
    }
  });

  void test('a body over the limit is drained up to drainLimit, so the client sees the 413', async () => {
    const { server, port, seen } = await bodyServer(10, 1000);
    try {
      const chunks = Array.from({ length: 10 }, () => Buffer.alloc(50, 1));
      assert.equal(await send(port, chunks), 413);
      assert.deepEqual(seen[0], { kind: 'too_large', received: 500, drained: true });
    } finally {
      server.close();
    }
  });

  void test('past drainLimit reading stops, and a declared length past it is refused unread', async () => {
    const { server, port, seen } = await bodyServer(10, 100);
    try {
      await send(
        port,
        Array.from({ length: 10 }, () => Buffer.alloc(50, 1)),
      );
      const first = seen[0] as BoundedBody;
      assert.equal(first.kind, 'too_large');
      assert.equal(first.kind === 'too_large' && first.drained, false);
      assert.ok(first.kind === 'too_large' && first.received > 100 && first.received < 500);
      assert.equal(await send(port, [Buffer.alloc(5)], { 'content-length': '5000' }), 413);
      assert.deepEqual(seen[1], { kind: 'too_large', received: 0, drained: false });
    } finally {
      server.close();
    }
  });

  void test('a client that goes away mid-body rejects with BodyAborted', async () => {
    const { server, port, seen } = await bodyServer(1000, 1000);
    try {
      await new Promise<void>((resolve) => {
        const req = request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          headers: { 'content-length': '100' },
        });
        req.on('error', () => undefined);
        req.write(Buffer.alloc(10), () => {
          req.destroy();
          resolve();
        });
      });
      for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(seen[0] instanceof BodyAborted, `got ${String(seen[0])}`);
    } finally {
      server.close();
    }
  });

  void test('an endpoint that is not host:port is SENTINEL_ERR_CONFIG_INVALID naming the key', async () => {
    const server = createServer();
    await assert.rejects(listen(server, 'localhost', 'query.endpoint'), (err: unknown) => {
      assert.ok(err instanceof SentinelError);
      assert.equal(err.code, 'SENTINEL_ERR_CONFIG_INVALID');
      assert.match(err.message, /^query\.endpoint: expected "host:port", got "localhost"/);
      return true;
    });
  });
});
