import { IdTable } from './id-table.js';
import { grow, grownRows, INITIAL_ROWS, NONE, Rows } from './rows.js';

/** Rows of an IdLru, linked least to most recently used (`prev`, `next`). */
class LruRows extends Rows {
  prev = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.prev = grow(this.prev, n);
  }
}

/**
 * At most `max` trace ids, least recently used first out, as lru-cache keeps them (a `get` or `set` makes an id
 * the most recent), with no string, Map entry or object per id (issue 13): each id is a row (its words in an
 * IdTable, its place in the use order an intrusive list); the owner keeps the values in its own columns by row.
 * A row is reused once its id is deleted or evicted.
 */
export class IdLru {
  private readonly ids = new IdTable();
  private readonly rows = new LruRows();
  private oldest = NONE;
  private newest = NONE;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.ids.size;
  }

  /** The row of `id`, now the most recently used; NONE when absent. */
  get(id: string): number {
    const row = this.ids.find(id);
    if (row !== NONE) this.touch(row);
    return row;
  }

  /** The row of `id`, now the most recently used: its own, or a new one (the least recently used id evicted). */
  set(id: string): number {
    let row = this.ids.find(id);
    if (row !== NONE) {
      this.touch(row);
      return row;
    }
    if (this.ids.size >= this.max) this.drop(this.oldest);
    row = this.rows.add();
    this.ids.add(id, row);
    this.append(row);
    return row;
  }

  /** Forgets `id`; its row (for the owner to clear), or NONE when absent. */
  delete(id: string): number {
    const row = this.ids.find(id);
    if (row !== NONE) this.drop(row);
    return row;
  }

  private drop(row: number): void {
    this.unlink(row);
    this.ids.delete(row);
    this.ids.forget(row);
    this.rows.delete(row);
  }

  private touch(row: number): void {
    if (row === this.newest) return;
    this.unlink(row);
    this.append(row);
  }

  private append(row: number): void {
    const r = this.rows;
    r.prev[row] = this.newest;
    r.next[row] = NONE;
    if (this.newest === NONE) this.oldest = row;
    else r.next[this.newest] = row;
    this.newest = row;
  }

  private unlink(row: number): void {
    const r = this.rows;
    const prev = r.prev[row] as number;
    const next = r.next[row] as number;
    if (prev === NONE) this.oldest = next;
    else r.next[prev] = next;
    if (next === NONE) this.newest = prev;
    else r.prev[next] = prev;
  }
}

/** Ids with a time each (ms), least recently used first out: the ids the decision feed named (issue 9). */
export class IdTimes {
  private ids: IdLru;
  private at = new Float64Array(INITIAL_ROWS);

  constructor(private readonly max: number) {
    this.ids = new IdLru(max);
  }

  get size(): number {
    return this.ids.size;
  }

  set(id: string, atMs: number): void {
    const row = this.ids.set(id);
    if (row >= this.at.length) this.at = grow(this.at, Math.max(row + 1, grownRows(this.at.length)));
    this.at[row] = atMs;
  }

  /** The time of `id`, forgotten now; undefined when absent. */
  take(id: string): number | undefined {
    const row = this.ids.delete(id);
    return row === NONE ? undefined : this.at[row];
  }

  clear(): void {
    this.ids = new IdLru(this.max);
  }
}
