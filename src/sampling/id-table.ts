import { grow, grownRows, INITIAL_ROWS, NONE } from './rows.js';

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i;

/**
 * Trace id -> row for the trace buffer (issue 13), without a string or a Map entry per trace: an id as the
 * scanners give it (16 bytes as 32 lower-case hex digits) is kept as four 32-bit words in the row's columns and
 * found through an open-addressing table (linear probing, backward-shift deletion, at most half full) of row
 * numbers. Measured (Node 20): a Map from the id strings costs 85 B per trace (the string 51, the entry 34) and
 * gives the GC one more object per trace to mark; this table, 24-32 B in typed arrays (the four words, and two to
 * four 4-byte slots; a row's hash is not kept but made again from its words when its slot is placed or shifted,
 * 4 B less per id). The id string is made again from the words when asked (once per decision). Any other id (not from a scanner: tests, embeddings) is
 * kept as it is in a Map beside the table, so every string still finds its own row.
 */
export class IdTable {
  /** Per row: the id's four words. */
  private words = new Int32Array(4 * INITIAL_ROWS);
  /** Row + 1 per slot, 0 when empty. */
  private slots = new Int32Array(2 * INITIAL_ROWS);
  private count = 0;
  /** Ids that are not 32 lower-case hex digits, and the rows' of them. */
  private readonly odd = new Map<string, number>();
  private readonly oddIds = new Map<number, string>();
  private readonly scratch = Buffer.alloc(16);
  private k0 = 0;
  private k1 = 0;
  private k2 = 0;
  private k3 = 0;
  /** The id the key words were last parsed from. */
  private lastParsed: string | undefined;

  get size(): number {
    return this.count + this.odd.size;
  }

  /** The row of `id`, or NONE. */
  find(id: string): number {
    if (!this.parse(id)) return this.odd.get(id) ?? NONE;
    const slots = this.slots;
    const mask = slots.length - 1;
    const w = this.words;
    for (let i = hash(this.k0, this.k1, this.k2, this.k3) & mask; ; i = (i + 1) & mask) {
      const s = slots[i] as number;
      if (s === 0) return NONE;
      const row = s - 1;
      const o = row * 4;
      if (w[o] === this.k0 && w[o + 1] === this.k1 && w[o + 2] === this.k2 && w[o + 3] === this.k3)
        return row;
    }
  }

  /** Files `row` under `id` (which no row has). */
  add(id: string, row: number): void {
    if (!this.parse(id)) {
      this.odd.set(id, row);
      this.oddIds.set(row, id);
      return;
    }
    if (row * 4 >= this.words.length)
      this.words = grow(this.words, Math.max(row + 1, grownRows(this.words.length / 4)) * 4);
    const o = row * 4;
    this.words[o] = this.k0;
    this.words[o + 1] = this.k1;
    this.words[o + 2] = this.k2;
    this.words[o + 3] = this.k3;
    if (++this.count * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.place(row);
  }

  /** Takes `row` out of the lookup; its id can still be read until `forget(row)`. */
  delete(row: number): void {
    const id = this.oddIds.get(row);
    if (id !== undefined) {
      this.odd.delete(id);
      return;
    }
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.hashOf(row) & mask;
    while ((slots[i] as number) !== row + 1) i = (i + 1) & mask;
    // Backward shift: move up every later entry of the run whose home is not between the hole and it.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const s = slots[j] as number;
      if (s === 0) break;
      const home = this.hashOf(s - 1) & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slots[i] = s;
        i = j;
      }
    }
    slots[i] = 0;
    this.count--;
  }

  /** Lets go of a deleted row's id. */
  forget(row: number): void {
    this.oddIds.delete(row);
  }

  /** The id of `row` (a new flat string, as the scanner makes them). */
  idOf(row: number): string {
    const id = this.oddIds.get(row);
    if (id !== undefined) return id;
    const o = row * 4;
    const b = this.scratch;
    b.writeInt32BE(this.words[o] as number, 0);
    b.writeInt32BE(this.words[o + 1] as number, 4);
    b.writeInt32BE(this.words[o + 2] as number, 8);
    b.writeInt32BE(this.words[o + 3] as number, 12);
    return b.toString('hex');
  }

  /** Reads `id` into the key words; false when it is not 32 lower-case hex digits. */
  private parse(id: string): boolean {
    // The same id again (the spans of a trace come side by side, and a new trace is looked up, then added): the
    // words are still those of the last parse.
    if (id === this.lastParsed) return true;
    if (id.length !== 32) return false;
    this.lastParsed = undefined; // until the words below are all this id's
    for (let k = 0; k < 4; k++) {
      let w = 0;
      for (let j = k * 8; j < k * 8 + 8; j++) {
        const c = id.charCodeAt(j);
        const v = c < 128 ? (HEX_VALUE[c] as number) : -1;
        if (v < 0) return false;
        w = (w << 4) | v;
      }
      if (k === 0) this.k0 = w;
      else if (k === 1) this.k1 = w;
      else if (k === 2) this.k2 = w;
      else this.k3 = w;
    }
    this.lastParsed = id;
    return true;
  }

  /** The hash of `row`'s id, from its words. */
  private hashOf(row: number): number {
    const w = this.words;
    const o = row * 4;
    return hash(w[o] as number, w[o + 1] as number, w[o + 2] as number, w[o + 3] as number);
  }

  private place(row: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.hashOf(row) & mask;
    while ((slots[i] as number) !== 0) i = (i + 1) & mask;
    slots[i] = row + 1;
  }

  private rehash(length: number): void {
    const old = this.slots;
    this.slots = new Int32Array(length);
    for (let i = 0; i < old.length; i++) if ((old[i] as number) !== 0) this.place((old[i] as number) - 1);
  }
}

/** An id's hash: all four words mixed (ids from a test or a tool may differ in one word only). */
function hash(k0: number, k1: number, k2: number, k3: number): number {
  let h = Math.imul(k0, 0x9e3779b1) ^ k1;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ k2;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ k3;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return h ^ (h >>> 13);
}
