import {
  buildSearchSummary,
  type BlockMeta,
  type BlockSearchSummary,
  type StoredSpan,
  type SummaryValue,
} from '../storage/index.js';
import { BadRequest } from './query-routes.js';
import { INTRINSICS, type Field, type Intrinsic, type TraceQuery } from './traceql/ast.js';
import { evaluateTrace, traceFacts } from './traceql/evaluate.js';
import { blockMayMatch } from './traceql/prune.js';

/**
 * Tag names and values for Tempo's tag APIs, from block metas (services, the search summary) and the spans
 * not in a block yet; no block is read. With a TraceQL `q`, only blocks that may match it contribute
 * (a superset of Tempo's answer: values of spans in those blocks), and pending spans of matching traces.
 */

/** Intrinsics listed under the `intrinsic` scope: the ones this store's TraceQL runs. */
export const LISTED_INTRINSICS: readonly Intrinsic[] = INTRINSICS;

interface Source {
  blocks: readonly BlockMeta[];
  pending: readonly StoredSpan[];
}

interface Sources {
  metas: { meta?: BlockMeta; summary: BlockSearchSummary | undefined; services: readonly string[] }[];
}

function groupByTrace(spans: readonly StoredSpan[]): StoredSpan[][] {
  const out = new Map<string, StoredSpan[]>();
  for (const r of spans) {
    let l = out.get(r.span.traceId);
    if (!l) out.set(r.span.traceId, (l = []));
    l.push(r);
  }
  return [...out.values()];
}

function gather(src: Source, q: TraceQuery | undefined): Sources {
  const metas: Sources['metas'] = src.blocks
    .filter((m) => !q || blockMayMatch(m, q))
    .map((m) => ({ meta: m, summary: m.search, services: m.services }));
  let pending: StoredSpan[] = [...src.pending];
  if (q)
    pending = groupByTrace(pending).flatMap((spans) =>
      (evaluateTrace(q, spans, traceFacts(spans)) ?? []).flat(),
    );
  if (pending.length > 0) {
    const summary = buildSearchSummary(pending);
    const services = new Set<string>();
    for (const a of summary.attributes ?? [])
      if (a.scope === 'resource' && a.key === 'service.name')
        for (const v of a.values ?? []) if (v.type === 'string') services.add(v.value);
    metas.push({ summary, services: [...services] });
  }
  return { metas };
}

/** Attribute names by scope (`span`, `resource`), sorted. */
export function tagNames(src: Source, q?: TraceQuery): { span: string[]; resource: string[] } {
  const span = new Set<string>();
  const resource = new Set<string>();
  for (const m of gather(src, q).metas) {
    if (m.services.length > 0) resource.add('service.name');
    for (const a of m.summary?.attributes ?? []) (a.scope === 'span' ? span : resource).add(a.key);
  }
  return { span: [...span].sort(), resource: [...resource].sort() };
}

/** Parses the tag of `/api/v2/search/tag/<tag>/values`: a scoped attribute or an intrinsic. */
export function parseScopedTag(tag: string): Field {
  if ((INTRINSICS as readonly string[]).includes(tag)) return { kind: 'intrinsic', name: tag as Intrinsic };
  const m = /^(span|resource)?\.(.+)$/.exec(tag);
  if (!m)
    throw new BadRequest(
      `tag: expected a scoped attribute (span.x, resource.x, .x) or an intrinsic (${INTRINSICS.join(', ')}), got ${JSON.stringify(tag)}`,
    );
  return {
    kind: 'attribute',
    scope: m[1] === 'span' || m[1] === 'resource' ? m[1] : 'unscoped',
    name: m[2]!,
  };
}

const KEYWORD_LISTS = { status: 'statuses', kind: 'kinds' } as const;

/** Distinct typed values of a tag (`keyword` for status and kind, as Tempo types them), at most `limit`. */
export function tagValues(
  src: Source,
  field: Field,
  q: TraceQuery | undefined,
  limit: number,
): SummaryValue[] | { type: 'keyword'; value: string }[] {
  const out = new Map<string, { type: string; value: string }>();
  const add = (type: string, value: string) => {
    if (out.size < limit) out.set(type + '\u0000' + value, { type, value });
  };
  for (const m of gather(src, q).metas) {
    const s = m.summary;
    if (field.kind === 'intrinsic') {
      switch (field.name) {
        case 'name':
        case 'rootName':
          for (const n of s?.spanNames ?? []) add('string', n);
          break;
        case 'rootServiceName':
          for (const n of m.services) add('string', n);
          break;
        case 'status':
        case 'kind':
          for (const v of s?.[KEYWORD_LISTS[field.name]] ?? []) add('keyword', v);
          break;
        default:
          // Durations have no list of values (Tempo lists none either).
          break;
      }
      continue;
    }
    if (field.name === 'service.name' && field.scope !== 'span') for (const n of m.services) add('string', n);
    for (const a of s?.attributes ?? []) {
      if (a.key !== field.name) continue;
      if (field.scope !== 'unscoped' && a.scope !== field.scope) continue;
      for (const v of a.values ?? []) add(v.type, v.value);
    }
  }
  return [...out.values()].sort((a, b) =>
    a.value < b.value ? -1 : a.value > b.value ? 1 : 0,
  ) as SummaryValue[];
}
