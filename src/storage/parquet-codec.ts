import { gunzipSync, gzipSync, constants as zc } from 'node:zlib';
import type { CompressionCodec } from 'hyparquet';

/** Codecs a block may be written with; GZIP through node:zlib, SNAPPY built into hyparquet(-writer). */
export type BlockCodec = 'GZIP' | 'SNAPPY' | 'UNCOMPRESSED';

/** The default codec; see docs/ARCHITECTURE.md "storage: Parquet library and codec" for the measurement. */
export const DEFAULT_BLOCK_CODEC: BlockCodec = 'GZIP';

/** Compressors for hyparquet-writer (gzip level 6: zlib's default, the best bytes/CPU trade here). */
export const blockCompressors = {
  GZIP: (input: Uint8Array): Uint8Array => gzipSync(input, { level: zc.Z_DEFAULT_COMPRESSION }),
};

/** Decompressors for hyparquet (it knows SNAPPY itself). */
export const blockDecompressors: Partial<
  Record<CompressionCodec, (input: Uint8Array, outputLength: number) => Uint8Array>
> = {
  GZIP: (input: Uint8Array): Uint8Array => gunzipSync(input),
};
