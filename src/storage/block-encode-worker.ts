/**
 * The block encoder's worker thread: decodes OTLP requests (protobuf) and encodes them as one block, off the
 * main thread (a 100,000-span block is seconds of CPU that would otherwise stall receivers and queries).
 * Imports only what encoding needs, so the worker starts quickly. The Parquet bytes travel back transferred.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { decodeTraceRequest } from '../otlp/index.js';
import { mergeBlocks } from './block-merge.js';
import { encodeBlock, type BlockWriteOptions } from './block-writer.js';
import type { BlockCodec } from './parquet-codec.js';
import { flattenTraceData, type StoredSpan } from './stored-span.js';

/**
 * A request to the worker: inputs packed in one buffer, `[start, end)` each. `encode`: OTLP protobuf
 * requests become one block. `merge` (compaction): whole Parquet blocks become one, de-duplicated by span id.
 */
export interface EncodeJob {
  readonly kind: 'encode' | 'merge';
  readonly id: number;
  /** Emptied by the worker once decoded (the segment's bytes are not needed while its rows are encoded). */
  buffer: ArrayBuffer;
  readonly ranges: readonly (readonly [number, number])[];
  readonly expectedSpans: number;
  readonly blockId: string;
  readonly nowMs: number;
  readonly rowGroupSize?: number;
  readonly codec?: BlockCodec;
  readonly replaces?: readonly string[];
  readonly compactionLevel?: number;
}

/** The worker's memory at one phase of a job (its own isolate; `rss` is the whole process's). */
export interface EncodePhaseMemory {
  readonly phase: string;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}

function phaseMemory(phase: string): EncodePhaseMemory {
  const m = process.memoryUsage();
  return {
    phase,
    heapUsed: getHeapStatistics().used_heap_size,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    rss: m.rss,
  };
}

/** The worker's answer: the encoded block, or why it could not (the caller then encodes in-process). */
export type EncodeResult =
  | {
      readonly id: number;
      readonly ok: true;
      readonly parquet: ArrayBuffer;
      readonly meta: unknown;
      readonly metaKey: string;
      readonly memory: readonly EncodePhaseMemory[];
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

async function run(job: EncodeJob): Promise<EncodeResult> {
  const memory = [phaseMemory('input')];
  const mark = (phase: string) => memory.push(phaseMemory(phase));
  let bytes = new Uint8Array(job.buffer);
  const options: BlockWriteOptions = {
    blockId: job.blockId,
    nowMs: job.nowMs,
    ...(job.rowGroupSize !== undefined ? { rowGroupSize: job.rowGroupSize } : {}),
    ...(job.codec !== undefined ? { codec: job.codec } : {}),
    ...(job.replaces !== undefined ? { replaces: job.replaces } : {}),
    ...(job.compactionLevel !== undefined ? { compactionLevel: job.compactionLevel } : {}),
  };
  let block;
  if (job.kind === 'merge') {
    block = await mergeBlocks(
      job.ranges.map(([start, end]) => bytes.subarray(start, end)),
      options,
      mark,
    );
  } else {
    const rows: StoredSpan[] = [];
    for (const [start, end] of job.ranges)
      flattenTraceData(decodeTraceRequest(bytes.subarray(start, end)), rows);
    if (rows.length !== job.expectedSpans) {
      return {
        id: job.id,
        ok: false,
        error: `the payloads hold ${rows.length} spans, expected ${job.expectedSpans}`,
      };
    }
    bytes = new Uint8Array(0);
    job.buffer = bytes.buffer;
    mark('decoded');
    block = encodeBlock(rows, options, mark);
  }
  const p = block.parquet;
  // encodeBlock's bytes own their whole buffer: transferred as they are, not copied.
  const parquet = (
    p.byteOffset === 0 && p.byteLength === p.buffer.byteLength
      ? p.buffer
      : p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength)
  ) as ArrayBuffer;
  memory.push(phaseMemory('encoded'));
  return { id: job.id, ok: true, parquet, meta: block.meta, metaKey: block.metaKey, memory };
}

// One job at a time: a merge awaits between row groups, and two jobs interleaved would hold both at once.
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (job: EncodeJob) => {
  queue = queue.then(() =>
    run(job).then(
      (result) => parentPort!.postMessage(result, result.ok ? [result.parquet] : []),
      (err: unknown) =>
        parentPort!.postMessage({
          id: job.id,
          ok: false,
          error: (err as Error).message,
        } satisfies EncodeResult),
    ),
  );
});
