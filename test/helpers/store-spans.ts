import { randomBytes } from 'node:crypto';
import type { KeyValue, Resource, ResourceSpans, Span, TraceData } from '../../src/otlp/index.js';
import { av } from '../../src/otlp/index.js';

/** A deterministic pseudo-random source, so generated spans are the same in every run. */
export function rng(seed = 42): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, digits: number): string {
  let s = '';
  while (s.length < digits)
    s += Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, digits);
}

export function randomTraceId(): string {
  return randomBytes(16).toString('hex');
}

const SERVICES = ['checkout', 'cart', 'payment', 'shipping', 'frontend'];

function resourceFor(service: string, variant: string, pod: number): Resource {
  return {
    attributes: [
      { key: 'service.name', value: av.string(service) },
      { key: 'service.version', value: av.string(variant === 'canary' ? '1.1.0' : '1.0.0') },
      { key: 'k8s.namespace.name', value: av.string('shop') },
      { key: 'k8s.pod.name', value: av.string(`${service}-${variant}-7d9f-${pod}`) },
      { key: 'k8s.node.name', value: av.string(`node-${pod % 3}`) },
      { key: 'k8s.deployment.name', value: av.string(`${service}-${variant}`) },
      { key: 'deployment.variant', value: av.string(variant) },
    ],
    droppedAttributesCount: 0,
  };
}

/** Options for `makeTraces`. */
export interface MakeTracesOptions {
  readonly traces: number;
  readonly spansPerTrace?: number;
  readonly seed?: number;
  /** Start of the first trace, unix ms. */
  readonly startMs?: number;
  /** Adds every AnyValue kind, events, links, odd flags and dropped counts (the lossless round trip). */
  readonly exotic?: boolean;
}

/** Span-like test data: `traces` traces of `spansPerTrace` spans across a few services, as OTLP batches. */
export function makeTraces(options: MakeTracesOptions): TraceData {
  const random = rng(options.seed ?? 42);
  const perTrace = options.spansPerTrace ?? 10;
  const startMs = options.startMs ?? Date.UTC(2026, 0, 15, 10, 0, 0);
  const byResource = new Map<string, ResourceSpans>();
  for (let t = 0; t < options.traces; t++) {
    const traceId = hex(random, 32);
    const traceStart = BigInt(startMs + t) * 1_000_000n + BigInt(Math.floor(random() * 1e6));
    let parent = '';
    for (let i = 0; i < perTrace; i++) {
      const service = SERVICES[(t + i) % SERVICES.length]!;
      const variant = random() < 0.2 ? 'canary' : 'baseline';
      const pod = Math.floor(random() * 4);
      const rkey = `${service}/${variant}/${pod}`;
      let rs = byResource.get(rkey);
      if (!rs) {
        rs = {
          resource: resourceFor(service, variant, pod),
          scopeSpans: [
            {
              scope: {
                name: '@opentelemetry/instrumentation-http',
                version: '0.57.0',
                attributes: [],
                droppedAttributesCount: 0,
              },
              spans: [],
              schemaUrl: '',
            },
          ],
          schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        };
        byResource.set(rkey, rs);
      }
      const spanId = hex(random, 16);
      const start = traceStart + BigInt(i) * 1_000_000n;
      const duration = BigInt(Math.floor(random() * 50_000_000));
      const error = random() < 0.02;
      const attributes: KeyValue[] = [
        { key: 'http.request.method', value: av.string(i % 2 ? 'GET' : 'POST') },
        { key: 'http.response.status_code', value: av.int(error ? 500 : 200) },
        { key: 'url.path', value: av.string(`/api/${service}/${Math.floor(random() * 100)}`) },
      ];
      const span: Span = {
        traceId,
        spanId,
        traceState: '',
        parentSpanId: parent,
        flags: 1,
        name: `${i % 2 ? 'GET' : 'POST'} /api/${service}`,
        kind: i === 0 ? 2 : 3,
        startTimeUnixNano: start,
        endTimeUnixNano: start + duration,
        attributes,
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: error ? 2 : 0, message: error ? 'upstream failed' : '' },
      };
      if (options.exotic) addExotic(span, random, t, i);
      rs.scopeSpans[0]!.spans.push(span);
      parent = spanId;
    }
  }
  return { resourceSpans: [...byResource.values()] };
}

function addExotic(span: Span, random: () => number, t: number, i: number): void {
  span.traceState = 'vendor=abc,other=1';
  span.flags = 0x101;
  span.droppedAttributesCount = 3;
  span.droppedEventsCount = 1;
  span.droppedLinksCount = 2;
  span.status = { code: 1, message: 'fine "quoted" ✓' };
  span.kind = (t + i) % 7; // includes an unknown kind (6)
  span.attributes.push(
    { key: 'bool', value: av.bool(random() < 0.5) },
    { key: 'int.big', value: av.int(9007199254740993n) },
    { key: 'int.neg', value: av.int(-9223372036854775808n) },
    { key: 'double.whole', value: av.double(2) },
    { key: 'double.frac', value: av.double(random()) },
    { key: 'double.nan', value: av.double(NaN) },
    { key: 'double.inf', value: av.double(-Infinity) },
    { key: 'double.negzero', value: av.double(-0) },
    { key: 'bytes', value: av.bytes(new Uint8Array([0, 1, 2, 255])) },
    { key: 'array', value: av.array([av.string('a'), av.int(1), av.double(1.5), av.array([]), av.empty()]) },
    {
      key: 'kvlist',
      value: av.kvlist([{ key: 'nested', value: av.kvlist([{ key: 'x', value: av.bool(true) }]) }]),
    },
    { key: 'empty', value: av.empty() },
    { key: '123', value: av.string('numeric key keeps its place') },
    { key: 'bool', value: av.string('a duplicate key is kept') },
    { key: 'sampling.weight', value: av.double(4) },
    { key: 'unicode ключ 🔑', value: av.string('line\nbreak\ttab\u0000nul') },
  );
  span.events.push(
    {
      timeUnixNano: span.startTimeUnixNano + 5n,
      name: 'exception',
      attributes: [{ key: 'exception.type', value: av.string('Error') }],
      droppedAttributesCount: 1,
    },
    { timeUnixNano: 18446744073709551615n, name: '', attributes: [], droppedAttributesCount: 0 },
  );
  span.links.push({
    traceId: hex(random, 32),
    spanId: hex(random, 16),
    traceState: 'k=v',
    attributes: [{ key: 'link.kind', value: av.string('follows') }],
    droppedAttributesCount: 0,
    flags: 0x301,
  });
}
