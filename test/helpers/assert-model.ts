import assert from 'node:assert/strict';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Span, TraceData } from '../../src/otlp/index.js';
import { expectedResource, expectedSpan } from './sdk.js';

function flatten(data: TraceData): Span[] {
  return data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

/** Checks every decoded span, resource and scope against what the SDK recorded. */
export function assertSameAsRecorded(data: TraceData, recorded: readonly ReadableSpan[]): void {
  const bySpanId = new Map(flatten(data).map((s) => [s.spanId, s]));
  assert.equal(bySpanId.size, recorded.length, 'every span arrives exactly once');
  for (const r of recorded) {
    const got = bySpanId.get(r.spanContext().spanId);
    assert.ok(got, `span ${r.spanContext().spanId} arrived`);
    assert.deepStrictEqual(got, expectedSpan(r));
  }
  const first = recorded[0] as ReadableSpan;
  for (const rs of data.resourceSpans) {
    assert.deepStrictEqual(rs.resource.attributes, expectedResource(first));
    for (const ss of rs.scopeSpans) {
      assert.equal(ss.scope.name, 'sentinel-test');
      assert.equal(ss.scope.version, '0.0.1');
      assert.equal(ss.schemaUrl, 'https://opentelemetry.io/schemas/1.24.0');
    }
  }
}
