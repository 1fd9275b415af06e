import { z } from 'zod';
import { duration } from './schema-types.js';

/** Span kinds by their OTLP names, as `measure.span_kinds` takes them. */
export const MEASURE_SPAN_KINDS = [
  'UNSPECIFIED',
  'INTERNAL',
  'SERVER',
  'CLIENT',
  'PRODUCER',
  'CONSUMER',
] as const;

/** `measure:` of the agent config (issue 8): span metrics counted before sampling. */
export const measureSchema = () =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Which spans are measured; by default the ones that are a request into the service (RED per endpoint). */
      span_kinds: z.array(z.enum(MEASURE_SPAN_KINDS)).default(['SERVER', 'CONSUMER']),
      /** Distinct label sets at most; spans beyond go to the overflow series (labels `otel_metric_overflow`). */
      max_series: z.number().int().positive().default(1000),
      /**
       * Metric names (issue 19): `sentinel` (`sentinel_spanmetrics_*`), `tempo` (Tempo's `traces_spanmetrics_calls_total`
       * and `traces_spanmetrics_latency`, which Grafana's APM table queries), or `both`.
       */
      naming: z.enum(['sentinel', 'tempo', 'both']).default('sentinel'),
      /** Constant labels on the Tempo-named series, so they can be told from a real Tempo's. */
      tempo_labels: z
        .record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string())
        .default({ source: 'sentinel' }),
      /**
       * Issue 16: also send the span metrics as OTLP metrics (the Collector spanmetrics connector's
       * `traces.span.metrics.calls` and `.duration`, cumulative) every this long, to the exporters that carry
       * metrics. 0: only on /metrics.
       */
      otlp_interval: duration().prefault('0s'),
    })
    .prefault({});
