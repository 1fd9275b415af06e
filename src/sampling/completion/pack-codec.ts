import * as zlib from 'node:zlib';

/**
 * How a full completion slab is packed on libuv's thread pool and read back (`Slabs`, session 12): zstd where
 * Node has it, else raw deflate through one long-lived zlib stream.
 */
export interface PackCodec {
  readonly name: 'zstd' | 'deflate';
  /** Packs `bytes`, which the caller leaves as they are until `done`. */
  pack(bytes: Buffer, done: (err: Error | null, out: Buffer) => void): void;
  unpack(packed: Buffer): Buffer;
}

/** The zlib stream calls a codec makes (zlib's Deflate and, on Node 22.15+, ZstdCompress). */
interface PackStream {
  write(chunk: Buffer): boolean;
  flush(kind: number, done: () => void): void;
  read(): Buffer | null;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'readable', listener: () => void): unknown;
  destroy(): unknown;
}

/** A pack waiting for the stream. */
interface Pending {
  bytes: Buffer;
  done: (err: Error | null, out: Buffer) => void;
}

/**
 * Room in a stream's buffer for a chart-sized slab's output, so that zlib seldom waits for the stream to be read.
 * A larger output (a part bigger than a slab gets a slab of its own, up to `max_bytes`) is read as it comes.
 */
const STREAM_BUFFER_BYTES = 1 << 20;

/**
 * Every slab through one long-lived zlib stream (session 16). A call per slab (`zlib.deflateRaw`,
 * `zlib.zstdCompress`) set up and tore down the compressor's state each time (for deflate about 270 KiB: window,
 * hash chains, pending output; for zstd its context and window), and with it a stream of JavaScript objects:
 * fresh memory each time, page-faulted in and unmapped again. bench/slab-pack.ts, the chart's 576 KiB slabs, 2
 * cores: deflate 2.64 -> 1.94 ms of CPU per slab (0.76x) on Node 20; on Node 24 zstd 4.05 -> 0.99 ms.
 *
 * Each slab is written and then flushed with the codec's end flush: deflate's Z_FULL_FLUSH ends its output on a
 * byte boundary and resets the window; zstd's ZSTD_e_end ends a frame. Either way a slab's packed bytes do not
 * refer to an earlier slab's and are read back on their own. One slab is in the stream at a time, so all the
 * output read until its flush is done is its own: read whenever the stream has some (a large output would
 * otherwise stop zlib until read) and at the end. On a stream error the slab in the stream and those queued behind it get
 * the error (they stay unpacked) and the next pack opens a new stream.
 */
export class StreamPackCodec implements PackCodec {
  private stream: PackStream | undefined;
  private readonly queue: Pending[] = [];
  private busy = false;
  /** The output read so far for the slab in the stream. */
  private out: Buffer[] = [];

  constructor(
    readonly name: PackCodec['name'],
    private readonly open: () => PackStream,
    private readonly endFlush: number,
    readonly unpack: (packed: Buffer) => Buffer,
  ) {}

  pack(bytes: Buffer, done: (err: Error | null, out: Buffer) => void): void {
    this.queue.push({ bytes, done });
    if (!this.busy) this.next();
  }

  private next(): void {
    const job = this.queue[0];
    if (job === undefined) {
      this.busy = false;
      return;
    }
    this.busy = true;
    const stream = (this.stream ??= this.opened());
    stream.write(job.bytes);
    stream.flush(this.endFlush, () => {
      if (this.stream !== stream) return; // failed meanwhile: `fail` answered this job
      this.queue.shift();
      this.drain(stream);
      const out = this.out.length === 1 ? (this.out[0] as Buffer) : Buffer.concat(this.out);
      this.out = [];
      job.done(null, out);
      this.next();
    });
  }

  private opened(): PackStream {
    const stream = this.open();
    stream.on('error', (err) => this.fail(stream, err));
    stream.on('readable', () => this.drain(stream));
    return stream;
  }

  private drain(stream: PackStream): void {
    if (this.stream !== stream) return;
    for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) this.out.push(chunk);
  }

  private fail(stream: PackStream, err: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.destroy();
    this.out = [];
    const jobs = this.queue.splice(0);
    this.busy = false;
    for (const job of jobs) job.done(err, Buffer.alloc(0));
  }
}

/** Raw deflate at level 1 through one stream; its output chunk `chunkSize` bytes. */
export function deflateCodec(chunkSize: number): StreamPackCodec {
  // zlib passes its options on to the stream (Node 20 and 24); @types/node's ZlibOptions omits the stream's.
  const options: zlib.ZlibOptions & { readableHighWaterMark: number } = {
    level: 1,
    chunkSize,
    readableHighWaterMark: STREAM_BUFFER_BYTES,
  };
  return new StreamPackCodec(
    'deflate',
    () => zlib.createDeflateRaw(options),
    zlib.constants.Z_FULL_FLUSH,
    (packed) => zlib.inflateRawSync(packed, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  );
}

/** Node 22.15+ and 24 (the image's runtime); the types of the Node 20 this builds against lack them. */
const zstd = zlib as unknown as {
  createZstdCompress?: (options: object) => PackStream;
  zstdDecompressSync?: (buf: Buffer) => Buffer;
  constants: { ZSTD_c_compressionLevel?: number; ZSTD_e_end?: number };
};

/**
 * zstd at level 1 through one stream, where Node has it (session 15): on Node 24 a call per slab packed a 512 KiB
 * slab of spans to 0.200 of its size against raw deflate's 0.226, and read it back in 0.27 ms against 0.66.
 * Node 20 has no zstd.
 */
export function zstdCodec(chunkSize: number): StreamPackCodec | undefined {
  const { createZstdCompress: create, zstdDecompressSync: decompress } = zstd;
  const { ZSTD_c_compressionLevel: level, ZSTD_e_end: end } = zstd.constants;
  if (create === undefined || decompress === undefined || level === undefined || end === undefined)
    return undefined;
  const options = { chunkSize, params: { [level]: 1 }, readableHighWaterMark: STREAM_BUFFER_BYTES };
  return new StreamPackCodec(
    'zstd',
    () => create(options),
    end,
    (packed) => decompress(packed),
  );
}

/**
 * The streams' output chunk: under the agent's mmap threshold (src/injector/node-heap.ts), so that the chunks,
 * which live until a slab's output is copied out of them, come from glibc's heap and not a mapping each. A
 * slab's output (about 100-130 KiB for the chart's 576 KiB slabs) spans two or three.
 */
const PACK_CHUNK_BYTES = 64 << 10;

/** zstd where Node has it (Node 22.15+, 24), else raw deflate (Node 20). */
export const PACK_CODEC: PackCodec = zstdCodec(PACK_CHUNK_BYTES) ?? deflateCodec(PACK_CHUNK_BYTES);
