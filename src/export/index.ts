export { createExporter, exporterName, exporterStageOptions } from './create-exporters.js';
export { FanOutConsumer } from './fan-out.js';
export { ExporterStage } from './exporter-stage.js';
export type { SpanExporter } from './span-exporter.js';
// StorageExporter is not exported here: it loads Parquet, and createExporter imports it only for a storage exporter.
