/**
 * The full-speed baseline of bench/agent-footprint.ts, in its own process: a grpc-js server on 127.0.0.1:0 that
 * answers every OTLP Export with an empty response and decodes nothing. What grpc-js and the loopback cost
 * alone, so the agent's full-speed rate is read as a fraction of it, and what the agent's receiver costs per
 * request at each paced rate. Configured as the agent's receiver (src/receiver/grpc-receiver.ts: channelz off,
 * the same message limit). Sends its port to the parent over IPC.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { traceServiceDefinition } from '../test/helpers/grpc-trace-service.js';

const EMPTY = Buffer.alloc(0);
const server = new Server({
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.enable_channelz': 0,
});
server.addService(traceServiceDefinition, {
  Export: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, EMPTY),
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
// The parent disconnects (or dies): stop.
process.once('disconnect', () => server.forceShutdown());

// The same for OTLP/HTTP: gathers each body into one Buffer (as grpc-js gathers a message; nothing is decoded),
// answers an empty ExportTraceServiceResponse.
const http = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (Buffer.concat(chunks).length < 0) throw new Error('unreachable');
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
    res.end();
  });
});
http.listen(0, '127.0.0.1');
await once(http, 'listening');
process.send?.({ port, httpPort: (http.address() as AddressInfo).port });
process.once('disconnect', () => http.close());
