import { SentinelError } from '../errors.js';
import { internedString } from './name-intern.js';

/** Protobuf wire types (protobuf encoding guide). */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/**
 * A cursor over protobuf wire bytes. Every read checks bounds and throws SENTINEL_ERR_OTLP_DECODE with the
 * path being decoded, so a truncated or hostile message is a clear error, never a crash or a hang.
 */
export class ProtobufReader {
  readonly buf: Buffer;
  pos: number;
  /** Where the current message ends. */
  end: number;
  /** The message path being decoded, for error messages ("resource_spans.scope_spans.spans"). */
  path: string;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = this.buf.length;
    this.path = '';
  }

  fail(what: string): never {
    throw new SentinelError(
      'SENTINEL_ERR_OTLP_DECODE',
      `protobuf: ${what} at byte ${this.pos}${this.path ? ` in ${this.path}` : ''}`,
    );
  }

  /** A varint of up to 32 significant bits, as an unsigned number (tags, lengths, enums, uint32). */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= this.end) this.fail('truncated varint');
      const b = buf[pos++] as number;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else if (shift === 28) result += (b & 0x0f) * 2 ** 28;
      if (b < 0x80) break;
      shift += 7;
      if (shift >= 70) this.fail('varint longer than 10 bytes');
    }
    this.pos = pos;
    return result >>> 0 === result ? result : result >>> 0;
  }

  /** An int64 varint as a signed bigint. */
  int64(): bigint {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (pos >= this.end) this.fail('truncated varint');
      const b = buf[pos++] as number;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) break;
      shift += 7;
      if (shift >= 70) this.fail('varint longer than 10 bytes');
    }
    this.pos = pos;
    lo >>>= 0;
    hi >>>= 0;
    if (hi === 0) return BigInt(lo);
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) this.fail('truncated fixed32');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.end) this.fail('truncated fixed64');
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The bounds of a length-delimited field; advances past it. */
  lengthDelimited(): { start: number; end: number } {
    const end = this.lengthPrefix();
    const start = this.pos;
    this.pos = end;
    return { start, end };
  }

  /**
   * Reads a length prefix and returns where the field ends; `pos` is left at its first byte. The allocation-free
   * form of `lengthDelimited` for the agent's scanner (an object per field was a fifth of what it allocated).
   */
  lengthPrefix(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) this.fail(`length ${len} runs past the end of the message`);
    return end;
  }

  string(): string {
    const { start, end } = this.lengthDelimited();
    return start === end ? '' : this.buf.toString('utf8', start, end);
  }

  /**
   * A string field as `string()` reads it, the same string object for bytes read recently (name-intern.ts):
   * for span names, which repeat.
   */
  internedString(): string {
    const end = this.lengthPrefix();
    const s = internedString(this.buf, this.pos, end);
    this.pos = end;
    return s;
  }

  /** A copy of a bytes field (the request buffer is not kept alive by the model). */
  bytes(): Uint8Array {
    const { start, end } = this.lengthDelimited();
    return new Uint8Array(this.buf.subarray(start, end));
  }

  /** Skips a field of `wireType`. Groups are deprecated and refused. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.VARINT:
        this.uint32IgnoringOverflow();
        return;
      case WireType.I64:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case WireType.LEN:
        this.pos = this.lengthPrefix();
        return;
      case WireType.I32:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  private uint32IgnoringOverflow(): void {
    let n = 0;
    for (;;) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++] as number;
      if (b < 0x80) return;
      if (++n >= 10) this.fail('varint longer than 10 bytes');
    }
  }

  /** Enters a nested message: returns the saved end to pass to `leave`. */
  enter(): number {
    const end = this.lengthPrefix();
    const saved = this.end;
    this.end = end;
    return saved;
  }

  leave(savedEnd: number): void {
    this.pos = this.end;
    this.end = savedEnd;
  }
}
