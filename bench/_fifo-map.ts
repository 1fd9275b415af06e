/**
 * A Map in insertion order whose oldest entry is found in constant time.
 *
 * V8 leaves a deleted Map entry as a hole until the table is rebuilt, and a new iterator walks every hole at the
 * front. Taking the oldest entry with `values().next()` after many deletions from the front therefore costs
 * O(holes) per call: a buffer that drops its oldest trace for each new one (the trace buffer deciding early for
 * memory, the completion buffer evicting for bytes) turned quadratic. Measured (bench/fifo-map.ts): 100k FIFO
 * steps over 100k entries took 7.4 s with `values().next()` and 0.26 s with one kept iterator; in the agent, a
 * 130k-trace request stalled the event loop for over a minute.
 *
 * One iterator is kept instead. Iterators of a Map stay valid while it changes: they skip entries deleted after
 * they were made and see entries added at the end, so the kept one walks the holes once in all.
 *
 * The agent's buffers no longer use it (issue 13: the trace buffer and the completion buffer keep their traces in
 * typed-array rows linked oldest to newest); it stays here for bench/fifo-map.ts and for the old buffers that
 * bench/_trace-buffer-map.ts and bench/_hold-buffer-strings.ts keep as baselines.
 */
export class FifoMap<K, V> {
  private readonly map = new Map<K, V>();
  private cursor: Iterator<K> | undefined;
  /** The oldest key, while it is in the map. */
  private head: { key: K } | undefined;

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Adds at the end; a key already present keeps its place (as Map.set). */
  set(key: K, value: V): void {
    this.map.set(key, value);
  }

  delete(key: K): boolean {
    if (this.head !== undefined && this.head.key === key) this.head = undefined;
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.cursor = undefined;
    this.head = undefined;
  }

  /** The oldest value, or undefined when empty. */
  oldest(): V | undefined {
    if (this.head !== undefined) return this.map.get(this.head.key);
    if (this.map.size === 0) return undefined;
    for (;;) {
      this.cursor ??= this.map.keys();
      const next = this.cursor.next();
      if (next.done) {
        // An iterator that reached the end stays done; one made now starts at the oldest live entry.
        this.cursor = undefined;
        continue;
      }
      this.head = { key: next.value };
      return this.map.get(next.value);
    }
  }

  /** Every value, oldest first (a new iterator: for whole passes, not for taking the oldest repeatedly). */
  values(): IterableIterator<V> {
    return this.map.values();
  }
}
