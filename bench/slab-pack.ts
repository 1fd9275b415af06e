/**
 * What packing one completion slab costs (src/sampling/completion/pack-codec.ts, session 16): raw deflate at
 * level 1 through one long-lived zlib stream (`DeflateStreamCodec`, Node 20's codec) against a `zlib.deflateRaw`
 * call per slab (the codec before), and zstd where Node has it. Process CPU (user + system: the thread pool's
 * deflate and the main thread's set-up) per slab, in alternating rounds in one process, as a ratio to the
 * per-call deflate of the same round.
 *
 * The slabs are the chart's (9 MiB of completion / 16 = 576 KiB), filled with bench/agent-footprint.ts's
 * requests (fresh ids in each, so that they pack as held spans do). The bench runs itself in a child with the
 * agent's glibc mmap threshold (src/injector/node-heap.ts), as the injected agent runs.
 *
 * Env: BENCH_SLABS (slabs per round, default 100), BENCH_ROUNDS (default 5).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { AGENT_MMAP_THRESHOLD_BYTES } from '../src/injector/node-heap.js';
import { deflateCodec, zstdCodec, type PackCodec } from '../src/sampling/completion/pack-codec.js';
import { footprintRequests } from './_footprint-request.js';
import { median } from './_stats.js';

if (process.env['SLAB_PACK_CHILD'] === undefined) {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, SLAB_PACK_CHILD: '1', MALLOC_MMAP_THRESHOLD_: String(AGENT_MMAP_THRESHOLD_BYTES) },
  });
  process.exit(r.status ?? 1);
}

const SLAB_BYTES = 576 << 10;
const SLABS = Number(process.env['BENCH_SLABS'] ?? 100);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

/** `n` slabs of request bytes, each request with fresh ids. */
function makeSlabs(n: number): Buffer[] {
  const next = footprintRequests(16);
  return Array.from({ length: n }, () => {
    const slab = Buffer.alloc(SLAB_BYTES);
    for (let at = 0; at < SLAB_BYTES;) at += next().copy(slab, at);
    return slab;
  });
}

type ZstdCompress = (buf: Buffer, options: object, done: (err: Error | null, out: Buffer) => void) => void;

/** The codec before session 16: one `zlib.deflateRaw` per slab, its output chunk a third of the slab. */
const perCall: PackCodec = {
  name: 'deflate',
  pack: (bytes, done) =>
    zlib.deflateRaw(bytes, { level: 1, chunkSize: Math.ceil(bytes.length / 3 / 4096) * 4096 }, done),
  unpack: (packed) => zlib.inflateRawSync(packed),
};

/** Packs every slab one after another (as the agent seals them); CPU ms per slab and the packed share. */
async function round(codec: PackCodec, slabs: Buffer[]): Promise<{ cpuMs: number; ratio: number }> {
  let packed = 0;
  const before = process.cpuUsage();
  for (const slab of slabs) {
    const out = await new Promise<Buffer>((resolve, reject) =>
      codec.pack(slab, (err, b) => (err ? reject(err) : resolve(b))),
    );
    packed += out.length;
  }
  const used = process.cpuUsage(before);
  return {
    cpuMs: (used.user + used.system) / 1000 / slabs.length,
    ratio: packed / (slabs.length * SLAB_BYTES),
  };
}

const slabs = makeSlabs(SLABS);
const codecs: Array<[string, PackCodec]> = [
  ['deflateRaw per slab (before)', perCall],
  ['one deflate stream (Node 20 now)', deflateCodec(64 << 10)],
];
const zstd = zlib as unknown as {
  zstdCompress?: ZstdCompress;
  constants: { ZSTD_c_compressionLevel?: number };
};
const zstdLevel = zstd.constants.ZSTD_c_compressionLevel;
const zstdStream = zstdCodec(64 << 10);
if (zstd.zstdCompress && zstdLevel !== undefined && zstdStream) {
  const compress = zstd.zstdCompress;
  codecs.push([
    'zstd per slab (session 15, Node 22.15+)',
    {
      name: 'zstd',
      pack: (bytes, done) => compress(bytes, { params: { [zstdLevel]: 1 } }, done),
      unpack: zstdStream.unpack,
    },
  ]);
  codecs.push(['one zstd stream (Node 22.15+ now)', zstdStream]);
}

// Each codec reads back what it packed.
for (const [name, codec] of codecs) {
  const out = await new Promise<Buffer>((resolve, reject) =>
    codec.pack(slabs[0] as Buffer, (err, b) => (err ? reject(err) : resolve(b))),
  );
  if (!codec.unpack(out).equals(slabs[0] as Buffer)) throw new Error(`${name} did not read back its slab`);
}

console.log(
  `cores: ${availableParallelism()}, node ${process.version}, MALLOC_MMAP_THRESHOLD_=${process.env['MALLOC_MMAP_THRESHOLD_']}; ${SLABS} slabs of ${SLAB_BYTES >> 10} KiB per round, ${ROUNDS} rounds alternated\n`,
);
const results = new Map<string, Array<{ cpuMs: number; ratio: number; vsBefore: number }>>();
for (let r = 0; r < ROUNDS + 1; r++) {
  let base = 0;
  for (const [name, codec] of codecs) {
    const x = await round(codec, slabs);
    if (codec === perCall) base = x.cpuMs;
    // The first round warms up (JIT, zlib's first states) and is not counted.
    if (r > 0) results.set(name, [...(results.get(name) ?? []), { ...x, vsBefore: x.cpuMs / base }]);
  }
}
console.log(
  '| codec | CPU ms per slab (median; range) | / per-call deflate, same round (median) | packed / slab |',
);
console.log('|---|---|---|---|');
for (const [name, rows] of results) {
  const cpu = rows.map((x) => x.cpuMs);
  console.log(
    `| ${name} | ${median(cpu).toFixed(2)} (${Math.min(...cpu).toFixed(2)}-${Math.max(...cpu).toFixed(2)}) | ${median(rows.map((x) => x.vsBefore)).toFixed(2)}x | ${median(rows.map((x) => x.ratio)).toFixed(3)} |`,
  );
}
