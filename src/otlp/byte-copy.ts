/**
 * Copying a span's bytes between buffers without allocating (issue 13). `Buffer.copy` and `set(subarray)` make a
 * Uint8Array view of the source range per call on Node 20 (96 B of heap each): one per held or exported span
 * was an eighth of what the agent's byte path allocated. Through DataViews made once per buffer, a span of a few
 * hundred bytes copies in 4-byte words in about the time `Buffer.copy` takes, with nothing left to collect.
 */

/** Ranges longer than this are copied with `set` (memcpy); the view it needs is then small beside the copy. */
const WORD_COPY_MAX = 1024;

/** A DataView over exactly `buf`'s bytes. */
export function dataViewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Copies `len` bytes from `from` at `start` to `to` at `at` (ranges in bounds, else a RangeError). */
export function copyBytes(from: DataView, start: number, to: DataView, at: number, len: number): void {
  if (len > WORD_COPY_MAX) {
    // Views over a pooled ArrayBuffer would not stop at the DataViews' ends: checked here.
    if (start < 0 || at < 0 || start + len > from.byteLength || at + len > to.byteLength)
      throw new RangeError(`copyBytes: ${len} bytes from ${start} to ${at} out of range`);
    new Uint8Array(to.buffer, to.byteOffset + at, len).set(
      new Uint8Array(from.buffer, from.byteOffset + start, len),
    );
    return;
  }
  let i = 0;
  for (; i + 4 <= len; i += 4) to.setUint32(at + i, from.getUint32(start + i));
  for (; i < len; i++) to.setUint8(at + i, from.getUint8(start + i));
}
