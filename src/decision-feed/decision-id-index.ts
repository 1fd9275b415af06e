/**
 * The decision feed's de-dup index: which retained seq holds a given 16-byte id. An open-addressing table
 * of seqs (linear probing, backward-shift deletion) whose keys live in the log's own record buffers, so an
 * entry costs 8 bytes per slot instead of a string and a Set entry (~50 B): a full default feed (262,144
 * entries) keeps its de-dup set in 4 MiB.
 */
export class DecisionIdIndex {
  /** seq + 1 per slot; 0 is empty. Float64 holds any seq exactly (up to 2^53). */
  private readonly slots: Float64Array;
  private readonly mask: number;
  private readonly locate: (seq: number) => { buf: Buffer; offset: number };
  private count = 0;

  /**
   * @param capacity most ids held at once; the table keeps its load under 5/8.
   * @param locate where the id of `seq` is (its record in the log's buffers).
   */
  constructor(capacity: number, locate: (seq: number) => { buf: Buffer; offset: number }) {
    let size = 16;
    while (size * 5 < capacity * 8) size *= 2;
    this.slots = new Float64Array(size);
    this.mask = size - 1;
    this.locate = locate;
  }

  get size(): number {
    return this.count;
  }

  /** The seq holding the id at `buf[offset, offset + 16)`, or undefined. */
  find(buf: Buffer, offset: number): number | undefined {
    for (let i = hashId(buf, offset) & this.mask; ; i = (i + 1) & this.mask) {
      const v = this.slots[i]!;
      if (v === 0) return undefined;
      const at = this.locate(v - 1);
      if (sameId(buf, offset, at.buf, at.offset)) return v - 1;
    }
  }

  /** Adds `seq`, whose id (read through `locate`) is not in the index yet. */
  add(seq: number): void {
    if ((this.count + 1) * 8 > this.slots.length * 5) throw new RangeError('decision id index is full');
    const at = this.locate(seq);
    let i = hashId(at.buf, at.offset) & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    this.slots[i] = seq + 1;
    this.count++;
  }

  /** Removes `seq` (no-op when absent). */
  delete(seq: number): void {
    const at = this.locate(seq);
    let i = hashId(at.buf, at.offset) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const v = this.slots[i]!;
      if (v === 0) return;
      if (v === seq + 1) break;
    }
    this.count--;
    // Backward-shift deletion: move later entries of the probe run into the hole when their home allows it.
    for (let j = i; ;) {
      this.slots[i] = 0;
      for (;;) {
        j = (j + 1) & this.mask;
        const v = this.slots[j]!;
        if (v === 0) return;
        const a = this.locate(v - 1);
        const home = hashId(a.buf, a.offset) & this.mask;
        // The entry at j may move to i unless its home lies cyclically in (i, j].
        const stays = i <= j ? i < home && home <= j : i < home || home <= j;
        if (!stays) {
          this.slots[i] = v;
          i = j;
          break;
        }
      }
    }
  }
}

/** Trace ids are random (W3C Trace Context), but mix all four words so that crafted ids still spread. */
function hashId(buf: Buffer, o: number): number {
  let h = Math.imul(buf.readUInt32LE(o), 0x9e3779b1);
  h = Math.imul(h ^ buf.readUInt32LE(o + 4), 0x85ebca6b);
  h = Math.imul(h ^ buf.readUInt32LE(o + 8), 0xc2b2ae35);
  h = Math.imul(h ^ buf.readUInt32LE(o + 12), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

function sameId(a: Buffer, ao: number, b: Buffer, bo: number): boolean {
  return (
    a.readUInt32LE(ao) === b.readUInt32LE(bo) &&
    a.readUInt32LE(ao + 4) === b.readUInt32LE(bo + 4) &&
    a.readUInt32LE(ao + 8) === b.readUInt32LE(bo + 8) &&
    a.readUInt32LE(ao + 12) === b.readUInt32LE(bo + 12)
  );
}
