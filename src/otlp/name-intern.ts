/**
 * Span names as strings, made once per distinct name (issue 13): names repeat heavily (a service has a few
 * dozen endpoints and queries), and a new string per span was a twentieth of what the agent's byte path
 * allocated. A direct-mapped table of recent names, keyed by a hash of their bytes and checked byte for byte
 * (as the scanner interns resources and scope headers), gives a name seen before its string; a name longer
 * than MAX_INTERNED_NAME_BYTES, or one whose slot another name took, is decoded as before. Same bytes, same
 * decode (`buf.toString('utf8')`, invalid UTF-8 replaced as it was), so every reader sees the same strings.
 */

/** Slots of the table (a power of two). */
const SLOTS = 1024;
/** Names longer than this many bytes are decoded every time, not interned. */
export const MAX_INTERNED_NAME_BYTES = 128;

/** Each slot's name bytes, at slot * MAX_INTERNED_NAME_BYTES. */
const stored = new Uint8Array(SLOTS * MAX_INTERNED_NAME_BYTES);
/** Each slot's byte length; -1 while empty. */
const lengths = new Int32Array(SLOTS).fill(-1);
const strings: string[] = new Array<string>(SLOTS).fill('');

/** The UTF-8 string of `buf[start, end)`, the same string object for the same recent bytes. */
export function internedString(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len <= 0) return '';
  if (len > MAX_INTERNED_NAME_BYTES) return buf.toString('utf8', start, end);
  let h = 0x811c9dc5 ^ len;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const at = slot * MAX_INTERNED_NAME_BYTES;
  if (lengths[slot] === len) {
    let i = 0;
    while (i < len && stored[at + i] === buf[start + i]) i++;
    if (i === len) return strings[slot] as string;
  }
  const s = buf.toString('utf8', start, end);
  for (let i = 0; i < len; i++) stored[at + i] = buf[start + i] as number;
  lengths[slot] = len;
  strings[slot] = s;
  return s;
}
