/** What the attribute policy types share: the Collector's resource-or-span lookup and `invert_match`. */
import type { AnyValue, KeyValue } from '../../otlp/index.js';
import type { BufferedTrace, PolicySpan, SpanOrigin } from '../buffered-trace.js';
import { INVERTED_NOT_SAMPLED, INVERTED_SAMPLED, NOT_SAMPLED, SAMPLED, type Verdict } from './verdict.js';

/** The first attribute named `key`. */
function lookup(attributes: readonly KeyValue[], key: string): AnyValue | undefined {
  for (const kv of attributes) if (kv.key === key) return kv.value;
  return undefined;
}

/**
 * The Collector's `hasResourceOrSpanWithCondition` (and its inverted twin) over a buffered trace:
 * resources are checked once each, then spans.
 */
export function anyResourceOrSpan(
  trace: BufferedTrace,
  test: (value: AnyValue) => boolean,
  key: string,
  skipEmptySpanString = false,
): boolean {
  let lastResource: SpanOrigin['resource'] | undefined;
  const { spans, origins } = trace;
  for (let i = 0; i < spans.length; i++) {
    const resource = (origins[i] as SpanOrigin).resource;
    if (resource !== lastResource) {
      lastResource = resource;
      const v = lookup(resource.attributes, key);
      if (v !== undefined && test(v)) return true;
    }
    const v = lookup((spans[i] as PolicySpan).attributes, key);
    if (v !== undefined && !(skipEmptySpanString && v.kind === 'string' && v.value === '') && test(v))
      return true;
  }
  return false;
}

/** `invert_match`: InvertSampled unless some resource or span matches, then InvertNotSampled. */
export function matchVerdict(matched: boolean, invert: boolean): Verdict {
  if (invert) return matched ? INVERTED_NOT_SAMPLED : INVERTED_SAMPLED;
  return matched ? SAMPLED : NOT_SAMPLED;
}
