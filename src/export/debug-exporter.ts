import { countSpans, type TraceData } from '../otlp/index.js';
import { spanToJson } from '../otlp/index.js';
import type { Logger } from '../telemetry/index.js';
import { SUCCESS, type ExportResult, type SpanExporter } from './span-exporter.js';

/**
 * Logs a summary of each batch (the Collector's `debug` exporter). `basic` logs counts at info;
 * `detailed` logs every span, at debug level only, so span payloads never reach info logs.
 */
export class DebugExporter implements SpanExporter {
  readonly name: string;

  constructor(
    private readonly logger: Logger,
    private readonly verbosity: 'basic' | 'detailed' = 'basic',
    name = 'debug',
  ) {
    this.name = name;
  }

  async export(data: TraceData): Promise<ExportResult> {
    const services = new Set<string>();
    for (const rs of data.resourceSpans) {
      const svc = rs.resource.attributes.find((a) => a.key === 'service.name')?.value;
      if (svc?.kind === 'string') services.add(svc.value);
    }
    this.logger.info(
      {
        exporter: this.name,
        spans: countSpans(data),
        resourceSpans: data.resourceSpans.length,
        services: [...services],
      },
      'debug exporter: batch',
    );
    if (this.verbosity === 'detailed') {
      for (const rs of data.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) this.logger.debug({ span: spanToJson(s) }, 'span');
    }
    return SUCCESS;
  }

  /** Logs: a count per batch (issue 16); the records stay out of the agent's own logs. */
  async exportLogs(request: Uint8Array, itemCount: number): Promise<ExportResult> {
    this.logger.info(
      { exporter: this.name, logRecords: itemCount, bytes: request.byteLength },
      'debug exporter: logs',
    );
    return SUCCESS;
  }

  /** Metrics: a count per batch (issue 16). */
  async exportMetrics(request: Uint8Array, itemCount: number): Promise<ExportResult> {
    this.logger.info(
      { exporter: this.name, dataPoints: itemCount, bytes: request.byteLength },
      'debug exporter: metrics',
    );
    return SUCCESS;
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
