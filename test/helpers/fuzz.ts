/** Seeded randomness and byte mutations for fuzz tests (mulberry32: small, fast, reproducible). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random mutation of `input`: flipped bits, changed bytes, cut, duplicated or inserted runs. */
export function mutate(input: Uint8Array, rand: () => number): Buffer {
  const buf = Buffer.from(input);
  const pick = (n: number): number => Math.floor(rand() * n);
  switch (pick(6)) {
    case 0: {
      for (let k = 0, n = 1 + pick(8); k < n; k++) {
        const i = pick(buf.length);
        buf[i] = (buf[i] as number) ^ (1 << pick(8));
      }
      return buf;
    }
    case 1: {
      for (let k = 0, n = 1 + pick(4); k < n; k++) buf[pick(buf.length)] = pick(256);
      return buf;
    }
    case 2:
      return buf.subarray(0, pick(buf.length));
    case 3: {
      const start = pick(buf.length);
      const end = Math.min(buf.length, start + 1 + pick(64));
      return Buffer.concat([buf.subarray(0, end), buf.subarray(start, end), buf.subarray(end)]);
    }
    case 4: {
      const at = pick(buf.length);
      const junk = Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256)));
      return Buffer.concat([buf.subarray(0, at), junk, buf.subarray(at)]);
    }
    default: {
      const at = pick(buf.length);
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + pick(32))]);
    }
  }
}
