/**
 * Load for bench/agent-footprint.ts, in its own process. Every request is the same pre-encoded OTLP/gRPC
 * request of 100 spans (20 traces of 5, about 2 % error spans, from test/helpers/store-spans.ts) with its 20
 * trace ids rewritten in place, so the tail sampler sees new traces while the client spends almost nothing on
 * encoding. Modes: `paced` (a fixed number of spans/s, requests not waited for) and `full` (`inFlight`
 * requests at a time, as fast as the server answers). Transports: OTLP/gRPC (the load) or OTLP/HTTP
 * protobuf (`POST /v1/traces` on keep-alive connections, what the injector points apps at). Reports requests,
 * refusals (errors and requests not answered within 10 s) and latency percentiles.
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { Agent, request } from 'node:http';
import { TRACE_EXPORT_METHOD } from '../src/otlp/index.js';
import { footprintRequests } from './_footprint-request.js';

/** What the parent sends over IPC. */
export interface FootprintLoadJob {
  readonly port: number;
  readonly mode: 'paced' | 'full';
  readonly spansPerSecond?: number;
  readonly inFlight?: number;
  readonly durationMs: number;
  /** Distinguishes the trace ids of one run's phases. */
  readonly idPrefix: number;
  /** OTLP/gRPC (the default) or OTLP/HTTP protobuf to `/v1/traces` on `port`. */
  readonly transport?: 'grpc' | 'http';
}

/** What the child answers. */
export interface FootprintLoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly refused: number;
  readonly late: number;
  /** Paced mode: requests not sent because MAX_IN_FLIGHT were waiting (a client-side drop). */
  readonly shed: number;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const SPANS_PER_REQUEST = 100;
const REQUEST_TIMEOUT_MS = 10_000;
/** Paced mode: requests in flight at most (64 SDK clients exporting at once); beyond, a request is shed. */
const MAX_IN_FLIGHT = 64;

const job = await new Promise<FootprintLoadJob>((resolve) =>
  process.once('message', (m) => resolve(m as FootprintLoadJob)),
);

const nextBody = footprintRequests(job.idPrefix);

const client = new Client(`127.0.0.1:${job.port}`, credentials.createInsecure(), {
  'grpc.max_send_message_length': -1,
});
const latencies: number[] = [];
let ok = 0;
let refused = 0;
const sendGrpc = (b: Buffer): Promise<void> =>
  new Promise((resolve) => {
    const t0 = performance.now();
    client.makeUnaryRequest(
      TRACE_EXPORT_METHOD,
      (x: Buffer) => x,
      (x: Buffer) => x,
      b,
      new Metadata(),
      // An SDK exporter's default timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s): a request the server does not
      // answer in time counts as refused, and the load does not wait on it past the phase.
      { deadline: Date.now() + REQUEST_TIMEOUT_MS },
      (err) => {
        latencies.push(performance.now() - t0);
        if (err) refused++;
        else ok++;
        resolve();
      },
    );
  });

// As an SDK's OTLP/HTTP exporter: keep-alive connections, one per request in flight at most.
const httpAgent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
const sendHttp = (b: Buffer): Promise<void> =>
  new Promise((resolve) => {
    const t0 = performance.now();
    let done = false;
    const finish = (good: boolean) => {
      if (done) return;
      done = true;
      latencies.push(performance.now() - t0);
      if (good) ok++;
      else refused++;
      resolve();
    };
    const req = request(
      {
        host: '127.0.0.1',
        port: job.port,
        path: '/v1/traces',
        method: 'POST',
        agent: httpAgent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': b.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode === 200));
        res.on('error', () => finish(false));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(false));
    req.end(b);
  });
const send = job.transport === 'http' ? sendHttp : sendGrpc;

const start = performance.now();
let late = 0;
let shed = 0;
if (job.mode === 'full') {
  await Promise.all(
    Array.from({ length: job.inFlight ?? 8 }, async () => {
      while (performance.now() - start < job.durationMs) await send(nextBody());
    }),
  );
} else {
  const interval = (1000 * SPANS_PER_REQUEST) / (job.spansPerSecond ?? 1000);
  const pending = new Set<Promise<void>>();
  for (let i = 0; performance.now() - start < job.durationMs; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -interval) late++;
    // As SDKs do (a BatchSpanProcessor exports one batch at a time and drops when its queue is full), the
    // clients give up a request rather than pile up: without a bound, a server that falls behind gets
    // thousands of queued streams that all time out, and nothing is accepted at all.
    if (pending.size >= MAX_IN_FLIGHT) {
      shed++;
      continue;
    }
    const p = send(nextBody()).then(() => void pending.delete(p));
    pending.add(p);
  }
  await Promise.all(pending);
}
const elapsedMs = performance.now() - start;
latencies.sort((a, b) => a - b);
const pct = (p: number): number =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
const result: FootprintLoadResult = {
  requests: ok + refused,
  ok,
  refused,
  late,
  shed,
  elapsedMs,
  p50Ms: pct(0.5),
  p99Ms: pct(0.99),
};
process.send?.(result);
client.close();
httpAgent.destroy();
process.disconnect?.();
