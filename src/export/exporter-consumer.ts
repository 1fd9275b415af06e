import { SentinelError } from '../errors.js';
import {
  SIGNAL_ITEMS,
  splitSignalRequest,
  type Signal,
  type TraceBatch,
  type TraceConsumer,
} from '../otlp/index.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import { BatchProcessor, type BatchOptions } from './batch-processor.js';
import { ExportQueue, inMemory, type QueueItem } from './export-queue.js';
import { RetryingExporter, type RetryOptions } from './retrying-exporter.js';
import type { SpanExporter } from './span-exporter.js';
import { systemClock, type Clock } from '../clock.js';

/** The queue keys of one exporter. */
export interface QueueOptions {
  /** `queue.dir`: empty keeps the queue in memory. */
  readonly dir: string;
  readonly maxBytes: number;
  /** Batches sent at the same time (`queue.num_consumers`). */
  readonly numConsumers: number;
}

export interface ExporterConsumerOptions {
  readonly batch?: Partial<BatchOptions>;
  readonly retry?: RetryOptions;
  readonly queue?: Partial<QueueOptions>;
  /** Drives batch timeouts and retry backoff (tests inject one). */
  readonly clock?: Clock;
  readonly random?: () => number;
  /** How long shutdown keeps sending what is queued before it stops (a persistent queue keeps the rest). */
  readonly drainTimeoutMs?: number;
  /**
   * The signal this stage carries (issue 16; default traces). Logs and metrics travel as encoded requests (the
   * exporter's `exportEncoded` sends them to the signal's service), are counted in
   * `exporter_{sent,failed}_{log_records,metric_points}_total`, and queue under `<name>/<signal>` (its own
   * sub-directory of `queue.dir`, so a replay sends them to the right service).
   */
  readonly signal?: Signal;
}

/** Why spans were not delivered: the `reason` label of `sentinel_exporter_failed_spans_total`. */
export type FailureReason =
  'permanent' | 'rejected' | 'retry_exhausted' | 'retry_disabled' | 'corrupt' | 'shutdown';

/**
 * One exporter's stage at the end of the pipeline: batch -> bounded queue (memory, or `queue.dir` on
 * disk) -> `queue.num_consumers` senders -> retry with backoff -> the exporter. Spans are accepted once
 * they are pending in the batcher; a full queue refuses new ones with SENTINEL_ERR_QUEUE_FULL, which the
 * receivers answer with RESOURCE_EXHAUSTED / 429, so nothing already acknowledged is ever dropped for room.
 * A permanent rejection drops the batch, counted and logged with the exporter's reason.
 */
export class ExporterConsumer implements TraceConsumer {
  private readonly batcher: BatchProcessor;
  private readonly queue: ExportQueue;
  private readonly retrying: RetryingExporter;
  private readonly numConsumers: number;
  private readonly drainTimeoutMs: number;
  private workers: Array<Promise<void>> = [];
  private started: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  /** Set when shutdown's drain is over: a batch that comes back retryable then stays queued. */
  private retriesStopped = false;
  private sending = 0;
  private loadedBytes = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly sent;
  private readonly failed;
  private readonly latency;
  readonly signal: Signal;
  private readonly clock: Clock;

  constructor(
    private readonly exporter: SpanExporter,
    metrics: Metrics,
    private readonly logger: Logger,
    options: ExporterConsumerOptions = {},
  ) {
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    const signal = options.signal ?? 'traces';
    this.signal = signal;
    const items = SIGNAL_ITEMS[signal];
    const noun = items.noun[0]!.toUpperCase() + items.noun.slice(1);
    this.sent = metrics.counter(`exporter_sent_${items.metric}_total`, `${noun} exporters delivered.`, [
      'exporter',
    ]);
    this.failed = metrics.counter(
      `exporter_failed_${items.metric}_total`,
      `${noun} exporters could not deliver, by reason.`,
      ['exporter', 'reason'],
    );
    this.latency = metrics.histogram(
      'exporter_send_duration_seconds',
      'Time to deliver one batch, retries included.',
      ['exporter'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    );
    this.retrying = new RetryingExporter(exporter, {
      ...options.retry,
      clock,
      ...(options.random ? { random: options.random } : {}),
      metrics,
      logger,
    });
    this.queue = new ExportQueue({
      name: signal === 'traces' ? exporter.name : `${exporter.name}/${signal}`,
      dir: options.queue?.dir ?? '',
      maxBytes: options.queue?.maxBytes ?? 256 * 1024 * 1024,
      metrics,
      logger,
    });
    this.numConsumers = Math.max(1, options.queue?.numConsumers ?? 4);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.batcher = new BatchProcessor({
      sendBatchSize: options.batch?.sendBatchSize ?? 8192,
      sendBatchMaxSize: options.batch?.sendBatchMaxSize ?? 0,
      timeoutMs: options.batch?.timeoutMs ?? 1000,
      clock,
      send: (b) => this.queue.push(b.encoded ?? b.data, b.spanCount, b.bytes),
      ...(signal === 'traces'
        ? {}
        : {
            splitEncoded: (request: Uint8Array, max: number) =>
              splitSignalRequest(signal, request, max).map((p) => ({
                request: p.request,
                spanCount: p.itemCount,
              })),
          }),
      onTimerError: (err, b) => this.drop(b.spanCount, 'shutdown', err as Error),
    });
  }

  get name(): string {
    return this.exporter.name;
  }

  /** Replays what a previous run left in `queue.dir`, then starts the senders. Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.queue.open();
      for (let i = 0; i < this.numConsumers; i++) this.workers.push(this.runSender());
    })();
    return this.started;
  }

  async consume(batch: TraceBatch): Promise<void> {
    if (!this.started && !this.stopped) await this.start();
    const refusal = this.refusal();
    if (refusal) throw refusal;
    await this.batcher.add(batch);
  }

  /** Why a batch offered now would be refused, if it would (FanOutConsumer asks every exporter first). */
  refusal(): SentinelError | undefined {
    if (this.stopped) return new SentinelError('SENTINEL_ERR_SHUTTING_DOWN', 'exporter is shut down');
    if (this.queue.isFull()) {
      return new SentinelError(
        'SENTINEL_ERR_QUEUE_FULL',
        `exporter ${this.exporter.name}: queue is full (${this.queue.sizeBytes()} bytes, queue.max_bytes); retry later`,
      );
    }
    return undefined;
  }

  /** Memory only: pending spans, batches held decoded in a memory queue, and batches being sent. */
  bufferedBytes(): number {
    return this.batcher.pendingBytes() + this.queue.memoryBytes() + this.loadedBytes;
  }

  /** Batches waiting in the queue (tests, the admin endpoint). */
  queuedBatches(): number {
    return this.queue.length;
  }

  /** Sends what the batcher holds into the queue and waits (up to the drain timeout) for the queue to empty. */
  async forceFlush(): Promise<void> {
    await this.batcher.flush();
    await this.waitIdle(this.drainTimeoutMs);
    await this.exporter.forceFlush();
  }

  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    await this.start();
    await this.batcher
      .flush()
      .catch((err: unknown) => this.logger.error({ err }, 'export: final flush failed'));
    const drained = await this.waitIdle(this.drainTimeoutMs);
    this.retriesStopped = true;
    this.retrying.stopRetrying();
    this.queue.close();
    await Promise.all(this.workers);
    const left = this.queue.remaining();
    if (!drained && left.length > 0) {
      let spans = 0;
      for (const item of left) {
        spans += item.spanCount;
        if (inMemory(item)) this.drop(item.spanCount, 'shutdown');
      }
      if (this.queue.persistent)
        this.logger.info(
          { exporter: this.exporter.name, spans },
          'export: batches left in queue.dir; they are sent after the next start',
        );
    }
    await this.exporter.shutdown();
  }

  private async runSender(): Promise<void> {
    for (;;) {
      const item = await this.queue.take();
      if (!item) return;
      this.sending++;
      try {
        await this.send(item);
      } finally {
        this.sending--;
        if (this.sending === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }

  private async send(item: QueueItem): Promise<void> {
    const exporter = this.exporter.name;
    const loaded = await this.queue.load(item, this.retrying.takesEncoded);
    if (typeof loaded === 'string') {
      // Already logged and counted as a corrupt file by the queue; its spans are counted here.
      this.failed.inc({ exporter, reason: 'corrupt' }, item.spanCount);
      await this.queue.remove(item);
      return;
    }
    // A record sent as stored holds its protobuf bytes; a decoded one its estimated heap bytes.
    let held = inMemory(item) ? 0 : 'request' in loaded ? loaded.request.byteLength : item.modelBytes;
    this.loadedBytes += held;
    const started = performance.now();
    try {
      const result =
        'request' in loaded
          ? await this.retrying.exportEncoded(loaded.request, item.spanCount)
          : await this.retrying.export(loaded.data, item.spanCount);
      this.latency.observe({ exporter }, (performance.now() - started) / 1000);
      if (result.kind === 'success') {
        const rejected = Math.min(item.spanCount, result.rejectedSpans ?? 0);
        this.sent.inc({ exporter }, item.spanCount - rejected);
        if (result.rejectedSpans !== undefined)
          this.drop(rejected, 'rejected', new Error(result.message || 'partial success'));
      } else if (result.kind === 'retryable') {
        if (this.retriesStopped) {
          this.queue.putBack(item); // stays queued (on disk: for the next start)
          return;
        }
        this.drop(item.spanCount, 'retry_disabled', result.error);
      } else {
        this.drop(item.spanCount, result.retriesExhausted ? 'retry_exhausted' : 'permanent', result.error);
      }
      await this.queue.remove(item);
    } catch (err) {
      // An exporter that throws instead of returning a result is a bug; the batch is not lost for it.
      this.logger.error({ exporter, err }, 'exporter threw; the batch stays queued');
      // Its bytes go with it (to a waiting sender, which counts them), not with this sender's pause.
      this.loadedBytes -= held;
      held = 0;
      this.queue.putBack(item);
      await this.clock.sleep(1000);
    } finally {
      this.loadedBytes -= held;
    }
  }

  private drop(spans: number, reason: FailureReason, error?: Error): void {
    const exporter = this.exporter.name;
    this.failed.inc({ exporter, reason }, spans);
    this.logger.warn(
      {
        exporter,
        signal: this.signal,
        reason,
        [SIGNAL_ITEMS[this.signal].metric]: spans,
        err: error?.message,
      },
      reason === 'permanent'
        ? 'dropped a batch the exporter rejected'
        : reason === 'rejected'
          ? 'the backend rejected some spans of a batch (partial success)'
          : `dropped a batch the exporter could not deliver (${reason})`,
    );
  }

  /** True once nothing is queued or being sent; false when `timeoutMs` passed first. */
  private waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.sending === 0 && this.queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      // Not unref()ed: a drain is bounded, and shutdown must not be cut short by an empty event loop.
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }
}
