/**
 * A bloom filter over trace ids: the trace-id index of a block's meta. About 9.6 bits per trace for a 1 %
 * false-positive rate, so a meta stays small (120 KB for 100,000 traces) while a lookup over 1,000
 * blocks opens only the few whose filter may hold the id.
 */
export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  readonly data: Uint8Array;

  constructor(bits: number, hashes: number, data?: Uint8Array) {
    this.bits = Math.max(8, Math.ceil(bits / 8) * 8);
    this.hashes = Math.max(1, hashes);
    this.data = data ?? new Uint8Array(this.bits / 8);
    if (this.data.length * 8 !== this.bits)
      throw new RangeError('bloom filter: data length does not match bits');
  }

  /** A filter sized for `n` items at false-positive rate `p`. */
  static forCount(n: number, p = 0.01): BloomFilter {
    const count = Math.max(1, n);
    // At least 512 bits: in a tiny filter the k positions of a few keys fill it far beyond the formula's rate
    // (1.5 % instead of 0.1 % at 2 keys in 32 bits).
    const bits = Math.max(512, Math.ceil((-count * Math.log(p)) / (Math.LN2 * Math.LN2)));
    const hashes = Math.min(16, Math.max(1, Math.round((bits / count) * Math.LN2)));
    return new BloomFilter(bits, hashes);
  }

  add(key: string): void {
    const [h1, h2] = hashPair(key);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const idx = bit % this.bits;
      this.data[idx >>> 3]! |= 1 << (idx & 7);
    }
  }

  /** False means certainly absent; true means maybe present. */
  mayContain(key: string): boolean {
    const [h1, h2] = hashPair(key);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const idx = bit % this.bits;
      if ((this.data[idx >>> 3]! & (1 << (idx & 7))) === 0) return false;
    }
    return true;
  }

  toJSON(): { bits: number; hashes: number; data: string } {
    return { bits: this.bits, hashes: this.hashes, data: Buffer.from(this.data).toString('base64') };
  }

  static fromJSON(json: { bits: number; hashes: number; data: string }): BloomFilter {
    return new BloomFilter(json.bits, json.hashes, new Uint8Array(Buffer.from(json.data, 'base64')));
  }
}

/** Two independent 32-bit FNV-1a hashes (different offsets), for double hashing (Kirsch–Mitzenmacher). */
function hashPair(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  // Final avalanche (murmur3 fmix32) so that similar ids spread out.
  return [fmix(a) >>> 0, (fmix(b) | 1) >>> 0];
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
