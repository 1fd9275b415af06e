/**
 * The completion buffer's slabs (src/sampling/completion/slabs.ts) on their own: what a packed slab keeps alive.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { PACK_CODEC, Slabs } from '../src/sampling/completion/slabs.js';

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

/** 4 KiB parts: text that deflates about 20x, or half random bytes (about 2x: more than one zlib chunk). */
function parts(count: number, random: boolean): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const part = Buffer.alloc(4096, `part ${i} of the trace, service checkout, GET /api/orders `);
    if (random) for (let k = 0; k < part.length; k += 2) part[k] = randomBytes(1)[0] as number;
    return part;
  });
}

for (const random of [false, true]) {
  test(`a packed slab keeps only its packed bytes alive (${random ? 'packed in several zlib chunks' : 'one chunk'})`, async () => {
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
    PACK_CODEC.pack(bytes, 96 * 1024, (err, out) => (err ? reject(err) : resolve(out))),
  );
  assert.ok(packed.length < bytes.length / 2, `${packed.length} packed bytes`);
  assert.deepEqual(PACK_CODEC.unpack(packed), bytes);
});
