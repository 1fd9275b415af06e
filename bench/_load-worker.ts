/**
 * A load generator in a child process, so that the client does not share the event loop it measures.
 * Modes: `throughput` (as fast as `concurrency` allows, for `durationMs`) and `paced` (a fixed request rate,
 * recording each request's latency).
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { Agent } from 'node:http';
import { TRACE_EXPORT_METHOD } from '../src/otlp/index.js';
import { otlpHttpPoster } from './_otlp-http-post.js';

interface Job {
  transport: 'grpc' | 'http';
  port: number;
  body: Uint8Array;
  mode: 'throughput' | 'paced';
  concurrency: number;
  durationMs: number;
  ratePerSecond?: number;
}

// The job arrives over IPC: request bodies are too large for argv.
const job = await new Promise<Omit<Job, 'body'> & { body: string }>((resolve) =>
  process.once('message', (m) => resolve(m as Omit<Job, 'body'> & { body: string })),
);
const body = Buffer.from(job.body, 'base64');

function makeSender(): () => Promise<void> {
  if (job.transport === 'grpc') {
    const client = new Client(`127.0.0.1:${job.port}`, credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
    });
    return () =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          TRACE_EXPORT_METHOD,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          new Metadata(),
          (err) => (err ? reject(err) : resolve()),
        );
      });
  }
  return otlpHttpPoster(job.port, body, new Agent({ keepAlive: true, maxSockets: job.concurrency }));
}

async function main(): Promise<void> {
  const send = makeSender();
  const end = Date.now() + job.durationMs;
  let requests = 0;
  let errors = 0;
  const latencies: number[] = [];
  if (job.mode === 'throughput') {
    await Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        while (Date.now() < end) {
          try {
            await send();
            requests++;
          } catch {
            errors++;
          }
        }
      }),
    );
  } else {
    const interval = 1000 / (job.ratePerSecond as number);
    const pending: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; performance.now() - start < job.durationMs; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      pending.push(
        send().then(
          () => {
            latencies.push(performance.now() - t0);
            requests++;
          },
          () => {
            errors++;
          },
        ),
      );
    }
    await Promise.all(pending);
  }
  process.send?.({ requests, errors, latencies });
  process.disconnect?.();
}

main().catch((err: unknown) => {
  process.send?.({ requests: 0, errors: 1, latencies: [], fatal: String(err) });
  process.disconnect?.();
});
