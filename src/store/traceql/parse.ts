import type { BadRequest } from '../query-routes.js';
import { invalid, lex, OPERATORS, unsupported, type Token } from './lex.js';
import {
  KIND_VALUES,
  STATUS_VALUES,
  type Field,
  type Literal,
  type Operator,
  type SpanCondition,
  type TraceQuery,
} from './ast.js';

/**
 * A hand-written recursive-descent parser for the TraceQL subset in docs/query-api.md. Why not
 * `@grafana/lezer-traceql`: it is Grafana's editor grammar, a concrete parse tree of the whole language
 * (pipelines, metrics, structural operators) that would still need a walker here to refuse everything the
 * store does not run, plus a dependency; this file is one pass that builds the typed tree and names the
 * unsupported part in its 400 at the same time.
 */

class Parser {
  private i = 0;
  private spansets = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private isPunct(v: string): boolean {
    const t = this.peek();
    return t.t === 'punct' && t.v === v;
  }
  private expect(v: string, what: string): void {
    if (!this.isPunct(v)) throw this.unexpected(what);
    this.i++;
  }
  private unexpected(expected: string): BadRequest {
    const t = this.peek();
    if (t.t === 'end') return invalid(`expected ${expected} at the end of the query`);
    if (t.t === 'word') {
      if (t.v === 'nil') return unsupported('"nil"', t.at);
      if (
        /^(select|by|count|avg|min|max|sum|coalesce|rate|quantile_over_time|histogram_over_time)$/.test(t.v)
      )
        return unsupported(`function "${t.v}"`, t.at);
    }
    const text = this.src.slice(t.at, t.at + 24);
    return invalid(`expected ${expected} at offset ${t.at}, got ${JSON.stringify(text)}`);
  }

  query(): TraceQuery {
    const q = this.traceOr();
    if (this.peek().t !== 'end') throw this.unexpected('"&&", "||" or the end of the query');
    return q;
  }

  /** `operand (op operand)*` with `&&` binding tighter than `||`, joined by `join`. */
  private logical<T>(operand: () => T, join: (kind: 'and' | 'or', left: T, right: T) => T): T {
    const chain = (op: '&&' | '||', next: () => T): T => {
      let left = next();
      while (this.isPunct(op)) {
        this.i++;
        left = join(op === '&&' ? 'and' : 'or', left, next());
      }
      return left;
    };
    return chain('||', () => chain('&&', operand));
  }

  private traceOr(): TraceQuery {
    return this.logical<TraceQuery>(
      () => this.tracePrimary(),
      (kind, left, right) => ({ kind, left, right }),
    );
  }
  private tracePrimary(): TraceQuery {
    if (this.isPunct('(')) {
      this.i++;
      const q = this.traceOr();
      this.expect(')', '")"');
      return q;
    }
    if (this.isPunct('{')) {
      this.i++;
      const condition: SpanCondition = this.isPunct('}') ? { kind: 'all' } : this.spanOr();
      this.expect('}', '"}" closing the spanset');
      return { kind: 'spanset', condition, index: this.spansets++ };
    }
    throw this.unexpected('a spanset "{ ... }"');
  }

  private spanOr(): SpanCondition {
    return this.logical<SpanCondition>(
      () => this.spanPrimary(),
      (kind, left, right) => ({ kind, left, right }),
    );
  }
  private spanPrimary(): SpanCondition {
    if (this.isPunct('(')) {
      this.i++;
      const c = this.spanOr();
      this.expect(')', '")"');
      return c;
    }
    const t = this.peek();
    if (t.t !== 'field') {
      if (t.t === 'word' && (t.v === 'true' || t.v === 'false'))
        throw unsupported(`static condition "${t.v}"`, t.at);
      throw this.unexpected(
        'an attribute (span.x, resource.x, .x) or an intrinsic (name, status, kind, duration, ...)',
      );
    }
    this.i++;
    const opTok = this.peek();
    if (opTok.t !== 'punct' || !(OPERATORS as readonly string[]).includes(opTok.v)) {
      if (opTok.t === 'punct' && (opTok.v === '}' || opTok.v === '&&' || opTok.v === '||' || opTok.v === ')'))
        throw unsupported(`bare attribute "${t.text}" without a comparison`, t.at);
      throw this.unexpected(`a comparison operator after ${t.text}`);
    }
    this.i++;
    const op = opTok.v as Operator;
    const value = this.literal(t.v, t.text);
    return compare(t.v, t.text, op, value, opTok.at);
  }

  private literal(field: Field, fieldText: string): Literal {
    const t = this.peek();
    this.i++;
    switch (t.t) {
      case 'string':
        return { type: 'string', value: t.v };
      case 'number':
        return /[.eE]/.test(t.v)
          ? { type: 'float', value: Number(t.v) }
          : { type: 'int', value: Number(t.v) };
      case 'duration':
        return { type: 'duration', value: t.v };
      case 'word': {
        if (t.v === 'true' || t.v === 'false') return { type: 'bool', value: t.v === 'true' };
        if (
          field.kind === 'intrinsic' &&
          field.name === 'status' &&
          (STATUS_VALUES as readonly string[]).includes(t.v)
        )
          return { type: 'status', value: t.v as (typeof STATUS_VALUES)[number] };
        if (
          field.kind === 'intrinsic' &&
          field.name === 'kind' &&
          (KIND_VALUES as readonly string[]).includes(t.v)
        )
          return { type: 'kind', value: t.v as (typeof KIND_VALUES)[number] };
        if (t.v === 'nil') throw unsupported('"nil"', t.at);
        this.i--;
        throw this.unexpected(`a value for ${fieldText}`);
      }
      case 'field':
        throw unsupported(`comparing two fields ("${fieldText}" with "${t.text}")`, t.at);
      default:
        this.i--;
        throw this.unexpected(`a value for ${fieldText}`);
    }
  }
}

const ORDERING: readonly Operator[] = ['>', '>=', '<', '<='];

/** Type-checks a comparison as Tempo would, so nothing silently matches nothing. */
function compare(field: Field, text: string, op: Operator, value: Literal, at: number): SpanCondition {
  const regexOp = op === '=~' || op === '!~';
  const bad = (why: string) => invalid(`${text} ${op} at offset ${at}: ${why}`);
  if (field.kind === 'intrinsic') {
    switch (field.name) {
      case 'status':
      case 'kind': {
        const want = field.name;
        if (value.type !== want)
          throw bad(
            `expected one of ${(want === 'status' ? STATUS_VALUES : KIND_VALUES).join(', ')} (unquoted)`,
          );
        if (op !== '=' && op !== '!=') throw bad(`${want} takes only = and !=`);
        break;
      }
      case 'duration':
      case 'traceDuration':
        if (value.type !== 'duration') throw bad('expected a duration like 100ms');
        if (regexOp) throw bad('a duration does not take a regular expression');
        break;
      default:
        if (value.type !== 'string') throw bad('expected a string in quotes');
    }
  } else {
    if (value.type === 'duration')
      throw bad('attributes compare with strings, numbers and booleans, not durations');
    if (value.type === 'bool' && ORDERING.includes(op)) throw bad('booleans take only = and !=');
  }
  if (regexOp) {
    if (value.type !== 'string') throw bad('a regular expression must be a string');
    let regex: RegExp;
    try {
      // Tempo anchors regular expressions: the whole value must match.
      regex = new RegExp(`^(?:${value.value})$`);
    } catch (err) {
      throw bad(`invalid regular expression: ${(err as Error).message}`);
    }
    return { kind: 'compare', field, op, value, regex };
  }
  return { kind: 'compare', field, op, value };
}

/** Parses TraceQL; anything outside the subset throws BadRequest (400) naming the part. */
export function parseTraceQL(src: string): TraceQuery {
  if (src.length > 16_384) throw invalid(`expected a query of at most 16384 characters, got ${src.length}`);
  if (src.trim() === '') return { kind: 'spanset', condition: { kind: 'all' }, index: 0 };
  return new Parser(lex(src), src).query();
}
