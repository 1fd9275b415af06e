/**
 * The logs encoder's worker thread (issue 16): decodes a logs WAL segment's ExportLogsServiceRequests, drops what
 * validation refuses, and encodes one logs block, off the main thread (50,000 records are about 1.7 s of CPU on a
 * shared core, bench/store-logs.ts). The Parquet bytes travel back transferred.
 */
import { parentPort } from 'node:worker_threads';
import { encodeLogsPayloads, type LogsBlockWriteOptions } from './logs-block.js';

/** A request to the worker: the segment's payloads packed in one buffer, `[start, end)` each. */
export interface LogsEncodeJob extends LogsBlockWriteOptions {
  readonly id: number;
  readonly buffer: ArrayBuffer;
  readonly ranges: readonly (readonly [number, number])[];
  readonly blockId: string;
  readonly nowMs: number;
}

/** The worker's answer: the encoded block (undefined when no record is valid), or why it could not. */
export type LogsEncodeResult =
  | {
      readonly id: number;
      readonly ok: true;
      readonly records: number;
      readonly block?: { readonly parquet: ArrayBuffer; readonly meta: unknown; readonly metaKey: string };
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

parentPort?.on('message', (job: LogsEncodeJob) => {
  let result: LogsEncodeResult;
  const transfer: ArrayBuffer[] = [];
  try {
    const bytes = new Uint8Array(job.buffer);
    const { id: _id, buffer: _buffer, ranges, ...options } = job;
    const { records, block } = encodeLogsPayloads(
      ranges.map(([start, end]) => bytes.subarray(start, end)),
      options,
    );
    if (block) {
      const parquet = block.parquet.buffer.slice(
        block.parquet.byteOffset,
        block.parquet.byteOffset + block.parquet.byteLength,
      ) as ArrayBuffer;
      transfer.push(parquet);
      result = {
        id: job.id,
        ok: true,
        records,
        block: { parquet, meta: block.meta, metaKey: block.metaKey },
      };
    } else result = { id: job.id, ok: true, records };
  } catch (err) {
    result = { id: job.id, ok: false, error: (err as Error).message };
  }
  parentPort!.postMessage(result, transfer);
});
