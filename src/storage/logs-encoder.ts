import type { Worker } from 'node:worker_threads';
import { SentinelError } from '../errors.js';
import type { Logger } from '../telemetry/index.js';
import {
  encodeLogsPayloads,
  type EncodedLogsBlock,
  type LogsBlockMeta,
  type LogsBlockWriteOptions,
} from './logs-block.js';
import type { LogsEncodeJob, LogsEncodeResult } from './logs-encode-worker.js';
import { packInputs, startModuleWorker, terminateWorker, WorkerJobs } from './worker-thread.js';

/** How long `close()` waits for the worker to terminate. */
const TERMINATE_WAIT_MS = 2000;

/**
 * Encodes logs blocks on a worker thread of their own (issue 16), so the main thread keeps acknowledging spans and
 * logs while a block is cut. When the worker cannot run, or fails a job, the block is encoded in-process: a real
 * encoding error then surfaces there, as the caller's quarantine expects.
 */
export class LogsEncoder {
  private worker: Worker | undefined;
  private broken: boolean;
  private closed = false;
  private readonly jobs = new WorkerJobs<LogsEncodeResult>();

  constructor(private readonly options: { readonly logger: Logger; readonly useWorker: boolean }) {
    this.broken = !options.useWorker;
  }

  private startWorker(): Worker | undefined {
    if (this.worker || this.broken) return this.worker;
    try {
      const worker = startModuleWorker(import.meta.url, 'logs-encode-worker');
      worker.on('message', this.jobs.answer);
      worker.on('error', (err) => this.fail(`the logs encoder worker failed: ${err.message}`));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.fail(`the logs encoder worker exited with ${code}`);
      });
      this.worker = worker;
    } catch (err) {
      this.fail(`the logs encoder worker cannot start: ${(err as Error).message}`);
    }
    return this.worker;
  }

  private fail(message: string): void {
    if (!this.broken) this.options.logger.warn(message + '; encoding logs blocks on the main thread');
    this.broken = true;
    this.worker = undefined;
    this.jobs.failAll(message);
  }

  /**
   * A logs WAL segment's requests as one block (undefined when no record is valid), with its record count. Throws
   * when the records cannot be encoded, and SENTINEL_ERR_SHUTTING_DOWN once closed.
   */
  async encode(
    payloads: readonly Uint8Array[],
    options: LogsBlockWriteOptions & { blockId: string; nowMs: number },
  ): Promise<{ records: number; block?: EncodedLogsBlock }> {
    const closed = () => new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the logs encoder is closed');
    if (this.closed) throw closed();
    const worker = this.startWorker();
    if (worker) {
      const { buffer, ranges } = packInputs(payloads);
      const job = (id: number): LogsEncodeJob => ({ ...options, id, buffer, ranges });
      const result = await this.jobs.post(worker, job, buffer);
      if (result.ok) {
        const b = result.block;
        return b
          ? {
              records: result.records,
              block: {
                parquet: new Uint8Array(b.parquet),
                meta: b.meta as LogsBlockMeta,
                metaKey: b.metaKey,
              },
            }
          : { records: 0 };
      }
      if (this.closed) throw closed();
    }
    return encodeLogsPayloads(payloads, options);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.broken = true;
    this.closed = true;
    this.jobs.failAll('the logs encoder is closed');
    if (!worker) return;
    if (!(await terminateWorker(worker, TERMINATE_WAIT_MS)))
      this.options.logger.warn(
        'the logs encoder worker did not report its exit in time; left to the process exit',
      );
  }
}
