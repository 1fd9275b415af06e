import { compareRows } from './block-columns.js';
import { blockRowGroupsFromBytes, readBlockBytes } from './block-reader.js';
import { BlockBuilder, encodeBlock, type BlockWriteOptions, type EncodedBlock } from './block-writer.js';
import { dedupeSpans, type StoredSpan } from './stored-span.js';

/** One input block being read a row group at a time. */
interface Cursor {
  readonly input: number;
  readonly groups: AsyncGenerator<StoredSpan[]>;
  rows: StoredSpan[];
  at: number;
}

/** Thrown when an input block's rows are not in block order, so a k-way merge cannot take them as they come. */
class UnsortedInput extends Error {}

/** Min-heap of cursors by their current row (block order), ties by input index, so the first input wins. */
function before(a: Cursor, b: Cursor): boolean {
  const c = compareRows(a.rows[a.at]!, b.rows[b.at]!);
  return c < 0 || (c === 0 && a.input < b.input);
}

function siftDown(heap: Cursor[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
    if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
    if (m === i) return;
    [heap[i], heap[m]] = [heap[m]!, heap[i]!];
    i = m;
  }
}

function siftUp(heap: Cursor[], i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(heap[i]!, heap[p]!)) return;
    [heap[i], heap[p]] = [heap[p]!, heap[i]!];
    i = p;
  }
}

/** Moves a cursor to its next row; false when its block is done. */
async function advance(cursor: Cursor): Promise<boolean> {
  const last = cursor.rows[cursor.at];
  cursor.at++;
  while (cursor.at >= cursor.rows.length) {
    const next = await cursor.groups.next();
    if (next.done) return false;
    cursor.rows = next.value;
    cursor.at = 0;
  }
  if (last && compareRows(last, cursor.rows[cursor.at]!) > 0) throw new UnsortedInput();
  return true;
}

/**
 * Merges whole Parquet blocks into one (compaction), de-duplicated by (trace id, span id): a k-way merge of
 * the inputs, which are in block order already (trace id, start time, span id), read a row group at a time and
 * written a row group at a time. What it holds is one row group per input and one of output, not every row of
 * every input (decoding the inputs whole took about 1.1 KB of heap per span: 1.1 GB for compaction's largest
 * merge, BENCHMARKS.md "Admission estimate"). Duplicates are adjacent in this order; the first input's copy is
 * kept, as `dedupeSpans` keeps the first. An input not in block order (not written by encodeBlock) is merged
 * the old way: decoded whole, de-duplicated and sorted.
 */
export async function mergeBlocks(
  inputs: readonly Uint8Array[],
  options: BlockWriteOptions,
  mark?: (phase: string) => void,
): Promise<EncodedBlock> {
  try {
    return await kWayMerge(inputs, options, mark);
  } catch (err) {
    if (!(err instanceof UnsortedInput)) throw err;
    const rows: StoredSpan[] = [];
    for (const b of inputs) for (const r of await readBlockBytes(b, 'merge input')) rows.push(r);
    return encodeBlock(dedupeSpans(rows), options, mark);
  }
}

async function kWayMerge(
  inputs: readonly Uint8Array[],
  options: BlockWriteOptions,
  mark?: (phase: string) => void,
): Promise<EncodedBlock> {
  const heap: Cursor[] = [];
  for (let input = 0; input < inputs.length; input++) {
    const cursor: Cursor = {
      input,
      groups: blockRowGroupsFromBytes(inputs[input]!, `merge input ${input}`),
      rows: [],
      at: -1,
    };
    if (await advance(cursor)) {
      heap.push(cursor);
      siftUp(heap, heap.length - 1);
    }
  }
  mark?.('opened');
  const builder = new BlockBuilder(options);
  let out: StoredSpan[] = [];
  let traceId: string | undefined;
  const spanIds = new Set<string>();
  let marked = false;
  while (heap.length > 0) {
    const top = heap[0]!;
    const row = top.rows[top.at]!;
    if (row.span.traceId !== traceId) {
      traceId = row.span.traceId;
      spanIds.clear();
    }
    if (!spanIds.has(row.span.spanId)) {
      spanIds.add(row.span.spanId);
      out.push(row);
      if (out.length === builder.rowGroupSize) {
        builder.add(out);
        out = [];
        if (!marked) {
          mark?.('first row group');
          marked = true;
        }
      }
    }
    if (await advance(top)) siftDown(heap, 0);
    else {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        siftDown(heap, 0);
      }
    }
  }
  builder.add(out);
  mark?.('written');
  return builder.finish();
}
