/** Hand-built protobuf pieces for the byte-path tests (issue 13). */

/** A protobuf field with a number no OTLP version uses (yet): tag 99, LEN, "abc". */
export const UNKNOWN_FIELD = Buffer.from([0x9a, 0x06, 3, 0x61, 0x62, 0x63]);

/** A length-delimited field `field` holding `content`. */
export function lenField(field: number, content: Buffer): Buffer {
  const len: number[] = [];
  let n = content.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), content]);
}
