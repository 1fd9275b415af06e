/**
 * A server child for bench/grpc-server.ts: answers every OTLP Export with an empty response and decodes nothing,
 * with the implementation named in argv: `grpc-js` (a @grpc/grpc-js Server, as bench/_null-otlp-server.ts) or
 * `http2` (a minimal unary gRPC server on node:http2: it reads the 5-byte prefix, gathers the message and answers
 * headers, an empty message and trailers). Sends its port over IPC, then answers each `cpu` message with its
 * process.cpuUsage() (user + system, microseconds).
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import http2 from 'node:http2';
import { traceServiceDefinition } from '../test/helpers/grpc-trace-service.js';

const EMPTY = Buffer.alloc(0);
const EMPTY_FRAME = Buffer.alloc(5);

function grpcJs(): Promise<number> {
  const server = new Server({ 'grpc.enable_channelz': 0 });
  server.addService(traceServiceDefinition, {
    Export: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
      callback(null, EMPTY),
  });
  process.once('disconnect', () => server.forceShutdown());
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
}

function nodeHttp2(): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      // The message as grpc-js would hand it over (prefix checked, payload sliced), then dropped.
      if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5)
        stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '' }));
      stream.end(EMPTY_FRAME);
    });
    stream.on('error', () => {});
  });
  process.once('disconnect', () => server.close());
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

const port = await (process.argv[2] === 'http2' ? nodeHttp2() : grpcJs());
process.on('message', (m) => {
  if (m !== 'cpu') return;
  const u = process.cpuUsage();
  process.send?.({ cpuUs: u.user + u.system });
});
process.send?.({ port });
