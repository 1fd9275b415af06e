export { SpanMetricsStage } from './span-metrics.js';
