import { z } from 'zod';
import { duration } from './schema-types.js';

/** Tempo's default service-graph buckets (`prometheus.ExponentialBuckets(0.1, 2, 8)`): 0.1 s .. 12.8 s. */
export const SERVICE_GRAPH_BUCKETS_SECONDS: readonly number[] = Array.from(
  { length: 8 },
  (_, i) => 0.1 * 2 ** i,
);

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = new Set(['client', 'server', 'connection_type', 'le']);

/**
 * `service_graph:` of the store config (issue 19): CLIENT/SERVER pairs in the spans the store receives, as
 * Tempo's metrics-generator and the Collector's servicegraph connector build them, weighted by the sample.
 */
export const serviceGraphSchema = () =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How long a half of a pair waits for its other half (Tempo's and the connector's `wait`). */
      wait: duration().prefault('10s'),
      /** Halves waiting at most; a span that would need one more is dropped, counted (Tempo's `max_items`). */
      max_items: z.number().int().positive().default(10_000),
      /** Distinct (client, server, connection_type) series at most; further pairs count under the overflow one. */
      max_edges: z.number().int().positive().default(1000),
      /** Latency buckets of `..._server_seconds` and `..._client_seconds`, in seconds. */
      histogram_buckets: z
        .array(z.number().positive())
        .min(1)
        .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]!), 'expected strictly increasing bounds')
        .default([...SERVICE_GRAPH_BUCKETS_SECONDS]),
      /** Attributes naming the server of a CLIENT span that no SERVER span answers: a virtual node, first found wins. */
      peer_attributes: z
        .array(z.string().min(1))
        .default(['peer.service', 'db.name', 'db.system', 'server.address']),
      /** Constant labels on every `traces_service_graph_*` series, so they can be told from a real Tempo's. */
      labels: z
        .record(z.string(), z.string())
        .superRefine((labels, ctx) => {
          for (const name of Object.keys(labels)) {
            if (!LABEL_NAME.test(name) || RESERVED_LABELS.has(name))
              ctx.addIssue({
                code: 'custom',
                path: [name],
                message: `expected a Prometheus label name other than client, server, connection_type and le, got ${JSON.stringify(name)}`,
              });
          }
        })
        .default({ source: 'sentinel' }),
      /** Prepended to the metric names (`sentinel_` gives `sentinel_traces_service_graph_request_total`). */
      prefix: z
        .string()
        .regex(/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/, 'expected a metric name prefix')
        .default(''),
      /**
       * Every sampling agent runs the decision feed (`sampling.completion`), so a trace kept by a rule anywhere is
       * kept whole: a pair with a side kept by a rule then counts 1, not 1/p (ARCHITECTURE.md "store: the
       * service graph"). False: sides are taken as sampled independently, and a pair counts its larger weight.
       */
      whole_traces: z.boolean().default(true),
      /** How far back `GET /api/servicegraph` can look: per-minute totals kept in memory. */
      history: duration().prefault('1h'),
    })
    .prefault({});

export type ServiceGraphConfig = z.output<ReturnType<typeof serviceGraphSchema>>;
