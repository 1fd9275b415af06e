import type { AnyValue, KeyValue } from '../otlp/index.js';
import {
  SUMMARY_MAX_KEYS,
  SUMMARY_MAX_NAMES,
  SUMMARY_MAX_VALUES,
  type BlockSearchSummary,
  type SummaryAttribute,
  type SummaryValue,
} from './block-meta.js';
import type { StoredSpan } from './stored-span.js';

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

function summaryValue(v: AnyValue): SummaryValue | undefined {
  switch (v.kind) {
    case 'string':
      return { type: 'string', value: v.value };
    case 'int':
      return { type: 'int', value: v.value.toString() };
    case 'double':
      return { type: 'float', value: String(v.value) };
    case 'bool':
      return { type: 'bool', value: String(v.value) };
    default:
      return undefined;
  }
}

interface KeyValues {
  readonly scope: 'span' | 'resource';
  readonly key: string;
  /** Distinct values by kind (strings as themselves, others by their text); undefined once past the bound. */
  values: Map<string, SummaryValue>[] | undefined;
  count: number;
}

const KIND_SLOT: Partial<Record<AnyValue['kind'], number>> = { string: 0, int: 1, double: 2, bool: 3 };

/**
 * Builds a block's search summary in one pass over its rows. Resources are shared between rows, so their
 * attributes are read once per resource object. Keys are looked up per scope and values per kind, so the
 * per-span work allocates nothing for a value already seen (this runs inside encodeBlock, the store's hot path).
 */
export function buildSearchSummary(rows: readonly StoredSpan[]): BlockSearchSummary {
  const builder = new SearchSummaryBuilder();
  builder.add(rows);
  return builder.finish();
}

/** The search summary built a row group at a time (a block is encoded in row groups, not all rows at once). */
export class SearchSummaryBuilder {
  private names: Set<string> | undefined = new Set();
  private readonly statuses = new Set<string>();
  private readonly kinds = new Set<string>();
  private minDuration: bigint | undefined;
  private maxDuration: bigint | undefined;
  private readonly byScope = { span: new Map<string, KeyValues>(), resource: new Map<string, KeyValues>() };
  private keyCount = 0;
  private tooManyKeys = false;
  private readonly seenResources = new Set<object>();

  private addAttributes(scope: 'span' | 'resource', attrs: readonly KeyValue[]): void {
    if (this.tooManyKeys) return;
    const keys = this.byScope[scope];
    for (const kv of attrs) {
      let entry = keys.get(kv.key);
      if (!entry) {
        if (this.keyCount >= SUMMARY_MAX_KEYS) {
          this.tooManyKeys = true;
          return;
        }
        this.keyCount++;
        entry = { scope, key: kv.key, values: [new Map(), new Map(), new Map(), new Map()], count: 0 };
        keys.set(kv.key, entry);
      }
      if (!entry.values) continue;
      const slot = KIND_SLOT[kv.value.kind];
      if (slot === undefined) continue;
      const map = entry.values[slot]!;
      const v = kv.value;
      const text =
        v.kind === 'string'
          ? v.value
          : v.kind === 'bool'
            ? String(v.value)
            : v.kind === 'int' || v.kind === 'double'
              ? String(v.value)
              : '';
      if (map.has(text)) continue;
      if (entry.count >= SUMMARY_MAX_VALUES) {
        entry.values = undefined;
        continue;
      }
      entry.count++;
      map.set(text, summaryValue(kv.value)!);
    }
  }

  add(rows: readonly StoredSpan[]): void {
    for (const r of rows) {
      const s = r.span;
      if (this.names) {
        this.names.add(s.name);
        if (this.names.size > SUMMARY_MAX_NAMES) this.names = undefined;
      }
      this.statuses.add(s.status.code === 2 ? 'error' : s.status.code === 1 ? 'ok' : 'unset');
      this.kinds.add(KINDS[s.kind] ?? 'unspecified');
      const d = s.endTimeUnixNano - s.startTimeUnixNano;
      if (this.minDuration === undefined || d < this.minDuration) this.minDuration = d;
      if (this.maxDuration === undefined || d > this.maxDuration) this.maxDuration = d;
      if (!this.seenResources.has(r.resource)) {
        this.seenResources.add(r.resource);
        this.addAttributes('resource', r.resource.attributes);
      }
      this.addAttributes('span', s.attributes);
    }
  }

  finish(): BlockSearchSummary {
    const attributes: SummaryAttribute[] | undefined = this.tooManyKeys
      ? undefined
      : [...this.byScope.resource.values(), ...this.byScope.span.values()].map((e) => ({
          scope: e.scope,
          key: e.key,
          ...(e.values ? { values: e.values.flatMap((m) => [...m.values()]) } : {}),
        }));
    return {
      ...(this.names ? { spanNames: [...this.names].sort() } : {}),
      statuses: [...this.statuses].sort(),
      kinds: [...this.kinds].sort(),
      minDurationNanos: String(this.minDuration ?? 0n),
      maxDurationNanos: String(this.maxDuration ?? 0n),
      ...(attributes ? { attributes } : {}),
    };
  }
}
