/**
 * Where the store's memory goes while a block is built (issue 18, BENCHMARKS.md "Admission estimate" part 4).
 * The block encoder (src/storage/block-encoder.ts) encodes one WAL segment of typical spans (16 MiB requests of
 * SDK-like spans, as bench/admission.ts sends) on its worker thread, then compaction merges blocks the same way.
 * Printed per job: the worker isolate's heap, external and ArrayBuffer bytes at each phase of the job (the worker
 * reports them), and the process's resident set sampled every 20 ms (peak above the resident set before the job).
 * Segments are what the pipeline cuts at the default memory_limit_mib (block-pipeline.ts blockEncodeShare), or
 * BENCH_STORE_MEMORY_SPANS spans each.
 */
import { availableParallelism, loadavg } from 'node:os';
import { decodeTraceRequest, encodeTraceRequest } from '../src/otlp/index.js';
import { estimateProtobufRequest } from '../src/receiver/admission-estimate.js';
import { BlockEncoder, flattenTraceData } from '../src/storage/index.js';
import { blockEncodeShare } from '../src/store/block-pipeline.js';
import { createLogger } from '../src/telemetry/index.js';
import { makeTraces } from '../test/helpers/store-spans.js';

const MIB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const PER_REQUEST = 86_000; // about 16 MiB of protobuf per request of these spans

function segment(seed: number, spans: number): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  for (let n = 0, i = 0; n < spans; n += PER_REQUEST, i++) {
    const traces = Math.min(PER_REQUEST, spans - n) / 10;
    payloads.push(encodeTraceRequest(makeTraces({ traces, spansPerTrace: 10, seed: seed * 100 + i })));
  }
  return payloads;
}

const mib = (b: number) => (b / MIB).toFixed(0);

async function measured<T>(label: string, encoder: BlockEncoder, job: () => Promise<T>): Promise<T> {
  gc?.();
  gc?.();
  const before = process.memoryUsage();
  let peak = before.rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const started = performance.now();
  const out = await job();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  console.log(
    `\n${label}: ${seconds.toFixed(1)} s; process RSS ${mib(before.rss)} MiB before, peak ${mib(peak)} MiB ` +
      `(+${mib(peak - before.rss)} MiB); main heap ${mib(before.heapUsed)} MiB\n\n` +
      '| worker phase | heap used | external | arrayBuffers | process RSS |\n| --- | ---: | ---: | ---: | ---: |',
  );
  for (const m of encoder.lastJobMemory) {
    console.log(
      `| ${m.phase} | ${mib(m.heapUsed)} MiB | ${mib(m.external)} MiB | ${mib(m.arrayBuffers)} MiB | ${mib(m.rss)} MiB |`,
    );
  }
  return out;
}

console.log(
  `store-memory: ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)} (machine shared ` +
    'with other sessions)',
);
// As the store sets it up for the default memory_limit_mib (1024): the worker's heap limit, the segment's price.
const share = blockEncodeShare(1024);
const encoder = new BlockEncoder({
  logger: createLogger('warn'),
  useWorker: true,
  workerHeapMiB: share.workerHeapMiB,
});
encoder.warmUp();
const blocks: Uint8Array[] = [];
try {
  // Segments as the pipeline cuts them (requests until their price reaches maxEncodeBytes), or of
  // BENCH_STORE_MEMORY_SPANS spans (before the price bound, bench/admission.ts saw about 600,000 cut).
  const one = segment(99, PER_REQUEST)[0]!;
  const perSegment = Math.ceil(share.maxEncodeBytes / estimateProtobufRequest(one)) * PER_REQUEST;
  const spansPerSegment = Number(process.env['BENCH_STORE_MEMORY_SPANS'] ?? perSegment);
  const sizes = [spansPerSegment, spansPerSegment];
  for (let b = 0; b < sizes.length; b++) {
    const spans = sizes[b]!;
    let payloads: Uint8Array[] | undefined = segment(b + 1, spans);
    const bytes = payloads.reduce((n, p) => n + p.byteLength, 0);
    const block = await measured(
      `encode: segment ${b + 1}, ${payloads.length} requests, ${mib(bytes)} MiB of protobuf`,
      encoder,
      () =>
        encoder.encode({
          payloads: payloads!,
          spans,
          // Used only if the worker fails (the encoder then logs a warning and encodes on this thread).
          rows: () => payloads!.flatMap((p) => flattenTraceData(decodeTraceRequest(p))),
          blockId: `bench${b}`,
          nowMs: Date.now(),
        }),
    );
    payloads = undefined;
    if (block.meta.spanCount !== spans) throw new Error(`block holds ${block.meta.spanCount} spans`);
    console.log(
      `\nblock: ${mib(block.parquet.byteLength)} MiB of Parquet, ${block.meta.rowGroups.length} row groups`,
    );
    blocks.push(block.parquet);
  }
  const merged = await measured(`merge (compaction) of the ${blocks.length} blocks`, encoder, () =>
    encoder.merge({ blocks, blockId: 'benchmerged', nowMs: Date.now(), replaces: [], compactionLevel: 1 }),
  );
  const total = sizes.reduce((a, b) => a + b, 0);
  if (merged.meta.spanCount !== total) throw new Error(`merged ${merged.meta.spanCount} spans, not ${total}`);
} finally {
  await encoder.close();
}
