import type { ColumnSource } from 'hyparquet-writer';

/**
 * The writer's columns of a span or logs block, in `names` order, from their cells. Statistics only where engines prune on them
 * (`statistics`): every other min/max would bloat the footer, which a lookup reads whole.
 */
export function columnSources<C extends string>(
  names: readonly C[],
  cols: Record<C, unknown[]>,
  statistics: ReadonlySet<C>,
): ColumnSource[] {
  return names.map((name) => ({
    name,
    data: cols[name] as ColumnSource['data'],
    nullable: false,
    statistics: statistics.has(name),
  }));
}

/** A string cell of a row as hyparquet reads it ('' when absent). */
export function cellString<C extends string>(row: Partial<Record<C, unknown>>, c: C): string {
  const v = row[c];
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  throw new TypeError(`column ${c}: expected a string, got ${typeof v}`);
}
/** An int64 cell of a row as hyparquet reads it (0 when absent). */
export function cellInt64<C extends string>(row: Partial<Record<C, unknown>>, c: C): bigint {
  const v = row[c];
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (v === undefined || v === null) return 0n;
  throw new TypeError(`column ${c}: expected an int64, got ${typeof v}`);
}
