/**
 * The completion buffer's slabs (src/sampling/completion/slabs.ts) on their own: what a packed slab keeps alive.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import {
  deflateCodec,
  PACK_CODEC,
  zstdCodec,
  type StreamPackCodec,
} from '../src/sampling/completion/pack-codec.js';
import { Slabs } from '../src/sampling/completion/slabs.js';

const SLAB = 64 << 10;

/** Writes `parts` (each placed whole) and returns each part's slab and offset. */
function fill(slabs: Slabs, parts: Buffer[]): Array<[number, number]> {
  return parts.map((part) => {
    slabs.place(part.length);
    const s = slabs.placed;
    const view = slabs.view(s);
    for (let k = 0; k < part.length; k++) view.setUint8(slabs.placedOffset + k, part[k] as number);
    slabs.wrote(s);
    return [s, slabs.placedOffset];
  });
}

/** 4 KiB parts: text that deflates about 20x, or half random bytes (about 2x). */
function parts(count: number, random: boolean): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const part = Buffer.alloc(4096, `part ${i} of the trace, service checkout, GET /api/orders `);
    if (random) for (let k = 0; k < part.length; k += 2) part[k] = randomBytes(1)[0] as number;
    return part;
  });
}

for (const random of [false, true]) {
  test(`a packed slab keeps only its packed bytes alive (${random ? 'half random bytes' : 'text'})`, async () => {
    const slabs = new Slabs(SLAB, true);
    // Six slabs' worth: five sealed and packed, one being filled.
    const written = parts(6 * 16, random);
    const placed = fill(slabs, written);
    await slabs.packsDone();
    const packs = slabs.packStats;
    assert.equal(packs.slabs, 5);
    const ratio = packs.bytes / (5 * SLAB);
    assert.ok(random ? ratio > 1 / 3 && ratio < 0.875 : ratio < 0.1, `packed to ${ratio.toFixed(3)}`);
    assert.equal(packs.retainedBytes, packs.bytes);
    for (const i of [0, 17, 40, 79]) {
      const [s, offset] = placed[i] as [number, number];
      assert.deepEqual(slabs.bytesOf(s).subarray(offset, offset + 4096), written[i], `part ${i}`);
    }
  });
}

void test('full slabs pack with zstd where Node has it (Node 24), else raw deflate, and read back the same', async () => {
  const hasZstd = typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function';
  assert.equal(PACK_CODEC.name, hasZstd ? 'zstd' : 'deflate');
  const bytes = Buffer.alloc(256 * 1024);
  for (let i = 0; i < bytes.length; i += 64) randomBytes(16).copy(bytes, i);
  const packed = await new Promise<Buffer>((resolve, reject) =>
    PACK_CODEC.pack(bytes, (err, out) => (err ? reject(err) : resolve(out))),
  );
  assert.ok(packed.length < bytes.length / 2, `${packed.length} packed bytes`);
  assert.deepEqual(PACK_CODEC.unpack(packed), bytes);
});

/** `n` slab-like buffers: span-shaped text with random ids, each different. */
function slabLike(n: number, size: number): Buffer[] {
  return Array.from({ length: n }, (_, k) => {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i += 280) {
      b.write(`service.name checkout-${k} http.route /api/v1/items/{id} status ${i % 7}`, i);
      randomBytes(24).copy(b, Math.min(i + 100, size - 24));
    }
    return b;
  });
}

const packWith = (codec: StreamPackCodec, bytes: Buffer) =>
  new Promise<Buffer>((resolve, reject) =>
    codec.pack(bytes, (err, out) => (err ? reject(err) : resolve(out))),
  );

/** Each stream codec this Node has: raw deflate always, zstd on Node 22.15+ (CI runs both runtimes). */
const streamCodecs: Array<[string, (chunkSize: number) => StreamPackCodec | undefined]> = [
  ['deflate', deflateCodec],
  ['zstd', zstdCodec],
];

for (const [name, make] of streamCodecs) {
  const skip = make(16 << 10) === undefined ? `no ${name} in Node ${process.version}` : false;

  void test(
    `one ${name} stream packs every slab, and each packed slab reads back on its own, in any order`,
    { skip },
    async () => {
      const codec = make(16 << 10) as StreamPackCodec;
      const slabs = slabLike(12, 200 * 1024);
      // All queued at once (as full slabs seal during a burst), then more after the first are done.
      const packed = await Promise.all(slabs.slice(0, 8).map((b) => packWith(codec, b)));
      packed.push(...(await Promise.all(slabs.slice(8).map((b) => packWith(codec, b)))));
      for (const i of [11, 3, 0, 7, 5, 10, 1, 9, 2, 8, 4, 6]) {
        const p = packed[i] as Buffer;
        assert.ok(p.length < (slabs[i] as Buffer).length / 2, `slab ${i}: ${p.length} packed bytes`);
        assert.deepEqual(codec.unpack(p), slabs[i], `slab ${i}`);
      }
      // What one slab packs to does not depend on the slabs before it: each starts afresh.
      assert.deepEqual(await packWith(make(16 << 10) as StreamPackCodec, slabs[5] as Buffer), packed[5]);
    },
  );

  void test(
    `one ${name} stream packs a part larger than its buffer (a slab of its own) and goes on`,
    { skip, timeout: 30_000 },
    async () => {
      const codec = make(16 << 10) as StreamPackCodec;
      // Random bytes do not pack: more output than the stream buffers (1 MiB) before it is read.
      const big = randomBytes(6 << 20);
      const [after] = slabLike(1, 64 * 1024) as [Buffer];
      const [packedBig, packedAfter] = await Promise.all([packWith(codec, big), packWith(codec, after)]);
      assert.ok(packedBig.length > 4 << 20, `${packedBig.length} packed bytes`);
      assert.deepEqual(codec.unpack(packedBig), big);
      assert.deepEqual(codec.unpack(packedAfter), after);
    },
  );

  void test(
    `a ${name} stream that fails answers its slabs with the error, and the next pack opens a new one`,
    { skip },
    async () => {
      const codec = make(16 << 10) as StreamPackCodec;
      const [a, b, c] = slabLike(3, 64 * 1024) as [Buffer, Buffer, Buffer];
      assert.deepEqual(codec.unpack(await packWith(codec, a)), a);
      const first = packWith(codec, b);
      const second = packWith(codec, c);
      // The stream in use fails (as zlib would on a broken state).
      const stream = (codec as unknown as { stream: NodeJS.EventEmitter }).stream;
      stream.emit('error', new Error('zlib broke'));
      await assert.rejects(first, /zlib broke/);
      await assert.rejects(second, /zlib broke/);
      assert.deepEqual(codec.unpack(await packWith(codec, c)), c);
    },
  );
}
