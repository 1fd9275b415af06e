/**
 * The full-speed baseline of bench/agent-footprint.ts, in its own process: a grpc-js server on 127.0.0.1:0 that
 * answers every OTLP Export with an empty response and decodes nothing. What grpc-js and the loopback cost
 * alone, so the agent's full-speed rate is read as a fraction of it, and what the agent's receiver costs per
 * request at each paced rate. Configured as the agent's receiver (src/receiver/grpc-receiver.ts: channelz off,
 * the same message limit). Sends its port to the parent over IPC.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { traceServiceDefinition } from '../src/otlp/index.js';

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
process.send?.({ port });
// The parent disconnects (or dies): stop.
process.once('disconnect', () => server.forceShutdown());
