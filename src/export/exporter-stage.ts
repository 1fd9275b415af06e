import { SentinelError } from '../errors.js';
import type { Signal, SignalBatch, TraceBatch, TraceConsumer } from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { ExporterConsumer, type ExporterConsumerOptions } from './exporter-consumer.js';
import { failure, type ExportResult, type SpanExporter } from './span-exporter.js';

export const ALL_SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];

/** The signals an exporter can carry: traces always, logs and metrics when it has `exportLogs` / `exportMetrics`. */
export function signalsOf(exporter: SpanExporter): Signal[] {
  return ALL_SIGNALS.filter(
    (s) =>
      s === 'traces' ||
      (s === 'logs' ? exporter.exportLogs !== undefined : exporter.exportMetrics !== undefined),
  );
}

/**
 * One exporter with one batch -> queue -> retry stage per signal it carries (issue 16): `exporters[].signals`,
 * by default every signal it can carry. Each signal has its own batcher, queue (a `<name>/<signal>`
 * sub-directory of `queue.dir` for logs and metrics) and metrics; the exporter's client is shared and closed
 * once every stage has drained.
 */
export class ExporterStage implements TraceConsumer {
  readonly signals: ReadonlySet<Signal>;
  private readonly stages = new Map<Signal, ExporterConsumer>();
  readonly consumeLogs?: (batch: SignalBatch) => Promise<void>;
  readonly consumeMetrics?: (batch: SignalBatch) => Promise<void>;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly exporter: SpanExporter,
    metrics: Metrics,
    logger: Logger,
    options: ExporterConsumerOptions = {},
    /** `exporters[].signals`; undefined: every signal the exporter can carry. */
    signals?: readonly Signal[],
  ) {
    const can = signalsOf(exporter);
    const wanted = signals ?? can;
    const cannot = wanted.filter((s) => !can.includes(s));
    if (cannot.length > 0)
      throw new SentinelError(
        'SENTINEL_ERR_CONFIG_INVALID',
        `exporter ${exporter.name}: signals lists ${cannot.join(', ')}, which this exporter cannot carry (it carries ${can.join(', ')})`,
      );
    this.signals = new Set(wanted);
    for (const signal of wanted)
      this.stages.set(
        signal,
        new ExporterConsumer(signalView(exporter, signal), metrics, logger, { ...options, signal }),
      );
    const logs = this.stages.get('logs');
    if (logs) this.consumeLogs = (b) => logs.consume(asTraceBatch(b));
    const metricsStage = this.stages.get('metrics');
    if (metricsStage) this.consumeMetrics = (b) => metricsStage.consume(asTraceBatch(b));
  }

  get name(): string {
    return this.exporter.name;
  }

  /** The stage of one signal (tests, the agent's logs). */
  stage(signal: Signal): ExporterConsumer | undefined {
    return this.stages.get(signal);
  }

  /** Replays each signal's persistent queue, then starts its senders. */
  async start(): Promise<void> {
    await Promise.all([...this.stages.values()].map((s) => s.start()));
  }

  /** Traces not carried by this exporter are not its business: taken and not sent. */
  consume(batch: TraceBatch): Promise<void> {
    const traces = this.stages.get('traces');
    return traces ? traces.consume(batch) : Promise.resolve();
  }

  /** Why a batch of `signal` offered now would be refused (FanOutConsumer asks every exporter first). */
  refusal(signal: Signal = 'traces'): Error | undefined {
    return this.stages.get(signal)?.refusal();
  }

  bufferedBytes(): number {
    let n = 0;
    for (const s of this.stages.values()) n += s.bufferedBytes();
    return n;
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.stages.values()].map((s) => s.forceFlush()));
  }

  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...this.stages.values()].map((s) => s.shutdown()));
      await this.exporter.shutdown();
    })();
    return this.stopping;
  }
}

function asTraceBatch(b: SignalBatch): TraceBatch {
  return { data: EMPTY_DATA, spanCount: b.itemCount, bytes: b.bytes, encoded: b.encoded };
}

const EMPTY_DATA = Object.freeze({ resourceSpans: [] });

/**
 * The exporter as one signal's stage sees it: `exportEncoded` sends that signal; shutdown is the ExporterStage's
 * (after every signal drained).
 */
function signalView(exporter: SpanExporter, signal: Signal): SpanExporter {
  const send =
    signal === 'traces'
      ? exporter.exportEncoded?.bind(exporter)
      : signal === 'logs'
        ? exporter.exportLogs?.bind(exporter)
        : exporter.exportMetrics?.bind(exporter);
  const view: SpanExporter = {
    name: exporter.name,
    export:
      signal === 'traces'
        ? (data, n) => exporter.export(data, n)
        : async (): Promise<ExportResult> =>
            failure(new Error(`exporter ${exporter.name}: ${signal} travel encoded only`)),
    forceFlush: () => exporter.forceFlush(),
    shutdown: async () => {},
  };
  if (send) view.exportEncoded = send;
  return view;
}
