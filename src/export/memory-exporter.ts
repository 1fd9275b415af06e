import type { Span, TraceData } from '../otlp/index.js';
import { SUCCESS, type ExportResult, type SpanExporter } from './span-exporter.js';

/** Keeps everything exported in memory: for tests and for embedding. */
export class InMemoryExporter implements SpanExporter {
  readonly name: string;
  readonly exported: TraceData[] = [];
  /** Encoded logs and metrics requests as exported (issue 16). */
  readonly logs: Uint8Array[] = [];
  readonly metrics: Uint8Array[] = [];
  private stopped = false;

  constructor(name = 'memory') {
    this.name = name;
  }

  async export(data: TraceData): Promise<ExportResult> {
    if (this.stopped) return { kind: 'failure', error: new Error('exporter is shut down') };
    this.exported.push(data);
    return SUCCESS;
  }

  async exportLogs(request: Uint8Array): Promise<ExportResult> {
    if (this.stopped) return { kind: 'failure', error: new Error('exporter is shut down') };
    this.logs.push(request);
    return SUCCESS;
  }

  async exportMetrics(request: Uint8Array): Promise<ExportResult> {
    if (this.stopped) return { kind: 'failure', error: new Error('exporter is shut down') };
    this.metrics.push(request);
    return SUCCESS;
  }

  spans(): Span[] {
    const out: Span[] = [];
    for (const d of this.exported)
      for (const rs of d.resourceSpans) for (const ss of rs.scopeSpans) out.push(...ss.spans);
    return out;
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.stopped = true;
  }
}
