/**
 * The delay a gRPC server asks for in `google.rpc.RetryInfo.retry_delay`, carried inside the
 * `google.rpc.Status` of the `grpc-status-details-bin` trailer (OTLP spec, "Failures": RESOURCE_EXHAUSTED
 * is retryable only with RetryInfo). A tiny reader of just these messages; undefined when absent or malformed.
 */
export function retryInfoDelayMs(statusDetails: Uint8Array): number | undefined {
  try {
    // google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
    for (const field of fields(statusDetails)) {
      if (field.no !== 3 || !field.bytes) continue;
      let typeUrl = '';
      let value: Uint8Array | undefined;
      for (const f of fields(field.bytes)) {
        if (f.no === 1 && f.bytes) typeUrl = Buffer.from(f.bytes).toString('utf8');
        else if (f.no === 2 && f.bytes) value = f.bytes;
      }
      if (typeUrl !== 'type.googleapis.com/google.rpc.RetryInfo' || !value) continue;
      // RetryInfo { google.protobuf.Duration retry_delay = 1; } Duration { int64 seconds = 1; int32 nanos = 2; }
      for (const f of fields(value)) {
        if (f.no !== 1 || !f.bytes) continue;
        let seconds = 0;
        let nanos = 0;
        for (const d of fields(f.bytes)) {
          if (d.no === 1 && d.varint !== undefined) seconds = d.varint;
          else if (d.no === 2 && d.varint !== undefined) nanos = d.varint;
        }
        return Math.max(0, seconds * 1000 + nanos / 1e6);
      }
      return 0;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * The `partial_success` of an `ExportTraceServiceResponse` (OTLP spec: the server accepted the request but
 * rejected some spans, which the client must not retry). Undefined when absent, empty or unreadable.
 */
export function partialSuccess(
  response: Uint8Array,
): { rejectedSpans: number; errorMessage: string } | undefined {
  try {
    for (const field of fields(response)) {
      if (field.no !== 1 || !field.bytes) continue;
      let rejectedSpans = 0;
      let errorMessage = '';
      for (const f of fields(field.bytes)) {
        if (f.no === 1 && f.varint !== undefined) rejectedSpans = f.varint;
        else if (f.no === 2 && f.bytes) errorMessage = Buffer.from(f.bytes).toString('utf8');
      }
      return rejectedSpans > 0 || errorMessage ? { rejectedSpans, errorMessage } : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

interface Field {
  readonly no: number;
  readonly varint?: number;
  readonly bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new RangeError('truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
      if (scale > 2 ** 63) throw new RangeError('varint too long');
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const no = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        yield { no, varint: varint() };
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const len = varint();
        if (pos + len > buf.length) throw new RangeError('truncated field');
        yield { no, bytes: buf.subarray(pos, pos + len) };
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new RangeError(`wire type ${tag & 7}`);
    }
  }
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP-date (RFC 9110 10.2.3); undefined when absent or bad. */
export function retryAfterMs(header: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
