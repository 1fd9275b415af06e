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
  let names: Set<string> | undefined = new Set();
  const statuses = new Set<string>();
  const kinds = new Set<string>();
  let minDuration: bigint | undefined;
  let maxDuration: bigint | undefined;
  const byScope = { span: new Map<string, KeyValues>(), resource: new Map<string, KeyValues>() };
  let keyCount = 0;
  let tooManyKeys = false;
  const seenResources = new Set<object>();

  const addAttributes = (scope: 'span' | 'resource', attrs: readonly KeyValue[]) => {
    if (tooManyKeys) return;
    const keys = byScope[scope];
    for (const kv of attrs) {
      let entry = keys.get(kv.key);
      if (!entry) {
        if (keyCount >= SUMMARY_MAX_KEYS) {
          tooManyKeys = true;
          return;
        }
        keyCount++;
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
  };

  for (const r of rows) {
    const s = r.span;
    if (names) {
      names.add(s.name);
      if (names.size > SUMMARY_MAX_NAMES) names = undefined;
    }
    statuses.add(s.status.code === 2 ? 'error' : s.status.code === 1 ? 'ok' : 'unset');
    kinds.add(KINDS[s.kind] ?? 'unspecified');
    const d = s.endTimeUnixNano - s.startTimeUnixNano;
    if (minDuration === undefined || d < minDuration) minDuration = d;
    if (maxDuration === undefined || d > maxDuration) maxDuration = d;
    if (!seenResources.has(r.resource)) {
      seenResources.add(r.resource);
      addAttributes('resource', r.resource.attributes);
    }
    addAttributes('span', s.attributes);
  }
  const attributes: SummaryAttribute[] | undefined = tooManyKeys
    ? undefined
    : [...byScope.resource.values(), ...byScope.span.values()].map((e) => ({
        scope: e.scope,
        key: e.key,
        ...(e.values ? { values: e.values.flatMap((m) => [...m.values()]) } : {}),
      }));
  return {
    ...(names ? { spanNames: [...names].sort() } : {}),
    statuses: [...statuses].sort(),
    kinds: [...kinds].sort(),
    minDurationNanos: String(minDuration ?? 0n),
    maxDurationNanos: String(maxDuration ?? 0n),
    ...(attributes ? { attributes } : {}),
  };
}
