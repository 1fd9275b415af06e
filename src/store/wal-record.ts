/**
 * A WAL segment's record format: an 8-byte header (payload length, CRC-32 of the payload, little-endian) and
 * the payload. Read by the WAL's replay, the block pipeline and `sentinel quarantine`; written by the WAL.
 */
import { crc32 } from 'node:zlib';

/** Bytes before each record's payload. */
export const RECORD_HEADER = 8;

/** One record of a segment file, or where reading had to stop. */
export type WalRecordEvent =
  { kind: 'record'; payload: Uint8Array; offset: number } | { kind: 'corrupt'; offset: number };

/**
 * The records of a segment file, in order. Stops silently at a torn tail (a write that was never
 * acknowledged) and with a `corrupt` event at a record that fails its CRC-32.
 */
export function* readWalRecords(buf: Uint8Array): Generator<WalRecordEvent> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  while (pos + RECORD_HEADER <= buf.length) {
    const len = view.getUint32(pos, true);
    const sum = view.getUint32(pos + 4, true);
    if (pos + RECORD_HEADER + len > buf.length) return;
    const payload = buf.subarray(pos + RECORD_HEADER, pos + RECORD_HEADER + len);
    if (crc32(payload) !== sum) {
      yield { kind: 'corrupt', offset: pos };
      return;
    }
    yield { kind: 'record', payload, offset: pos };
    pos += RECORD_HEADER + len;
  }
}
