/**
 * The store's logs (issue 16): what a log record costs the store beside a span, measured in the same run. Four
 * questions: records per second one core decodes and validates at the door (beside the span decoder on spans), records
 * per second into a Parquet logs block (beside `encodeBlock` on spans), bytes stored per record (beside per span),
 * and records per second through the whole logs pipeline (beside the store pipeline on spans). Log records are made by
 * the OpenTelemetry SDK and serialized by its protobuf serializer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  countSpans,
  decodeLogsRequest,
  decodeTraceRequest,
  encodeTraceRequest,
  keepValidLogs,
} from '../src/otlp/index.js';
import { encodeBlock, flattenLogsData, flattenTraceData } from '../src/storage/index.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { encodeLogsBlock } from '../src/storage/logs-block.js';
import { BlockPipeline } from '../src/store/block-pipeline.js';
import { LogsPipeline } from '../src/store/logs-pipeline.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`# store logs: node ${process.version}, ${availableParallelism()} cores (figures are one core)`);

const RECORDS = 50_000;
const exporter = new InMemoryLogRecordExporter();
const provider = new LoggerProvider({
  resource: resourceFromAttributes({
    'service.name': 'checkout',
    'service.version': '1.4.2',
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': 'checkout-7d9f-1',
    'k8s.node.name': 'node-1',
    'k8s.deployment.name': 'checkout',
    'deployment.variant': 'baseline',
  }),
  processors: [new SimpleLogRecordProcessor({ exporter })],
});
const logger = provider.getLogger('shop.orders', '2.1.0');
const severities = [
  [9, 'INFO'],
  [9, 'INFO'],
  [9, 'INFO'],
  [5, 'DEBUG'],
  [13, 'WARN'],
  [17, 'ERROR'],
] as const;
for (let i = 0; i < RECORDS; i++) {
  const [severityNumber, severityText] = severities[i % severities.length]!;
  const traced = i % 5 !== 0;
  logger.emit({
    severityNumber,
    severityText,
    body: `order ${i} placed for customer ${i % 977} with ${i % 7} items`,
    attributes: { 'order.id': `o-${i}`, 'http.route': '/api/checkout', items: i % 7, 'sampling.weight': 10 },
    context: traced
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: (i * 7919).toString(16).padStart(32, '0'),
          spanId: (i + 1).toString(16).padStart(16, '0'),
          traceFlags: 1,
        })
      : ROOT_CONTEXT,
  });
}
await provider.forceFlush();
const records = exporter.getFinishedLogRecords();
// Requests of 500 records, as an SDK's batch processor sends them.
const requests: Uint8Array[] = [];
for (let i = 0; i < records.length; i += 500)
  requests.push(ProtobufLogsSerializer.serializeRequest(records.slice(i, i + 500))!);
const logBytes = requests.reduce((n, r) => n + r.byteLength, 0);

const traces = makeTraces({ traces: RECORDS / 10 });
const spanRequest = encodeTraceRequest(traces);
const SPANS = RECORDS;

const best = (runs: number, f: () => void) => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    min = Math.min(min, performance.now() - t);
  }
  return min;
};

// 1. Decode + validate at the door.
const decodeLogsMs = best(5, () => {
  for (const r of requests) keepValidLogs(decodeLogsRequest(r));
});
const decodeSpansMs = best(5, () => decodeTraceRequest(spanRequest));
console.log(
  `decode at the door: ${fmt((RECORDS / decodeLogsMs) * 1000)} log records/s (decode + validate)` +
    ` | baseline: ${fmt((SPANS / decodeSpansMs) * 1000)} spans/s (decodeTraceRequest)`,
);

// 2. Into Parquet.
const logRows = requests.flatMap((r) => flattenLogsData(decodeLogsRequest(r)));
const spanRows = flattenTraceData(traces);
encodeLogsBlock(logRows.slice(0, 2000));
encodeBlock(spanRows.slice(0, 2000));
let logBlock = encodeLogsBlock(logRows);
const encodeLogsMs = best(3, () => (logBlock = encodeLogsBlock(logRows)));
let spanBlock = encodeBlock(spanRows);
const encodeSpansMs = best(3, () => (spanBlock = encodeBlock(spanRows)));
console.log(
  `into a Parquet block: ${fmt((RECORDS / encodeLogsMs) * 1000)} log records/s (${fmt(encodeLogsMs)} ms for ${fmt(RECORDS)})` +
    ` | baseline: ${fmt((SPANS / encodeSpansMs) * 1000)} spans/s (encodeBlock, ${fmt(encodeSpansMs)} ms)`,
);

// 3. Bytes.
console.log(
  `bytes stored: ${(logBlock.parquet.byteLength / RECORDS).toFixed(1)} B per log record (OTLP protobuf ${(logBytes / RECORDS).toFixed(1)} B)` +
    ` | baseline: ${(spanBlock.parquet.byteLength / SPANS).toFixed(1)} B per span (OTLP protobuf ${(spanRequest.byteLength / SPANS).toFixed(1)} B)`,
);
console.log(
  `ratios (logs / spans, same run): decode ${(decodeLogsMs / decodeSpansMs).toFixed(2)}x the time, encode ${(encodeLogsMs / encodeSpansMs).toFixed(2)}x the time`,
);

// 4. The whole ingest path on one core (WAL append + fdatasync, block cut, encode, upload to a local directory), the
// logs pipeline beside the traces' block pipeline on the same number of spans, both encoding on the main thread.
const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-store-logs-'));
const common = {
  store: new LocalObjectStore(join(dir, 'blocks')),
  walMaxBytes: 1 << 30,
  maxBlockBytes: 64 << 20,
  maxBlockAgeMs: 3_600_000,
  retryInitialMs: 100,
  retryMaxMs: 1000,
  logger: silentLogger(),
  metrics: new Metrics(),
  tickMs: 0,
};
const logsPipeline = new LogsPipeline({ ...common, walDir: join(dir, 'logs-wal'), maxBlockRecords: 25_000 });
await logsPipeline.start();
let t = performance.now();
await Promise.all(
  requests.map((r) => logsPipeline.consumeLogs({ encoded: r, itemCount: 500, bytes: r.byteLength })),
);
await logsPipeline.forceFlush();
const logsPipeMs = performance.now() - t;
await logsPipeline.shutdown();
const logsWritten = await common.metrics.value('store_logs_written_total');
if (logsWritten !== RECORDS) throw new Error(`the logs pipeline wrote ${logsWritten} of ${RECORDS} records`);
const spanBatches = Array.from({ length: 50 }, (_, i) => makeTraces({ traces: SPANS / 500, seed: 2000 + i }));
const spanPipeline = new BlockPipeline({
  ...common,
  metrics: new Metrics(),
  walDir: join(dir, 'wal'),
  maxBlockSpans: 25_000,
  encodeInWorker: false,
});
await spanPipeline.start();
t = performance.now();
await Promise.all(
  spanBatches.map((b) => spanPipeline.consume({ data: b, spanCount: countSpans(b), bytes: 1 })),
);
await spanPipeline.forceFlush();
const spanPipeMs = performance.now() - t;
await spanPipeline.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(
  `logs pipeline (WAL fsync + blocks + upload): ${fmt((RECORDS / logsPipeMs) * 1000)} log records/s` +
    ` | baseline: ${fmt((SPANS / spanPipeMs) * 1000)} spans/s (the block pipeline, same run)` +
    ` | ratio ${(logsPipeMs / spanPipeMs).toFixed(2)}x the time`,
);
