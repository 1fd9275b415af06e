import { DECISION_ID_BYTES } from './feed-protocol.js';

/**
 * The rule-kept trace ids an agent has yet to publish, as the bytes of a POST body (16 per id, in order) rather
 * than a list of hex strings encoded again at each POST (issue 13: one object per decision less, and the body is
 * a copy of a range). Bounded: beyond `maxIds`, the oldest are dropped and counted by the caller.
 */
export class PendingIds {
  private bytes = Buffer.alloc(0);
  /** Byte offsets of the first pending id and one past the last. */
  private head = 0;
  private tail = 0;

  constructor(private readonly maxIds: number) {}

  get count(): number {
    return (this.tail - this.head) / DECISION_ID_BYTES;
  }

  /**
   * Appends one id (32 hex digits); returns how many of the oldest were dropped for room, or -1 when `hex` is not
   * an id (nothing is added).
   */
  add(hex: string): number {
    if (hex.length !== DECISION_ID_BYTES * 2) return -1;
    this.makeRoom(DECISION_ID_BYTES);
    if (this.bytes.write(hex, this.tail, DECISION_ID_BYTES, 'hex') !== DECISION_ID_BYTES) return -1;
    this.tail += DECISION_ID_BYTES;
    return this.trim();
  }

  /** Takes up to `maxIds` of the oldest ids out, as a POST body of their bytes. */
  take(maxIds: number): Buffer {
    const end = Math.min(this.tail, this.head + maxIds * DECISION_ID_BYTES);
    const body = Buffer.from(this.bytes.subarray(this.head, end));
    this.head = end;
    if (this.head === this.tail) this.head = this.tail = 0;
    return body;
  }

  /** Puts a body that no store took back in front (it holds the oldest ids); returns how many were dropped. */
  putBack(body: Buffer): number {
    if (body.length === 0) return 0;
    if (this.head >= body.length) {
      this.head -= body.length;
      body.copy(this.bytes, this.head);
    } else {
      const rest = this.bytes.subarray(this.head, this.tail);
      this.bytes = Buffer.concat([body, rest]);
      this.head = 0;
      this.tail = this.bytes.length;
    }
    return this.trim();
  }

  /** Drops the oldest ids beyond the bound; returns how many. */
  private trim(): number {
    const over = this.count - this.maxIds;
    if (over <= 0) return 0;
    this.head += over * DECISION_ID_BYTES;
    return over;
  }

  /** Room for `n` more bytes at the tail: move the pending ids to the front, or grow (doubling, up to the bound). */
  private makeRoom(n: number): void {
    const length = this.bytes.length;
    if (this.tail + n <= length) return;
    const used = this.tail - this.head;
    const cap = (this.maxIds + 1) * DECISION_ID_BYTES;
    if (used + n <= length && (used + n <= length / 2 || length >= cap)) {
      this.bytes.copyWithin(0, this.head, this.tail);
    } else {
      this.grow(Math.max(used + n, Math.min(Math.max(length * 2, 64 * DECISION_ID_BYTES), cap)));
    }
    this.head = 0;
    this.tail = used;
  }

  private grow(size: number): void {
    const next = Buffer.alloc(size);
    this.bytes.copy(next, 0, this.head, this.tail);
    this.bytes = next;
  }
}
