import {
  attributeKeys,
  encodeAttributeFields,
  internResource,
  internScope,
  keyValueKeyEquals,
  rewriteMessage,
  type KeyValue,
  type WireResource,
  type WireScope,
} from '../otlp/index.js';
import type { ResourceEnrichment } from './resource-enrichment.js';

/**
 * Enrichment on the agent's byte path (issue 13): the pod's attributes are encoded once per identity change and
 * appended to each Resource message as it came; with `override`, the app's own fields of those keys are taken
 * out first. Every other byte of the resource, unknown fields included, is kept. Resources are interned, so
 * the work is once per distinct resource and identity, not per request.
 */
export class WireEnrichment {
  private readonly resources = new WeakMap<WireResource, WireResource>();
  private readonly scopes = new WeakMap<WireScope, WireScope>();
  private readonly keyBytes: Uint8Array[];
  /** Every attribute of the enrichment, encoded once (the common case: the app set none of them). */
  private readonly all: Buffer;

  constructor(
    private readonly enrichment: ResourceEnrichment,
    private readonly override: boolean,
  ) {
    this.all = encodeAttributeFields(1, enrichment.attributes);
    this.keyBytes = enrichment.attributes.map((kv) => Buffer.from(kv.key));
  }

  /** The scope under its enriched resource. */
  scope(scope: WireScope): WireScope {
    let out = this.scopes.get(scope);
    if (out === undefined) {
      out = internScope(this.resource(scope.resource), scope.header);
      this.scopes.set(scope, out);
    }
    return out;
  }

  private resource(resource: WireResource): WireResource {
    let out = this.resources.get(resource);
    if (out === undefined) {
      out = internResource(this.merge(resource.resource), resource.extra, resource.requestExtra);
      this.resources.set(resource, out);
      // An already enriched resource (a request assembled by another agent) is left as it is.
      this.resources.set(out, out);
    }
    return out;
  }

  /** The same merge as `applyEnrichment` on the decoded model, on the Resource message's bytes. */
  private merge(bytes: Uint8Array): Buffer {
    const e = this.enrichment;
    const appKeys = attributeKeys(bytes, 1);
    let common = 0;
    for (const k of e.keys) if (appKeys.has(k)) common++;
    const version = e.serviceVersion && !appKeys.has('service.version') ? [e.serviceVersion] : [];
    let append: Buffer;
    if (common === 0 || this.override) append = this.all;
    else
      append = encodeAttributeFields(
        1,
        e.attributes.filter((kv) => !appKeys.has(kv.key)),
      );
    if (version.length > 0) append = Buffer.concat([append, encodeAttributeFields(1, version as KeyValue[])]);
    const drop =
      this.override && common > 0
        ? (field: number, s: number, end: number, buf: Uint8Array) =>
            field === 1 && this.keyBytes.some((k) => keyValueKeyEquals(buf, s, end, k))
        : () => false;
    return rewriteMessage(bytes, 0, bytes.length, drop, append);
  }
}
