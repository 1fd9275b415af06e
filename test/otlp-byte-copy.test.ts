import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual, copyBytes, dataViewOf } from '../src/otlp/index.js';

describe('copyBytes (issue 13)', () => {
  it('copies every length and alignment as Buffer.copy does, word loop and memcpy alike, views of pooled buffers too', () => {
    // A source that is a view into a larger pool (byteOffset not 0), as request buffers often are.
    const pool = Buffer.alloc(4000);
    for (let i = 0; i < pool.length; i++) pool[i] = (i * 131 + 7) & 0xff;
    const src = pool.subarray(3, 3900);
    const from = dataViewOf(src);
    for (const len of [0, 1, 2, 3, 4, 5, 7, 8, 9, 279, 1023, 1024, 1025, 3000])
      for (const start of [0, 1, 2, 3, 5]) {
        const at = (len + start) % 7;
        const want = Buffer.alloc(3900, 0xee);
        src.copy(want, at, start, start + len);
        const got = Buffer.alloc(3900, 0xee);
        copyBytes(from, start, dataViewOf(got), at, len);
        assert.deepEqual(got, want, `len ${len} start ${start} at ${at}`);
      }
  });

  it('refuses a range past either end rather than writing short', () => {
    const src = dataViewOf(Buffer.alloc(10));
    assert.throws(() => copyBytes(src, 8, dataViewOf(Buffer.alloc(100)), 0, 4), RangeError);
    assert.throws(() => copyBytes(src, 0, dataViewOf(Buffer.alloc(3)), 0, 4), RangeError);
    // Past the end of a view into a pool, on the memcpy path: refused, the pool's next bytes untouched.
    const pool = Buffer.alloc(5000, 1);
    const big = dataViewOf(Buffer.alloc(3000, 2));
    assert.throws(() => copyBytes(big, 0, dataViewOf(pool.subarray(0, 2000)), 0, 2500), RangeError);
    assert.equal(pool[2100], 1);
    assert.throws(() => copyBytes(dataViewOf(pool.subarray(0, 2000)), 0, big, 0, 2500), RangeError);
  });
});

describe('bytesEqual (session 13: native compare from 48 bytes)', () => {
  it('answers as Buffer.equals for every length around the switch, one byte differing anywhere, views at offsets', () => {
    const pool = Buffer.alloc(1200);
    for (let i = 0; i < pool.length; i++) pool[i] = (i * 131 + 7) & 0xff;
    for (const len of [0, 1, 7, 46, 47, 48, 49, 63, 64, 400, 1000]) {
      const start = 5;
      const want = new Uint8Array(pool.subarray(start, start + len)); // a copy, not a Buffer
      assert.equal(bytesEqual(pool, start, start + len, want), true, `${len}: equal`);
      assert.equal(bytesEqual(pool, start, start + len + 1, want), false, `${len}: longer range`);
      if (len > 0) assert.equal(bytesEqual(pool, start + 1, start + len, want), false, `${len}: shorter`);
      for (const at of len > 0 ? [0, len >> 1, len - 1] : []) {
        const other = Uint8Array.from(want);
        other[at] = (other[at]! + 1) & 0xff;
        assert.equal(bytesEqual(pool, start, start + len, other), false, `${len}: byte ${at} differs`);
        assert.equal(bytesEqual(other, 0, len, want), Buffer.from(other).equals(Buffer.from(want)));
      }
    }
  });
});
