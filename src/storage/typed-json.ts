import type { AnyValue, KeyValue } from '../otlp/index.js';

/**
 * Attributes as typed JSON: plain JSON that DuckDB and ClickHouse query directly
 * (`SpanAttributes->>'$."http.method"'`, `JSONExtractString(SpanAttributes, 'http.method')`), yet lossless
 * for every OTLP `AnyValue`:
 *
 * | AnyValue | JSON |
 * |---|---|
 * | string | a JSON string |
 * | bool | `true` / `false` |
 * | int (int64) | an integer literal, all 64 bits (`9007199254740993`) |
 * | double | a number literal that always has a `.` or an exponent (`1.0`, `2.5e-7`); NaN and ±Infinity as `{"double":"NaN"}` |
 * | bytes | `{"bytes":"<base64>"}` |
 * | array | a JSON array of values |
 * | kvlist | `{"kvlist":{...}}` (an object of values, as attributes) |
 * | empty | `null` |
 *
 * A bare JSON object is therefore always a one-key wrapper, so nothing is ambiguous. Attribute order and
 * duplicate keys are kept: the decoder reads objects as ordered pairs, not through JSON.parse.
 */
export function encodeAttributes(attributes: readonly KeyValue[]): string {
  if (attributes.length === 0) return '{}';
  let out = '{';
  for (let i = 0; i < attributes.length; i++) {
    const kv = attributes[i] as KeyValue;
    if (i > 0) out += ',';
    out += JSON.stringify(kv.key) + ':' + encodeAnyValue(kv.value);
  }
  return out + '}';
}

/** One value in the typed JSON encoding. */
export function encodeAnyValue(value: AnyValue): string {
  switch (value.kind) {
    case 'string':
      return JSON.stringify(value.value);
    case 'bool':
      return value.value ? 'true' : 'false';
    case 'int':
      return value.value.toString();
    case 'double':
      return encodeDouble(value.value);
    case 'bytes':
      return `{"bytes":"${Buffer.from(value.value.buffer, value.value.byteOffset, value.value.byteLength).toString('base64')}"}`;
    case 'array':
      return '[' + value.value.map(encodeAnyValue).join(',') + ']';
    case 'kvlist':
      return `{"kvlist":${encodeAttributes(value.value)}}`;
    case 'empty':
      return 'null';
  }
}

function encodeDouble(v: number): string {
  if (!Number.isFinite(v)) return `{"double":"${String(v)}"}`;
  if (Object.is(v, -0)) return '-0.0';
  const s = String(v);
  return /[.eE]/.test(s) ? s : s + '.0';
}

/** A parsed JSON value that keeps what JSON.parse loses: int versus double, key order, duplicate keys. */
export type JsonNode =
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'int'; readonly v: bigint }
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'null' }
  | { readonly t: 'arr'; readonly v: JsonNode[] }
  | { readonly t: 'obj'; readonly v: [string, JsonNode][] };

/** Parses JSON text into `JsonNode`s; throws a SyntaxError naming the offset on bad input. */
export function parseJsonNode(text: string): JsonNode {
  const p = new Parser(text);
  p.ws();
  const node = p.value();
  p.ws();
  if (p.i !== text.length) p.fail('end of input');
  return node;
}

class Parser {
  i = 0;
  constructor(private readonly s: string) {}

  fail(expected: string): never {
    throw new SyntaxError(`typed JSON: expected ${expected} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  value(): JsonNode {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return { t: 'str', v: this.string() };
    if (c === 't' && this.s.startsWith('true', this.i)) {
      this.i += 4;
      return { t: 'bool', v: true };
    }
    if (c === 'f' && this.s.startsWith('false', this.i)) {
      this.i += 5;
      return { t: 'bool', v: false };
    }
    if (c === 'n' && this.s.startsWith('null', this.i)) {
      this.i += 4;
      return { t: 'null' };
    }
    return this.number();
  }

  object(): JsonNode {
    this.i++;
    const entries: [string, JsonNode][] = [];
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { t: 'obj', v: entries };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('a key string');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail('":"');
      this.i++;
      this.ws();
      entries.push([key, this.value()]);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { t: 'obj', v: entries };
      if (c !== ',') this.fail('"," or "}"');
    }
  }

  array(): JsonNode {
    this.i++;
    const items: JsonNode[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return { t: 'arr', v: items };
    }
    for (;;) {
      this.ws();
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return { t: 'arr', v: items };
      if (c !== ',') this.fail('"," or "]"');
    }
  }

  string(): string {
    const start = this.i;
    // Find the closing quote; JSON.parse decodes the escapes of the slice.
    let j = start + 1;
    let escaped = false;
    for (; j < this.s.length; j++) {
      const c = this.s.charCodeAt(j);
      if (c === 0x5c) {
        escaped = true;
        j++;
      } else if (c === 0x22) break;
    }
    if (j >= this.s.length) this.fail('a closing quote');
    this.i = j + 1;
    const raw = this.s.slice(start, j + 1);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  }

  number(): JsonNode {
    const m = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.s);
    if (!r || r[0].length === 0) this.fail('a JSON value');
    this.i += r[0].length;
    if (r[1] === undefined && r[2] === undefined) return { t: 'int', v: BigInt(r[0]) };
    return { t: 'num', v: Number(r[0]) };
  }
}

/** Decodes `encodeAttributes` output back to the exact attribute list. */
export function decodeAttributes(text: string): KeyValue[] {
  return attributesFromNode(parseJsonNode(text));
}

/** The attribute list an object node holds. */
export function attributesFromNode(node: JsonNode): KeyValue[] {
  if (node.t !== 'obj') throw new SyntaxError('typed JSON: expected an attribute object');
  return node.v.map(([key, v]) => ({ key, value: anyValueFromNode(v) }));
}

/** The AnyValue a typed-JSON node stands for. */
export function anyValueFromNode(node: JsonNode): AnyValue {
  switch (node.t) {
    case 'str':
      return { kind: 'string', value: node.v };
    case 'bool':
      return { kind: 'bool', value: node.v };
    case 'int':
      return { kind: 'int', value: node.v };
    case 'num':
      return { kind: 'double', value: node.v };
    case 'null':
      return { kind: 'empty' };
    case 'arr':
      return { kind: 'array', value: node.v.map(anyValueFromNode) };
    case 'obj': {
      const [entry] = node.v;
      if (node.v.length !== 1 || !entry)
        throw new SyntaxError('typed JSON: expected a one-key wrapper object');
      const [tag, inner] = entry;
      if (tag === 'bytes' && inner.t === 'str')
        return { kind: 'bytes', value: new Uint8Array(Buffer.from(inner.v, 'base64')) };
      if (tag === 'kvlist') return { kind: 'kvlist', value: attributesFromNode(inner) };
      if (tag === 'double' && inner.t === 'str') return { kind: 'double', value: Number(inner.v) };
      throw new SyntaxError(`typed JSON: unknown wrapper ${JSON.stringify(tag)}`);
    }
  }
}
