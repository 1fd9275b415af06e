/**
 * The kubelet's format for the Downward API volume's `labels` and `annotations` files: one `key="value"` per line,
 * sorted by key, the value quoted with Go's `%q` (strconv.Quote), so `"`, `\`, newlines and unprintable characters
 * arrive escaped (kubernetes pkg/fieldpath `FormatMap`).
 */

/** Why a podinfo file did not parse: the line (1-based) and what was expected there. */
export class DownwardApiFormatError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'DownwardApiFormatError';
    this.line = line;
  }
}

/** Parses a whole `labels` or `annotations` file; throws DownwardApiFormatError on the first bad line. */
export function parseDownwardApiFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0)
      throw new DownwardApiFormatError(i + 1, `expected key="value", got ${JSON.stringify(clip(line))}`);
    const key = line.slice(0, eq);
    const quoted = line.slice(eq + 1);
    if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) {
      throw new DownwardApiFormatError(i + 1, `expected a double-quoted value after "${clip(key)}="`);
    }
    try {
      out.set(key, unquoteGo(quoted.slice(1, -1)));
    } catch (err) {
      throw new DownwardApiFormatError(i + 1, `value of "${clip(key)}": ${(err as Error).message}`);
    }
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  '"': 0x22,
  "'": 0x27,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/**
 * The body of a Go double-quoted string literal, unescaped (Go spec "Rune literals"/"String literals").
 * Works on bytes because `\xNN` and octal escapes are single bytes that may form UTF-8 sequences together.
 */
export function unquoteGo(body: string): string {
  if (!body.includes('\\')) {
    if (body.includes('"')) throw new Error('unescaped double quote');
    return body;
  }
  const bytes: number[] = [];
  let i = 0;
  while (i < body.length) {
    const ch = body[i] as string;
    if (ch === '"') throw new Error('unescaped double quote');
    if (ch !== '\\') {
      // Copy the run up to the next backslash as UTF-8.
      let j = body.indexOf('\\', i);
      if (j < 0) j = body.length;
      const run = body.slice(i, j);
      if (run.includes('"')) throw new Error('unescaped double quote');
      for (const b of encoder.encode(run)) bytes.push(b);
      i = j;
      continue;
    }
    const esc = body[i + 1];
    if (esc === undefined) throw new Error('dangling backslash at the end');
    const simple = SIMPLE_ESCAPES[esc];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
    } else if (esc === 'x') {
      bytes.push(hex(body, i + 2, 2));
      i += 4;
    } else if (esc === 'u' || esc === 'U') {
      const n = esc === 'u' ? 4 : 8;
      const cp = hex(body, i + 2, n);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error(`invalid code point \\${esc}`);
      for (const b of encoder.encode(String.fromCodePoint(cp))) bytes.push(b);
      i += 2 + n;
    } else if (esc >= '0' && esc <= '7') {
      const digits = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(digits)) throw new Error('octal escape needs three digits');
      const v = parseInt(digits, 8);
      if (v > 255) throw new Error('octal escape over 255');
      bytes.push(v);
      i += 4;
    } else {
      throw new Error(`unknown escape \\${esc}`);
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}

function hex(s: string, at: number, n: number): number {
  const digits = s.slice(at, at + n);
  if (digits.length !== n || !/^[0-9a-fA-F]+$/.test(digits)) throw new Error(`expected ${n} hex digits`);
  return parseInt(digits, 16);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Formats a map the way the kubelet does; for tests and fixtures. */
export function formatDownwardApiFile(map: ReadonlyMap<string, string> | Record<string, string>): string {
  const entries = map instanceof Map ? [...map.entries()] : Object.entries(map);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([k, v]) => `${k}=${quoteGo(v)}`).join('\n');
}

/** Go's strconv.Quote for valid UTF-8 input (what `%q` produces). */
export function quoteGo(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0) as number;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
