/**
 * The full-speed baseline of bench/agent-footprint.ts, in its own process: a grpc-js server on 127.0.0.1:0 that
 * answers every OTLP Export with an empty response and decodes nothing. What grpc-js and the loopback cost
 * alone, so the agent's full-speed rate is read as a fraction of it. Sends its port to the parent over IPC.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { traceServiceDefinition } from '../src/otlp/index.js';

const EMPTY = Buffer.alloc(0);
const server = new Server();
server.addService(traceServiceDefinition, {
  Export: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, EMPTY),
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
process.send?.({ port });
// The parent disconnects (or dies): stop.
process.once('disconnect', () => server.forceShutdown());
