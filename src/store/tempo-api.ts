import { SENTINEL_VERSION } from '../version.js';
import type { SearchQuery } from './query-engine.js';
import { BadRequest, registerQueryRoutes, type QueryRoute, type RouteServer } from './query-routes.js';
import { boundedLimit, optionalDuration, optionalSeconds } from './query-server.js';
import {
  blocksWithoutSpanNames,
  LISTED_INTRINSICS,
  parseScopedTag,
  tagNames,
  tagValues,
} from './tempo-tags.js';
import type { Field, SpanCondition, TraceQuery } from './traceql/ast.js';
import { parseTraceQL } from './traceql/parse.js';

/**
 * Tempo's HTTP API as Tempo serves it (grafana/tempo pkg/api/http.go; docs/sources/tempo/api_docs), for
 * Grafana's Tempo data source: echo, build info, search with TraceQL or `tags=`, tag names and values.
 * Trace by id (v1 and v2) is in query-server.ts beside the store's own routes. docs/query-api.md.
 */

const DEFAULT_SEARCH_LIMIT = 20;
/** Tempo's default spans per spanset. */
const DEFAULT_SPSS = 3;
const MAX_SPSS = 100;
const DEFAULT_SEARCH_WINDOW_MS = 3_600_000;
const DEFAULT_TAG_VALUES_LIMIT = 1_000;

/** `start`/`end` (unix seconds) as a checked window; defaults end now and `fallbackMs` wide. */
function searchWindow(server: RouteServer, url: URL, fallbackMs: number): { startNs: bigint; endNs: bigint } {
  const nowNs = BigInt(server.now()) * 1_000_000n;
  const endNs = optionalSeconds(url, 'end') ?? nowNs;
  const startNs =
    optionalSeconds(url, 'start') ??
    endNs - BigInt(Math.min(fallbackMs, server.maxSearchWindowMs)) * 1_000_000n;
  if (endNs < startNs) throw new BadRequest('end: expected a time after start');
  if (endNs - startNs > BigInt(server.maxSearchWindowMs) * 1_000_000n) {
    throw new BadRequest(
      `start..end spans more than query.max_search_window (${server.maxSearchWindowMs / 1000} s); narrow the range`,
    );
  }
  return { startNs, endNs };
}

function optionalQuery(url: URL): TraceQuery | undefined {
  const q = url.searchParams.get('q');
  return q === null || q.trim() === '' ? undefined : parseTraceQL(q);
}

/** Tempo's `tags=` logfmt: `key=value key2="a b"`. */
export function parseLogfmt(text: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let i = 0;
  const src = text.trim();
  while (i < src.length) {
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m)
      throw new BadRequest(
        `tags: expected logfmt key=value pairs, got ${JSON.stringify(src.slice(i, i + 32))}`,
      );
    const key = m[1]!;
    if (out.some(([k]) => k === key)) throw new BadRequest(`tags: tag ${key} has been set twice`);
    out.push([key, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!]);
    i = re.lastIndex;
    while (src[i] === ' ') i++;
  }
  return out;
}

const STATUS_CODES: Record<string, 'error' | 'ok' | 'unset'> = {
  error: 'error',
  ok: 'ok',
  unset: 'unset',
  '2': 'error',
  '1': 'ok',
  '0': 'unset',
  STATUS_CODE_ERROR: 'error',
  STATUS_CODE_OK: 'ok',
  STATUS_CODE_UNSET: 'unset',
};

/** One tag of the `tags=` form as a condition: Tempo's special names, else an attribute of span or resource. */
function tagCondition(key: string, value: string): SpanCondition {
  const str = (field: Extract<SpanCondition, { kind: 'compare' }>['field']): SpanCondition => ({
    kind: 'compare',
    field,
    op: '=',
    value: { type: 'string', value },
  });
  const status = (v: string | undefined): SpanCondition => {
    if (!v) throw new BadRequest(`tags: ${key}: expected error, ok or unset, got ${JSON.stringify(value)}`);
    return {
      kind: 'compare',
      field: { kind: 'intrinsic', name: 'status' },
      op: '=',
      value: { type: 'status', value: v as 'error' },
    };
  };
  switch (key) {
    case 'name':
      return str({ kind: 'intrinsic', name: 'name' });
    case 'root.name':
      return str({ kind: 'intrinsic', name: 'rootName' });
    case 'root.service.name':
      return str({ kind: 'intrinsic', name: 'rootServiceName' });
    case 'status.code':
      return status(STATUS_CODES[value]);
    case 'error':
      if (value !== 'true') throw new BadRequest(`tags: error: expected true, got ${JSON.stringify(value)}`);
      return status('error');
    default:
      return str({ kind: 'attribute', scope: 'unscoped', name: key });
  }
}

/**
 * Every tag must hold on one span (an attribute of the span or its resource), as Tempo's tag search matches
 * within one resource's spans; `root.*` tags are trace-level. Values compare exactly (Tempo: substrings).
 */
function tagsQuery(pairs: [string, string][]): TraceQuery | undefined {
  if (pairs.length === 0) return undefined;
  const condition = pairs
    .map(([k, v]) => tagCondition(k, v))
    .reduce((left, right) => ({ kind: 'and', left, right }));
  return { kind: 'spanset', condition, index: 0 };
}

const LEGACY_PARAMS = ['service', 'variant', 'name', 'status'] as const;

async function search(server: RouteServer, url: URL): Promise<SearchQuery> {
  const p = url.searchParams;
  const limit = boundedLimit(p.get('limit'), DEFAULT_SEARCH_LIMIT, server.maxLimit);
  const spssRaw = p.get('spss');
  if (spssRaw !== null && spssRaw !== '' && !/^\d{1,9}$/.test(spssRaw))
    throw new BadRequest(`spss: expected a number of spans per spanset, got ${JSON.stringify(spssRaw)}`);
  // 0 or absent: Tempo's default.
  const spss = !spssRaw || Number(spssRaw) === 0 ? DEFAULT_SPSS : Math.min(Number(spssRaw), MAX_SPSS);
  const { startNs, endNs } = searchWindow(server, url, DEFAULT_SEARCH_WINDOW_MS);
  const min = optionalDuration(p.get('minDuration'), 'minDurationNs', 'minDuration');
  const max = optionalDuration(p.get('maxDuration'), 'maxDurationNs', 'maxDuration');
  if (
    min.minDurationNs !== undefined &&
    max.maxDurationNs !== undefined &&
    min.minDurationNs > max.maxDurationNs
  )
    throw new BadRequest('maxDuration: expected at least minDuration');
  const hasQ = p.has('q');
  const hasTags = p.has('tags');
  const legacy = LEGACY_PARAMS.filter((k) => p.has(k));
  if (hasQ && hasTags) throw new BadRequest("q, tags: can't specify tags and q in the same query");
  if ((hasQ || hasTags) && legacy.length > 0)
    throw new BadRequest(
      `${legacy.join(', ')}: not with ${hasQ ? 'q' : 'tags'}; put the condition in the query`,
    );
  const status = p.get('status');
  if (status !== null && status !== 'error')
    throw new BadRequest(`status: expected "error", got ${JSON.stringify(status)}`);
  const query = hasQ ? optionalQuery(url) : hasTags ? tagsQuery(parseLogfmt(p.get('tags') ?? '')) : undefined;
  return {
    ...(query ? { query } : {}),
    ...(p.get('service') ? { service: p.get('service')! } : {}),
    ...(p.get('variant') ? { variant: p.get('variant')! } : {}),
    ...(p.get('name') ? { name: p.get('name')! } : {}),
    ...(status === 'error' ? { errorsOnly: true } : {}),
    ...min,
    ...max,
    startNs,
    endNs,
    limit,
    spansPerSpanSet: spss,
    ...(server.maxSearchBytes !== undefined ? { maxBytes: server.maxSearchBytes } : {}),
  };
}

/** Blocks whose span names are read from their `SpanName` column when the meta could not list them. */
const MAX_NAME_COLUMN_BLOCKS = 20;

/** Tag values from metas, and for span names also from the `SpanName` column of blocks whose meta has none. */
async function valuesOf(
  server: RouteServer,
  window: { startNs: bigint; endNs: bigint },
  field: Field,
  q: TraceQuery | undefined,
  limit: number,
): Promise<{ type: string; value: string }[]> {
  const sources = await server.engine.metadataSources(window);
  const values: { type: string; value: string }[] = tagValues(sources, field, q, limit);
  if (field.kind !== 'intrinsic' || (field.name !== 'name' && field.name !== 'rootName')) return values;
  const seen = new Set(values.map((v) => v.value));
  for (const meta of blocksWithoutSpanNames(sources, q).slice(0, MAX_NAME_COLUMN_BLOCKS)) {
    if (seen.size >= limit) break;
    for (const name of await server.engine.blockSpanNames(meta)) if (seen.size < limit) seen.add(name);
  }
  return [...seen].sort().map((value) => ({ type: 'string', value }));
}

const SCOPES = ['span', 'resource', 'intrinsic'] as const;

function scopeParam(url: URL): (typeof SCOPES)[number] | undefined {
  const s = url.searchParams.get('scope');
  if (s === null || s === '' || s === 'all') return undefined;
  if (!(SCOPES as readonly string[]).includes(s))
    throw new BadRequest(`scope: expected span, resource, intrinsic or all, got ${JSON.stringify(s)}`);
  return s as (typeof SCOPES)[number];
}

/** Tempo's routes, registered with the query server's routing table. */
export function tempoRoutes(server: RouteServer): QueryRoute[] {
  const { engine } = server;
  return [
    {
      method: 'GET',
      path: '/api/echo',
      name: 'echo',
      handle: ({ res }) => server.send(res, 'echo', 200, 'text/plain; charset=utf-8', 'echo'),
    },
    {
      method: 'GET',
      path: '/api/status/buildinfo',
      name: 'buildinfo',
      handle: ({ res }) =>
        server.json(res, 'buildinfo', 200, {
          version: SENTINEL_VERSION,
          revision: '',
          branch: '',
          buildUser: '',
          buildDate: '',
          goVersion: `node ${process.version}`,
        }),
    },
    {
      method: 'GET',
      path: '/api/search',
      name: 'search',
      handle: async ({ res, url }) =>
        server.json(res, 'search', 200, await engine.search(await search(server, url))),
    },
    ...tagRoutes(server),
  ];
}

/** Tempo's tag names and values, v1 and v2. */
function tagRoutes(server: RouteServer): QueryRoute[] {
  const { engine } = server;
  const tagWindow = (url: URL) => searchWindow(server, url, server.maxSearchWindowMs);
  return [
    {
      method: 'GET',
      path: '/api/search/tags',
      name: 'search_tags',
      handle: async ({ res, url }) => {
        const scope = scopeParam(url);
        const names = tagNames(await engine.metadataSources(tagWindow(url)));
        const tags = new Set<string>([
          ...(scope !== 'resource' && scope !== 'intrinsic' ? names.span : []),
          ...(scope !== 'span' && scope !== 'intrinsic' ? names.resource : []),
          // Tempo's v1 lists intrinsics only when asked for that scope.
          ...(scope === 'intrinsic' ? LISTED_INTRINSICS : []),
        ]);
        server.json(res, 'search_tags', 200, { tagNames: [...tags].sort() });
      },
    },
    {
      method: 'GET',
      path: '/api/v2/search/tags',
      name: 'search_tags_v2',
      handle: async ({ res, url }) => {
        const scope = scopeParam(url);
        const names = tagNames(await engine.metadataSources(tagWindow(url)), optionalQuery(url));
        const scopes = [
          { name: 'span', tags: names.span },
          { name: 'resource', tags: names.resource },
          { name: 'intrinsic', tags: [...LISTED_INTRINSICS].sort() },
        ].filter((s) => scope === undefined || s.name === scope);
        server.json(res, 'search_tags_v2', 200, { scopes });
      },
    },
    {
      method: 'GET',
      path: '/api/search/tag/:tag/values',
      name: 'search_tag_values',
      handle: async ({ res, url, params }) => {
        const tag = params.tag!;
        // v1 names attributes without a scope (`service.name`), and `status.code` for the status.
        const field =
          tag === 'name' || tag === 'status.code'
            ? parseScopedTag(tag === 'name' ? 'name' : 'status')
            : parseScopedTag(`.${tag}`);
        const limit = boundedLimit(url.searchParams.get('limit'), DEFAULT_TAG_VALUES_LIMIT, 100_000);
        const values = await valuesOf(server, tagWindow(url), field, undefined, limit);
        server.json(res, 'search_tag_values', 200, { tagValues: values.map((v) => v.value) });
      },
    },
    {
      method: 'GET',
      path: '/api/v2/search/tag/:tag/values',
      name: 'search_tag_values_v2',
      handle: async ({ res, url, params }) => {
        const field = parseScopedTag(params.tag!);
        const limit = boundedLimit(url.searchParams.get('limit'), DEFAULT_TAG_VALUES_LIMIT, 100_000);
        const values = await valuesOf(server, tagWindow(url), field, optionalQuery(url), limit);
        server.json(res, 'search_tag_values_v2', 200, { tagValues: values });
      },
    },
  ];
}

registerQueryRoutes(tempoRoutes);
