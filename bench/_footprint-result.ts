/**
 * What bench/agent-footprint.ts measured, as the one JSON line it prints last, for scripts that run it
 * (bench/agent-stages.ts) and would otherwise parse its tables.
 */

/** Per-second rates of a process's counters over a window (bench/agent-footprint.ts `procCounters`). */
export interface CounterRates {
  cpuMsPerS: number;
  /** The kernel's part of it (page faults, system calls). */
  systemMsPerS: number;
  /** Minor page faults, every thread. */
  faultsPerS: number;
  /** Voluntary context switches summed over the threads: a thread that blocked and was woken. */
  wakeupsPerS: number;
}

/** The prefix of the one JSON line a run prints last (`FootprintResult`). */
export const RESULT_PREFIX = 'footprint result: ';

/** What a run measured, as numbers (the tables print the same figures rounded). */
export interface FootprintResult {
  cores: number;
  node: string;
  idle10sMiB?: number;
  idle40sMiB?: number;
  idleCpuMsPerS?: number;
  rates: Array<{
    rate: number;
    acceptedPerS: number;
    refusedRequests: number;
    p99Ms: number;
    peakMiB: number;
    /** Over the load, decision_wait and 3 s, per 1,000 accepted spans. */
    cpuPerK: number;
    floorCpuPerK: number;
    earlyDecisions: number;
    /** Over the load alone. */
    steady: CounterRates;
    floorSteady: CounterRates;
  }>;
  fullSpeed?: {
    agentCpuPerK: number;
    floorCpuPerK: number;
    agentSpansPerS: number;
    floorSpansPerS: number;
    agentP99Ms: number;
    peakMiB: number;
    refusedRequests: number;
  };
}

/** The run's result line in `stdout`, or undefined when it has none (the run failed before the end). */
export function readFootprintResult(stdout: string): FootprintResult | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  return line === undefined ? undefined : (JSON.parse(line.slice(RESULT_PREFIX.length)) as FootprintResult);
}
