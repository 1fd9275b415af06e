import * as zlib from 'node:zlib';

/**
 * One queued batch on disk: a fixed header, then the batch as an OTLP ExportTraceServiceRequest in protobuf.
 *
 *   offset 0  4 bytes  magic "SNQ1"
 *   offset 4  u32 BE   payload length
 *   offset 8  u32 BE   CRC-32 (IEEE) of the payload
 *   offset 12 u32 BE   span count
 *   offset 16 u32 BE   estimated heap bytes of the decoded batch (the memory budget's unit)
 *   offset 20 payload
 *
 * A file whose length, magic or checksum does not match is a partly written or corrupt record.
 */
export const RECORD_MAGIC = 0x534e5131; // "SNQ1"
export const RECORD_HEADER_BYTES = 20;

export interface QueueRecordHeader {
  readonly payloadBytes: number;
  readonly crc: number;
  readonly spanCount: number;
  readonly modelBytes: number;
}

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (IEEE): zlib's native one where Node has it (20.15+), else a table. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  let c = -1;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** The header and payload of one record, ready to write. */
export function encodeRecord(payload: Uint8Array, spanCount: number, modelBytes: number): Buffer[] {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  header.writeUInt32BE(RECORD_MAGIC, 0);
  header.writeUInt32BE(payload.byteLength, 4);
  header.writeUInt32BE(crc32(payload), 8);
  header.writeUInt32BE(Math.min(spanCount, 0xffffffff), 12);
  header.writeUInt32BE(Math.min(Math.ceil(modelBytes), 0xffffffff), 16);
  return [header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)];
}

/** Reads a header; a string says what is wrong with it. */
export function parseRecordHeader(header: Uint8Array, fileBytes: number): QueueRecordHeader | string {
  if (header.byteLength < RECORD_HEADER_BYTES) return `short header (${header.byteLength} bytes)`;
  const b = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (b.readUInt32BE(0) !== RECORD_MAGIC) return 'bad magic';
  const payloadBytes = b.readUInt32BE(4);
  if (RECORD_HEADER_BYTES + payloadBytes !== fileBytes)
    return `length ${RECORD_HEADER_BYTES + payloadBytes} in the header, ${fileBytes} bytes in the file`;
  return {
    payloadBytes,
    crc: b.readUInt32BE(8),
    spanCount: b.readUInt32BE(12),
    modelBytes: b.readUInt32BE(16),
  };
}

/** The payload of a whole record file, or a string naming what is wrong. */
export function decodeRecord(file: Uint8Array): { header: QueueRecordHeader; payload: Uint8Array } | string {
  const header = parseRecordHeader(file.subarray(0, RECORD_HEADER_BYTES), file.byteLength);
  if (typeof header === 'string') return header;
  const payload = file.subarray(RECORD_HEADER_BYTES);
  if (crc32(payload) !== header.crc) return 'checksum mismatch';
  return { header, payload };
}
