/**
 * V8 heap limits for the injected agent, from the memory limit the injector gives its container (issue 13).
 *
 * Why set them at all: Node sizes V8 from the cgroup limit it runs under (uv_get_constrained_memory, then
 * V8's ResourceConstraints::ConfigureDefaults -> Heap::HeapSizeFromPhysicalMemory), with V8's heuristic for a
 * whole machine of that size: about half of it as old space and a small young generation. That heuristic knows
 * nothing of what else the process holds, and where Node cannot read the cgroup (an older cgroup layout) it
 * sizes for the node's memory instead. The agent knows its own shape, so the injector states it:
 *
 * - `reserve`: what lives outside the V8 heap and still counts against the container: Node itself (about
 *   40 MiB resident with no module loaded: bench/agent-footprint.ts "Node alone"), the compiled code of the
 *   agent's modules, and Buffers (requests being received, export batches, the disk queue's writes, and the
 *   span bytes the trace and completion buffers hold once spans stay as wire bytes). A quarter of the limit,
 *   at least 64 MiB.
 * - young generation: `--max-semi-space-size` = limit / 128, a power of two from 1 to 8 MiB (V8 reserves three
 *   semi-spaces for the young generation). Spans are allocated at a high rate and most of each request's
 *   objects die young; a 1 MiB semi-space promotes them to the old space after a scavenge or two and makes
 *   the old-space collector do their work. 2 MiB at 288 MiB: 6 MiB of young generation. It was limit / 64
 *   (4 MiB) until the agent allocated half as much per span (session 5): at 10k spans/s with the chart's
 *   config, 2 MiB against 4 MiB gives 155 scavenges instead of 92 in the same total pause (125 against
 *   121 ms), mark-compact pauses 136 against 179 ms, and 4 MiB less peak RSS (146 against 150 MiB).
 * - old space: what is left, `--max-old-space-size` = limit - reserve - 3 x semi-space, at least 32 MiB.
 *
 * With these, V8 collects before the container reaches its limit, and a heap that cannot fit fails with
 * V8's own "heap out of memory" report rather than a silent OOM kill by the kernel. The memory budget
 * (`memory_limit_mib`, backpressure at the door) is what keeps the held spans within the limit; these flags
 * only make the heap agree with it.
 */

import { parseQuantity } from './quantity.js';

const MiB = 2 ** 20;
const MIN_RESERVE_MIB = 64;
const MIN_OLD_SPACE_MIB = 32;
const MAX_SEMI_SPACE_MIB = 8;

/** The V8 heap sizes (MiB) for a container memory limit in bytes. */
export function v8HeapSizesMiB(limitBytes: number): { oldSpaceMiB: number; semiSpaceMiB: number } {
  const limitMiB = Math.floor(limitBytes / MiB);
  const semiSpaceMiB = Math.min(MAX_SEMI_SPACE_MIB, 2 ** Math.max(0, Math.floor(Math.log2(limitMiB / 128))));
  const reserveMiB = Math.max(MIN_RESERVE_MIB, Math.floor(limitMiB / 4));
  const oldSpaceMiB = Math.max(MIN_OLD_SPACE_MIB, limitMiB - reserveMiB - 3 * semiSpaceMiB);
  return { oldSpaceMiB, semiSpaceMiB };
}

/**
 * NODE_OPTIONS for an agent whose container has `limitBytes` of memory; undefined without a usable limit (no
 * limit, or one not a positive number of bytes), so that Node keeps its own defaults.
 */
export function nodeOptionsForMemoryLimit(limitBytes: number | undefined): string | undefined {
  if (limitBytes === undefined || !Number.isFinite(limitBytes) || limitBytes < MiB) return undefined;
  const { oldSpaceMiB, semiSpaceMiB } = v8HeapSizesMiB(limitBytes);
  return `--max-old-space-size=${oldSpaceMiB} --max-semi-space-size=${semiSpaceMiB}`;
}

/**
 * glibc's malloc hands out allocations of at least this many bytes as their own mmap, returned to the kernel when
 * freed (mallopt(3), M_MMAP_THRESHOLD; setting it also stops glibc raising the threshold as it does by default after
 * a large block is freed, up to 32 MiB). Ignored where the C library is not glibc (the image is Debian's).
 *
 * - Above it: what the agent holds for seconds and frees in another order than it took it, so that a freed one
 *   does not stay resident below a live one: the trace buffer's 1 MiB request chunks, the completion buffer's
 *   packed slabs (about 100-130 KiB), export batches.
 * - Below it: what lives for one request and is freed at once, so that glibc reuses it without a system call:
 *   node's 64 KiB socket reads, request bodies (about 28 KiB for 100 spans), zlib's state (up to 64 KiB a piece).
 *
 * It was 16 KiB (session 6), when every request body was held for `decision_wait` (peak RSS at 10k spans/s 169-173
 * -> 150-151 MiB). Since session 15 the trace buffer copies the requests it holds into reused chunks, and 16 KiB
 * only made each short-lived buffer an mmap and a munmap. On a VM where munmap's TLB shootdown is dear (session 16,
 * 2 cores, `perf`: a quarter of the agent's CPU in munmap and page faults) 96 KiB took the agent's CPU at 10k
 * spans/s from 30.6-30.7 to 19.4-23.3 ms per 1,000 spans and at full speed from 12.8-16.3 to 8.1-8.5, for 2-3 MiB
 * more peak RSS (124-125 -> 127 MiB; BENCHMARKS.md "Session 16").
 */
export const AGENT_MMAP_THRESHOLD_BYTES = 96 * 1024;

/**
 * glibc gives the free memory at the top of a heap back to the kernel once more than this is free there
 * (M_TRIM_THRESHOLD); the agent's threads share at most `AGENT_MALLOC_ARENAS` heaps (M_ARENA_MAX) instead of up to
 * eight per core. Both since session 18.
 *
 * Why: setting `MALLOC_MMAP_THRESHOLD_` also stops glibc moving the trim threshold, which it otherwise keeps at
 * twice the mmap threshold as that grows; it stays at glibc's 128 KiB. The agent's short-lived buffers (request
 * bodies, socket reads, the scanner's columns, V8's compile zones on its worker threads) are freed by the
 * hundred at a time, at each scavenge or compile, so the top of a heap was given back and faulted in again a few
 * times a second: at 10k spans/s 1,221-1,271 minor page faults a second against the no-decode server's 480-520.
 * Where a page touched for the first time costs about 16 us (session 18's Firecracker guest; 0.09 us to touch a
 * resident one), that was 31-35 ms of system CPU a second. With 512 KiB and two arenas: 775-793 faults a second
 * and 25-28 ms of system CPU, the same peak (126-127 MiB) and idle RSS (median of three 54.4 MiB against 54.8;
 * two arenas hold less than glibc's up to 16). A larger threshold keeps more at the top of each heap: 1 MiB,
 * 660-720 faults for 0.5 MiB more idle RSS; 2 MiB, 510-600 faults for 1 MiB more peak; 4 MiB with glibc's arenas,
 * 590 for 9 MiB more peak (BENCHMARKS.md "Session 18").
 */
export const AGENT_TRIM_THRESHOLD_BYTES = 512 * 1024;
export const AGENT_MALLOC_ARENAS = 2;

/**
 * The agent container's process env for its memory limit (a quantity such as "288Mi"): `NODE_OPTIONS` (V8's heap
 * sized to the limit, none without a usable limit) and glibc's `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`
 * and `MALLOC_ARENA_MAX`.
 */
export function agentProcessEnv(memoryLimit: string | undefined): Array<{ name: string; value: string }> {
  const value = nodeOptionsForMemoryLimit(memoryLimit === undefined ? undefined : parseQuantity(memoryLimit));
  return [
    ...(value === undefined ? [] : [{ name: 'NODE_OPTIONS', value }]),
    { name: 'MALLOC_MMAP_THRESHOLD_', value: String(AGENT_MMAP_THRESHOLD_BYTES) },
    { name: 'MALLOC_TRIM_THRESHOLD_', value: String(AGENT_TRIM_THRESHOLD_BYTES) },
    { name: 'MALLOC_ARENA_MAX', value: String(AGENT_MALLOC_ARENAS) },
  ];
}
