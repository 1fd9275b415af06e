import { isZeroId } from './hex.js';
import type { LogRecord, LogsData } from './logs-model.js';
import { MAX_SPAN_TIME_UNIX_NANO } from './validate.js';

/** Why a log record cannot be stored (`store_logs_rejected_total{reason}`). */
export type LogProblem = 'time_out_of_range' | 'no_time';

const LOG_PROBLEM_TEXT: Record<LogProblem, string> = {
  time_out_of_range: `a time_unix_nano or observed_time_unix_nano at or above 2^63 (expected at most ${MAX_SPAN_TIME_UNIX_NANO})`,
  no_time: 'neither time_unix_nano nor observed_time_unix_nano (expected at least one)',
};

/**
 * Why one log record is refused, or undefined when it is kept. The block's `Timestamp` (time, else observed
 * time, as the ClickHouse exporter fills it) is a signed INT64 of nanoseconds, so times at or above 2^63 cannot
 * be stored; a record with neither time has no place in time-partitioned blocks. Ids of a wrong length never get
 * here (the decoder refuses the request); trace and span ids are optional on logs.
 */
export function logProblem(rec: LogRecord): LogProblem | undefined {
  if (rec.timeUnixNano > MAX_SPAN_TIME_UNIX_NANO || rec.observedTimeUnixNano > MAX_SPAN_TIME_UNIX_NANO)
    return 'time_out_of_range';
  if (rec.timeUnixNano === 0n && rec.observedTimeUnixNano === 0n) return 'no_time';
  return undefined;
}

/** What `keepValidLogs` removed, by problem, with the `partial_success`-style message. */
export interface LogRejection {
  readonly rejected: number;
  readonly counts: ReadonlyMap<LogProblem, number>;
  readonly errorMessage: string;
}

/**
 * Removes the log records `logProblem` refuses, in place, and normalises all-zero trace and span ids to absent
 * (logs.proto: ids are optional on logs; all zeroes is the W3C "invalid" id, which pdata reads as empty). Pure and
 * deterministic: the store applies it whenever it decodes a WAL record, so the WAL can keep the bytes as sent.
 */
export function keepValidLogs(data: LogsData): LogRejection {
  const counts = new Map<LogProblem, number>();
  let rejected = 0;
  for (const rl of data.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      let kept = 0;
      for (const rec of sl.logRecords) {
        if (rec.traceId !== '' && isZeroId(rec.traceId)) rec.traceId = '';
        if (rec.spanId !== '' && isZeroId(rec.spanId)) rec.spanId = '';
        const problem = logProblem(rec);
        if (problem === undefined) sl.logRecords[kept++] = rec;
        else {
          counts.set(problem, (counts.get(problem) ?? 0) + 1);
          rejected++;
        }
      }
      sl.logRecords.length = kept;
    }
  }
  const errorMessage = [...counts]
    .map(([p, n]) => `${n} log record(s) with ${LOG_PROBLEM_TEXT[p]} were rejected`)
    .join('; ');
  return { rejected, counts, errorMessage };
}
