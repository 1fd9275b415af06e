import type { Worker } from 'node:worker_threads';
import { SentinelError } from '../errors.js';
import type { Logger } from '../telemetry/index.js';
import type { EncodeJob, EncodePhaseMemory, EncodeResult } from './block-encode-worker.js';
import type { BlockMeta } from './block-meta.js';
import { mergeBlocks } from './block-merge.js';
import { encodeBlock, type BlockWriteOptions, type EncodedBlock } from './block-writer.js';
import type { BlockCodec } from './parquet-codec.js';
import type { StoredSpan } from './stored-span.js';
import { packInputs, startModuleWorker, terminateWorker, WorkerJobs } from './worker-thread.js';

/** How long `close()` waits for the worker to terminate. */
const TERMINATE_WAIT_MS = 2000;

/**
 * The share of the worker's heap a segment may be priced at and still go to the worker. The price (the receivers'
 * admission estimate) is above the segment's decoded heap for every shape measured; the rest is one row group's
 * cells and the garbage of decoding. The store cuts segments at half the worker's heap (`blockEncodeShare`).
 */
const WORKER_PRICE_SHARE = 0.75;

const MiB = 1024 * 1024;

/** What one block needs: its spans as OTLP protobuf requests and, as a fallback, as rows in memory. */
export interface BlockToEncode {
  /**
   * `ExportTraceServiceRequest` protobuf payloads (a WAL segment's records), or how to read them when the job's
   * turn comes (so a caller waiting behind another job does not hold them meanwhile).
   */
  readonly payloads: readonly Uint8Array[] | (() => Promise<readonly Uint8Array[]>);
  readonly spans: number;
  readonly rows: () => StoredSpan[];
  readonly blockId: string;
  readonly nowMs: number;
  /**
   * The spans' price in the memory budget (bytes, the receivers' admission estimate). With `workerHeapMiB`, a
   * segment priced over `WORKER_PRICE_SHARE` of the worker's heap is encoded in-process and never given to the
   * worker: Node's heap limit on a worker is best-effort, and a worker that meets it in one large allocation
   * aborts the whole process instead of failing with ERR_WORKER_OUT_OF_MEMORY (nodejs/node#47224; one run in
   * six of test/store-encode-memory.test.ts did so on Node 24).
   */
  readonly price?: number;
}

/**
 * Encodes blocks on a worker thread, so the main thread keeps answering receivers and queries. When the
 * worker cannot be used (it failed to start, or the payloads do not hold the spans expected), the block is
 * encoded in-process from the rows in memory.
 */
export class BlockEncoder {
  private worker: Worker | undefined;
  private workerBroken = false;
  private closed = false;
  private readonly jobs = new WorkerJobs<EncodeResult>();
  /** The job in flight: one at a time, so the main thread holds one job's input and the worker one job's rows. */
  private inFlight: Promise<unknown> = Promise.resolve();
  /** The worker's memory per phase of its last job (bench/store-memory.ts reads it). */
  lastJobMemory: readonly EncodePhaseMemory[] = [];

  constructor(
    private readonly options: {
      readonly logger: Logger;
      readonly useWorker: boolean;
      readonly rowGroupSize?: number;
      readonly codec?: BlockCodec;
      /**
       * The worker's old-space limit (MiB). Without it a worker gets V8's default for the machine, and what it
       * leaves as garbage after a block is collected late; with it, the worker collects within its share of the
       * container. A segment priced over `WORKER_PRICE_SHARE` of it is encoded in-process (`BlockToEncode.price`);
       * a worker that still runs out (ERR_WORKER_OUT_OF_MEMORY) is replaced, and that block is encoded in-process.
       */
      readonly workerHeapMiB?: number;
    },
  ) {}

  private startWorker(): Worker | undefined {
    if (this.worker || this.workerBroken || !this.options.useWorker) return this.worker;
    try {
      const worker = startModuleWorker(import.meta.url, 'block-encode-worker', this.resourceLimits());
      worker.on('message', this.jobs.answer);
      worker.on('error', (err) => {
        // Out of its heap: this block goes to the main thread, the next to a new worker.
        const outOfMemory = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.fail(`the block encoder worker failed: ${err.message}`, outOfMemory);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.fail(`the block encoder worker exited with ${code}`);
      });
      this.worker = worker;
    } catch (err) {
      this.fail(`the block encoder worker cannot start: ${(err as Error).message}`);
    }
    return this.worker;
  }

  private resourceLimits(): { resourceLimits?: { maxOldGenerationSizeMb: number } } {
    const mib = this.options.workerHeapMiB;
    return mib === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: mib } };
  }

  private fail(message: string, restart = false): void {
    if (restart) this.options.logger.warn(message + '; this block is encoded on the main thread');
    else if (!this.workerBroken) this.options.logger.warn(message + '; encoding blocks on the main thread');
    if (!restart) this.workerBroken = true;
    this.worker = undefined;
    this.jobs.failAll(message);
  }

  /** Encodes OTLP protobuf payloads as one block. */
  async encode(block: BlockToEncode): Promise<EncodedBlock> {
    const options = this.writeOptions(block.blockId, block.nowMs);
    // In-process after the job in flight, as a worker job would be: one block's memory at a time.
    if (this.overWorkerHeap(block)) return this.afterInFlight(() => encodeBlock(block.rows(), options));
    return this.run(
      'encode',
      block.payloads,
      block.spans,
      options,
      'encoding the block in-process instead',
      () => encodeBlock(block.rows(), options),
    );
  }

  /** Whether `block` is priced over what the worker's heap takes (logged: the block is encoded in-process). */
  private overWorkerHeap(block: BlockToEncode): boolean {
    const heapMiB = this.options.workerHeapMiB;
    if (!this.options.useWorker || heapMiB === undefined || block.price === undefined) return false;
    if (block.price <= heapMiB * MiB * WORKER_PRICE_SHARE) return false;
    this.options.logger.warn(
      { block: block.blockId, priceMiB: Math.ceil(block.price / MiB), workerHeapMiB: heapMiB },
      `the segment is priced over ${WORKER_PRICE_SHARE * 100} % of the encoder worker's heap; encoding it in-process`,
    );
    return true;
  }

  /** Merges whole Parquet blocks into one, de-duplicated by span id (compaction). */
  async merge(input: {
    readonly blocks: readonly Uint8Array[];
    readonly blockId: string;
    readonly nowMs: number;
    readonly replaces: readonly string[];
    readonly compactionLevel: number;
  }): Promise<EncodedBlock> {
    const options = {
      ...this.writeOptions(input.blockId, input.nowMs),
      replaces: input.replaces,
      compactionLevel: input.compactionLevel,
    };
    return this.run('merge', input.blocks, -1, options, 'merging the blocks in-process instead', () =>
      mergeBlocks(input.blocks, options),
    );
  }

  private writeOptions(
    blockId: string,
    nowMs: number,
  ): BlockWriteOptions & { blockId: string; nowMs: number } {
    return {
      blockId,
      nowMs,
      ...(this.options.rowGroupSize !== undefined ? { rowGroupSize: this.options.rowGroupSize } : {}),
      ...(this.options.codec !== undefined ? { codec: this.options.codec } : {}),
    };
  }

  /**
   * Runs a job on the worker after the one in flight, or `inProcess` when the worker cannot (none, or it failed:
   * logged as `fallback`). The fallback is part of the same job, so the next job waits for it too: one job's
   * memory at a time. (It must not go through `afterInFlight` itself: it would wait for the job it is part of.)
   */
  private run(
    kind: EncodeJob['kind'],
    inputs: BlockToEncode['payloads'],
    expectedSpans: number,
    options: BlockWriteOptions & { blockId: string; nowMs: number },
    fallback: string,
    inProcess: () => EncodedBlock | Promise<EncodedBlock>,
  ): Promise<EncodedBlock> {
    return this.afterInFlight(async () => {
      const result = await this.runNow(kind, inputs, expectedSpans, options);
      if (result.ok) return result.block;
      if (result.error) this.options.logger.warn({ block: options.blockId, reason: result.error }, fallback);
      return inProcess();
    });
  }

  /** Runs `job` once the job in flight has settled, as the new job in flight (one at a time). */
  private afterInFlight<T>(job: () => T | Promise<T>): Promise<T> {
    const next = this.inFlight.then(job);
    this.inFlight = next.catch(() => undefined);
    return next;
  }

  private async runNow(
    kind: EncodeJob['kind'],
    source: BlockToEncode['payloads'],
    expectedSpans: number,
    options: BlockWriteOptions & { blockId: string; nowMs: number },
  ): Promise<{ ok: true; block: EncodedBlock } | { ok: false; error?: string }> {
    if (this.closed) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the block encoder is closed');
    const worker = this.startWorker();
    if (!worker) return { ok: false };
    // Read payloads are not kept past packing: the worker gets the one copy (transferred).
    const { buffer, ranges } = packInputs(typeof source === 'function' ? await source() : source);
    const job = (id: number): EncodeJob => ({
      kind,
      id,
      buffer,
      ranges,
      expectedSpans,
      ...options,
      ...(options.replaces ? { replaces: [...options.replaces] } : {}),
    });
    const result = await this.jobs.post(worker, job, buffer);
    if (result.ok) {
      this.lastJobMemory = result.memory;
      return {
        ok: true,
        block: {
          parquet: new Uint8Array(result.parquet),
          meta: result.meta as BlockMeta,
          metaKey: result.metaKey,
        },
      };
    }
    if (this.closed) throw new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'the block encoder is closed');
    return { ok: false, error: result.error };
  }

  /** Starts the worker ahead of the first block (its start-up is not free). */
  warmUp(): void {
    this.startWorker();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.workerBroken = true;
    this.closed = true;
    this.jobs.failAll('the block encoder is closed');
    if (worker && !(await terminateWorker(worker, TERMINATE_WAIT_MS)))
      this.options.logger.warn(
        `the block encoder worker did not report its exit within ${TERMINATE_WAIT_MS} ms; left to the process exit`,
      );
  }
}
