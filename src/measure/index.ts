export { OVERFLOW_LABEL_VALUE, SPANMETRICS_BUCKETS_SECONDS, SpanMetricsStage } from './span-metrics.js';
export type { MeasureConfig, SpanMetricsOptions } from './span-metrics.js';
