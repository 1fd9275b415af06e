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
  /** `type value` strings; undefined once past the bound. */
  values: Map<string, SummaryValue> | undefined;
}

/**
 * Builds a block's search summary in one pass over its rows. Resources are shared between rows, so their
 * attributes are read once per resource object.
 */
export function buildSearchSummary(rows: readonly StoredSpan[]): BlockSearchSummary {
  let names: Set<string> | undefined = new Set();
  const statuses = new Set<string>();
  const kinds = new Set<string>();
  let minDuration: bigint | undefined;
  let maxDuration: bigint | undefined;
  let keys: Map<string, KeyValues> | undefined = new Map();
  const seenResources = new Set<object>();

  const addAttributes = (scope: 'span' | 'resource', attrs: readonly KeyValue[]) => {
    if (!keys) return;
    for (const kv of attrs) {
      const id = scope + '\u0000' + kv.key;
      let entry = keys.get(id);
      if (!entry) {
        if (keys.size >= SUMMARY_MAX_KEYS) {
          keys = undefined;
          return;
        }
        entry = { scope, key: kv.key, values: new Map() };
        keys.set(id, entry);
      }
      if (!entry.values) continue;
      const v = summaryValue(kv.value);
      if (!v) continue;
      const vid = v.type + '\u0000' + v.value;
      if (entry.values.has(vid)) continue;
      if (entry.values.size >= SUMMARY_MAX_VALUES) entry.values = undefined;
      else entry.values.set(vid, v);
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
  const attributes: SummaryAttribute[] | undefined = keys
    ? [...keys.values()].map((e) => ({
        scope: e.scope,
        key: e.key,
        ...(e.values ? { values: [...e.values.values()] } : {}),
      }))
    : undefined;
  return {
    ...(names ? { spanNames: [...names].sort() } : {}),
    statuses: [...statuses].sort(),
    kinds: [...kinds].sort(),
    minDurationNanos: String(minDuration ?? 0n),
    maxDurationNanos: String(maxDuration ?? 0n),
    ...(attributes ? { attributes } : {}),
  };
}
