export { DebugExporter } from './debug-exporter.js';
export { ExporterConsumer } from './exporter-consumer.js';
export { FanOutConsumer } from './fan-out.js';
export { InMemoryExporter } from './memory-exporter.js';
export { SUCCESS } from './span-exporter.js';
export type { ExportResult, SpanExporter } from './span-exporter.js';
