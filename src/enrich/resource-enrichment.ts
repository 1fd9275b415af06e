import type { KeyValue, Resource } from '../otlp/index.js';
import { av } from '../otlp/index.js';

/**
 * The attributes to stamp on every resource, computed once per change of what the agent knows about its pod.
 * `service.version` is apart: it only fills a gap, whatever `override` says.
 */
export interface ResourceEnrichment {
  readonly attributes: readonly KeyValue[];
  readonly serviceVersion: KeyValue | undefined;
}

export const EMPTY_ENRICHMENT: ResourceEnrichment = { attributes: [], serviceVersion: undefined };

/** Builds the enrichment from ordered `[key, value]` pairs; empty or undefined values are left out. */
export function buildEnrichment(
  pairs: readonly (readonly [string, string | undefined])[],
  serviceVersion: string | undefined,
): ResourceEnrichment {
  const attributes: KeyValue[] = [];
  for (const [key, value] of pairs) {
    if (value !== undefined && value !== '') attributes.push(Object.freeze({ key, value: av.string(value) }));
  }
  return Object.freeze({
    attributes: Object.freeze(attributes) as readonly KeyValue[],
    serviceVersion: serviceVersion
      ? Object.freeze({ key: 'service.version', value: av.string(serviceVersion) })
      : undefined,
  });
}

/**
 * Merges the enrichment into one resource, in place. What the app set wins unless `override`; the work is per
 * resource (one per request and SDK, typically), never per span.
 */
export function applyEnrichment(resource: Resource, enrichment: ResourceEnrichment, override: boolean): void {
  const attrs = resource.attributes;
  const add = enrichment.attributes;
  if (attrs.length === 0) {
    for (const kv of add) attrs.push(kv);
    if (enrichment.serviceVersion) attrs.push(enrichment.serviceVersion);
    return;
  }
  // Resources hold a dozen or two attributes: an index beats repeated scans only once both sides grow.
  const index = new Map<string, number>();
  for (let i = 0; i < attrs.length; i++) index.set((attrs[i] as KeyValue).key, i);
  for (const kv of add) {
    const at = index.get(kv.key);
    if (at === undefined) attrs.push(kv);
    else if (override) attrs[at] = kv;
  }
  if (enrichment.serviceVersion && !index.has('service.version')) attrs.push(enrichment.serviceVersion);
}
