import {
  attributeKeys,
  encodeAttributeFields,
  internResource,
  internScope,
  keyValueKeyEquals,
  ProtobufReader,
  ProtobufWriter,
  rewriteMessage,
  WireType,
  type KeyValue,
  type WireResource,
  type WireScope,
} from '../otlp/index.js';
import type { ResourceEnrichment } from './resource-enrichment.js';

const EMPTY = new Uint8Array(0);

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

  /**
   * An `ExportLogsServiceRequest` or `ExportMetricsServiceRequest` (issue 16) with the pod's attributes spliced into
   * the Resource (field 1) of each ResourceLogs / ResourceMetrics (field 1 of the request), as for spans: the same
   * merge, so the app's own keys win. A resource-less entry gets a Resource with the pod's attributes. Every other
   * byte is copied as it came; the request must have been scanned (wire-signal-scan.ts).
   */
  signalRequest(request: Uint8Array): Buffer {
    const r = new ProtobufReader(request);
    const w = new ProtobufWriter(request.length + 512);
    while (r.pos < r.end) {
      const fieldStart = r.pos;
      const tag = r.uint32();
      if (tag !== ((1 << 3) | WireType.LEN)) {
        r.skip(tag & 7);
        w.raw(r.buf.subarray(fieldStart, r.pos));
        continue;
      }
      const { start, end } = r.lengthDelimited();
      const t = w.begin(1);
      this.spliceResource(w, r.buf, start, end);
      w.end(t);
    }
    return Buffer.from(w.finish());
  }

  /** One ResourceLogs / ResourceMetrics: its `resource` (field 1) replaced by the enriched one. */
  private spliceResource(w: ProtobufWriter, buf: Buffer, start: number, end: number): void {
    const r = new ProtobufReader(buf.subarray(start, end));
    let resource: Uint8Array = EMPTY;
    const rest: Uint8Array[] = [];
    while (r.pos < r.end) {
      const fieldStart = r.pos;
      const tag = r.uint32();
      if (tag === ((1 << 3) | WireType.LEN)) {
        // A repeated message field merges; the last one is what a decoder keeps (resources carry no repeats).
        const b = r.lengthDelimited();
        resource = r.buf.subarray(b.start, b.end);
      } else {
        r.skip(tag & 7);
        rest.push(r.buf.subarray(fieldStart, r.pos));
      }
    }
    w.bytes(1, this.resource(internResource(resource, EMPTY, EMPTY)).resource, true);
    for (const part of rest) w.raw(part);
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
