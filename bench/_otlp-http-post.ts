import { request, type Agent } from 'node:http';

/** A function that POSTs `body` (OTLP protobuf) to `127.0.0.1:port/v1/traces` and rejects on any status but 200. */
export function otlpHttpPoster(port: number, body: Uint8Array, agent: Agent): () => Promise<void> {
  return () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/traces',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
