export { AdminServer } from './admin-server.js';
export type { AdminServerOptions } from './admin-server.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export { Metrics, METRIC_PREFIX } from './metrics.js';
export { installShutdown } from './signal-shutdown.js';
export {
  bucketIndex,
  PlainHistogram,
  pushHistogramSamples,
  registerCollectedMetric,
} from './collected-metric.js';
export type { CollectedValue } from './collected-metric.js';
