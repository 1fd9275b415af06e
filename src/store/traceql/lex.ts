import { BadRequest } from '../query-routes.js';
import { INTRINSICS, type Field, type Intrinsic } from './ast.js';

/** The TraceQL lexer of parse.ts: tokens with their offsets, for errors that point at the query's part. */

export type Token =
  | { t: 'punct'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'number'; v: string; at: number }
  | { t: 'duration'; v: bigint; text: string; at: number }
  | { t: 'field'; v: Field; text: string; at: number }
  | { t: 'word'; v: string; at: number }
  | { t: 'end'; at: number };

export const OPERATORS = ['=~', '!~', '!=', '>=', '<=', '=', '>', '<'] as const;
const DURATION_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const NUMBER_RE = /^-?(\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const DURATION_RE = /^((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)(?![A-Za-z0-9_])/;
const WORD_RE = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Characters that end an attribute name (Tempo's lexer: whitespace, operators, braces, quotes). */
const NAME_RE = /^[^\s{}()=!<>~&|,"`+*/%^[\]]+/;

/** SENTINEL_ERR_QUERY_INVALID naming the query part. */
export function invalid(message: string): BadRequest {
  return new BadRequest(`q: ${message}`);
}
export function unsupported(what: string, at: number): BadRequest {
  return invalid(`TraceQL ${what} (at offset ${at}) is not supported by this store; see docs/query-api.md`);
}

function durationNs(text: string): bigint | undefined {
  let total = 0n;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    const [whole, frac = ''] = m[1]!.split('.');
    const unit = DURATION_NS[m[2]!]!;
    total += BigInt(whole!) * unit + (frac ? (BigInt(frac) * unit) / 10n ** BigInt(frac.length) : 0n);
  }
  return total;
}

/** A token and the offset after it. */
interface Lexed {
  readonly token: Token;
  readonly next: number;
}

/** Throws on the parts of TraceQL this store does not evaluate, naming them (400 with their offset). */
function refuseUnsupported(rest: string, c: string, i: number): void {
  if (
    rest.startsWith('>>') ||
    rest.startsWith('<<') ||
    rest.startsWith('~') ||
    rest.startsWith('!<<') ||
    rest.startsWith('!>>')
  )
    throw unsupported(`structural operator "${/^!?(>>|<<|~)/.exec(rest)?.[0] ?? c}"`, i);
  if (rest.startsWith('&>') || rest.startsWith('&<') || rest.startsWith('&~'))
    throw unsupported(`structural operator "${rest.slice(0, 2)}"`, i);
}

/** `&&`, `||`, comparison operators and brackets; the unsupported ones throw. */
function lexPunct(rest: string, c: string, i: number): Lexed | undefined {
  if (rest.startsWith('&&') || rest.startsWith('||'))
    return { token: { t: 'punct', v: rest.slice(0, 2), at: i }, next: i + 2 };
  refuseUnsupported(rest, c, i);
  const op = OPERATORS.find((o) => rest.startsWith(o));
  if (op) return { token: { t: 'punct', v: op, at: i }, next: i + op.length };
  if ('{}()'.includes(c)) return { token: { t: 'punct', v: c, at: i }, next: i + 1 };
  if (c === '|') throw unsupported(`pipeline "${rest.slice(0, 24).trim()}"`, i);
  if (c === '!') throw unsupported('negation "!"', i);
  if ('+-*/%^'.includes(c) && !(c === '-' && /^-[\d.]/.test(rest))) throw unsupported(`arithmetic "${c}"`, i);
  if (c === ',' || c === '[' || c === ']') throw unsupported(`"${c}"`, i);
  return undefined;
}

/** Strings, unscoped `.attributes`, durations and numbers. */
function lexLiteral(src: string, rest: string, c: string, i: number): Lexed | undefined {
  if (c === '"' || c === '`') {
    const { value, next } = readString(src, i);
    return { token: { t: 'string', v: value, at: i }, next };
  }
  if (c === '.' && !/^\.\d/.test(rest)) {
    const { name, next } = readName(src, i + 1);
    const v = { kind: 'attribute', scope: 'unscoped', name } as const;
    return { token: { t: 'field', v, text: src.slice(i, next), at: i }, next };
  }
  const dur = DURATION_RE.exec(rest);
  if (dur)
    return {
      token: { t: 'duration', v: durationNs(dur[1]!)!, text: dur[1]!, at: i },
      next: i + dur[0].length,
    };
  const num = NUMBER_RE.exec(rest);
  if (!num) return undefined;
  if (/^[A-Za-z_]/.test(rest.slice(num[0].length)))
    throw invalid(
      `expected a number or a duration like 100ms at offset ${i}, got ${JSON.stringify(rest.slice(0, 16))}`,
    );
  return { token: { t: 'number', v: num[0], at: i }, next: i + num[0].length };
}

/** Scoped attributes (`span.x`, `resource.x`), scoped and bare intrinsics, and keywords. */
function lexWord(src: string, rest: string, i: number): Lexed | undefined {
  const word = WORD_RE.exec(rest);
  if (!word) return undefined;
  const w = word[0];
  const after = src[i + w.length];
  if (after === '.' && (w === 'span' || w === 'resource')) {
    const { name, next } = readName(src, i + w.length + 1);
    const v = { kind: 'attribute', scope: w, name } as const;
    return { token: { t: 'field', v, text: src.slice(i, next), at: i }, next };
  }
  if (after === '.') throw unsupported(`scope "${w}."`, i);
  if (after === ':') {
    const m = /^[A-Za-z_]+:[A-Za-z_]+/.exec(rest);
    const text = m?.[0] ?? `${w}:`;
    const intrinsic = SCOPED_INTRINSICS[text];
    if (!intrinsic) throw unsupported(`intrinsic "${text}"`, i);
    return {
      token: { t: 'field', v: { kind: 'intrinsic', name: intrinsic }, text, at: i },
      next: i + text.length,
    };
  }
  const token: Token = (INTRINSICS as readonly string[]).includes(w)
    ? { t: 'field', v: { kind: 'intrinsic', name: w as Intrinsic }, text: w, at: i }
    : { t: 'word', v: w, at: i };
  return { token, next: i + w.length };
}

/** Splits a TraceQL query into tokens; the unsupported parts throw, naming them. */
export function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = src.slice(i);
    const lexed = lexPunct(rest, c, i) ?? lexLiteral(src, rest, c, i) ?? lexWord(src, rest, i);
    if (!lexed) throw invalid(`unexpected ${JSON.stringify(c)} at offset ${i}`);
    out.push(lexed.token);
    i = lexed.next;
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

/** Tempo's scoped spellings of the same intrinsics (`span:name`, `trace:rootService`). */
const SCOPED_INTRINSICS: Record<string, Intrinsic> = {
  'span:name': 'name',
  'span:status': 'status',
  'span:kind': 'kind',
  'span:duration': 'duration',
  'trace:duration': 'traceDuration',
  'trace:rootName': 'rootName',
  'trace:rootService': 'rootServiceName',
};

function readString(src: string, start: number): { value: string; next: number } {
  const quote = src[start]!;
  let i = start + 1;
  let value = '';
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote) return { value, next: i + 1 };
    if (c === '\\' && quote === '"') {
      const e = src[i + 1];
      const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
      if (e === undefined || map[e] === undefined)
        throw invalid(`unknown escape "\\${e ?? ''}" at offset ${i}`);
      value += map[e];
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  throw invalid(`unterminated string starting at offset ${start}`);
}

function readName(src: string, start: number): { name: string; next: number } {
  if (src[start] === '"') {
    const { value, next } = readString(src, start);
    return { name: value, next };
  }
  const m = NAME_RE.exec(src.slice(start));
  if (!m) throw invalid(`expected an attribute name at offset ${start}`);
  return { name: m[0], next: start + m[0].length };
}
