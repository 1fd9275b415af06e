/**
 * Rows of typed-array columns (issue 13): the sampler's buffers keep one row per trace, part or span instead of
 * a JS object, so that what waits for seconds is a few large arrays the GC neither scans nor copies.
 */

/** No row: the end of a chain, an empty list. */
export const NONE = -1;
/** Rows a table starts with. */
export const INITIAL_ROWS = 64;

/** A copy of `a` of `length` elements. */
export function grow<T extends Int32Array | Float64Array | Uint8Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}

/** How many rows the columns of `rows` rows grow to: by half (less slack than doubling, 1x-1.5x). */
export function grownRows(rows: number): number {
  return rows + (rows >> 1);
}

/**
 * Rows of typed-array columns, by slot: a freed row is reused (a free list through `next`), the columns grow by
 * half (`grownRows`). A subclass adds its columns and grows them in `resize`.
 */
export abstract class Rows {
  private top = 0;
  private free = NONE;
  /** A row's next in whatever chain it is in while used (its owner's); a free row's next free one. */
  next = new Int32Array(INITIAL_ROWS);
  protected abstract resize(length: number): void;

  add(): number {
    if (this.free !== NONE) {
      const r = this.free;
      this.free = this.next[r] as number;
      return r;
    }
    const r = this.top++;
    if (r === this.next.length) {
      const n = grownRows(r);
      this.next = grow(this.next, n);
      this.resize(n);
    }
    return r;
  }

  delete(r: number): void {
    this.next[r] = this.free;
    this.free = r;
  }
}
