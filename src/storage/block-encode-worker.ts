/**
 * The block encoder's worker thread: decodes OTLP requests (protobuf) and encodes them as one block, off the
 * main thread (a 100,000-span block is seconds of CPU that would otherwise stall receivers and queries).
 * Imports only what encoding needs, so the worker starts quickly. The Parquet bytes travel back transferred.
 */
import { parentPort } from 'node:worker_threads';
import { decodeTraceRequest } from '../otlp/index.js';
import { readBlockBytes } from './block-reader.js';
import { encodeBlock, type BlockWriteOptions } from './block-writer.js';
import type { BlockCodec } from './parquet-codec.js';
import { dedupeSpans, flattenTraceData, type StoredSpan } from './stored-span.js';

/**
 * A request to the worker: inputs packed in one buffer, `[start, end)` each. `encode`: OTLP protobuf
 * requests become one block. `merge` (compaction): whole Parquet blocks become one, de-duplicated by span id.
 */
export interface EncodeJob {
  readonly kind: 'encode' | 'merge';
  readonly id: number;
  readonly buffer: ArrayBuffer;
  readonly ranges: readonly (readonly [number, number])[];
  readonly expectedSpans: number;
  readonly blockId: string;
  readonly nowMs: number;
  readonly rowGroupSize?: number;
  readonly codec?: BlockCodec;
  readonly replaces?: readonly string[];
  readonly compactionLevel?: number;
}

/** The worker's answer: the encoded block, or why it could not (the caller then encodes in-process). */
export type EncodeResult =
  | {
      readonly id: number;
      readonly ok: true;
      readonly parquet: ArrayBuffer;
      readonly meta: unknown;
      readonly metaKey: string;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

async function run(job: EncodeJob): Promise<EncodeResult> {
  const bytes = new Uint8Array(job.buffer);
  let rows: StoredSpan[] = [];
  if (job.kind === 'merge') {
    for (const [start, end] of job.ranges)
      rows.push(...(await readBlockBytes(bytes.subarray(start, end), 'merge input')));
    rows = dedupeSpans(rows);
  } else {
    for (const [start, end] of job.ranges)
      flattenTraceData(decodeTraceRequest(bytes.subarray(start, end)), rows);
    if (rows.length !== job.expectedSpans) {
      return {
        id: job.id,
        ok: false,
        error: `the payloads hold ${rows.length} spans, expected ${job.expectedSpans}`,
      };
    }
  }
  const options: BlockWriteOptions = {
    blockId: job.blockId,
    nowMs: job.nowMs,
    ...(job.rowGroupSize !== undefined ? { rowGroupSize: job.rowGroupSize } : {}),
    ...(job.codec !== undefined ? { codec: job.codec } : {}),
    ...(job.replaces !== undefined ? { replaces: job.replaces } : {}),
    ...(job.compactionLevel !== undefined ? { compactionLevel: job.compactionLevel } : {}),
  };
  const block = encodeBlock(rows, options);
  const parquet = block.parquet.buffer.slice(
    block.parquet.byteOffset,
    block.parquet.byteOffset + block.parquet.byteLength,
  ) as ArrayBuffer;
  return { id: job.id, ok: true, parquet, meta: block.meta, metaKey: block.metaKey };
}

parentPort?.on('message', (job: EncodeJob) => {
  run(job).then(
    (result) => parentPort!.postMessage(result, result.ok ? [result.parquet] : []),
    (err: unknown) =>
      parentPort!.postMessage({
        id: job.id,
        ok: false,
        error: (err as Error).message,
      } satisfies EncodeResult),
  );
});
