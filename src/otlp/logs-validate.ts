import { isZeroId } from './hex.js';
import type { LogRecord, LogsData } from './logs-model.js';
import { ProtobufReader, WireType } from './protobuf-reader.js';
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
  return logTimesProblem(rec.timeUnixNano, rec.observedTimeUnixNano);
}

/** `logProblem` on the two times alone (the byte walk of `scanLogTimes` has nothing else). */
export function logTimesProblem(time: bigint, observed: bigint): LogProblem | undefined {
  if (time > MAX_SPAN_TIME_UNIX_NANO || observed > MAX_SPAN_TIME_UNIX_NANO) return 'time_out_of_range';
  if (time === 0n && observed === 0n) return 'no_time';
  return undefined;
}

/**
 * What `keepValidLogs` would keep and drop, found by walking an `ExportLogsServiceRequest`'s tags and lengths to
 * each record's two times, building no objects (the store's door: the receiver's scan has checked the structure,
 * and a decode would hold about 6 heap bytes per wire byte). Malformed bytes throw the reader's coded errors.
 */
export function scanLogTimes(bytes: Uint8Array): { records: number; rejection: LogRejection } {
  const r = new ProtobufReader(bytes);
  const counts = new Map<LogProblem, number>();
  let records = 0;
  let rejected = 0;
  const each = (field: number, body: () => void) => {
    while (r.pos < r.end) {
      const tag = r.uint32();
      if (tag !== ((field << 3) | WireType.LEN)) {
        r.skip(tag & 7);
        continue;
      }
      const saved = r.enter();
      body();
      r.leave(saved);
    }
  };
  each(1, () =>
    each(2, () =>
      each(2, () => {
        let time = 0n;
        let observed = 0n;
        while (r.pos < r.end) {
          const tag = r.uint32();
          if (tag === ((1 << 3) | WireType.I64)) time = r.fixed64();
          else if (tag === ((11 << 3) | WireType.I64)) observed = r.fixed64();
          else r.skip(tag & 7);
        }
        records++;
        const problem = logTimesProblem(time, observed);
        if (problem !== undefined) {
          counts.set(problem, (counts.get(problem) ?? 0) + 1);
          rejected++;
        }
      }),
    ),
  );
  return {
    records: records - rejected,
    rejection: { rejected, counts, errorMessage: describeLogRejections(counts) },
  };
}

function describeLogRejections(counts: ReadonlyMap<LogProblem, number>): string {
  return [...counts]
    .map(([p, n]) => `${n} log record(s) with ${LOG_PROBLEM_TEXT[p]} were rejected`)
    .join('; ');
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
  return { rejected, counts, errorMessage: describeLogRejections(counts) };
}
