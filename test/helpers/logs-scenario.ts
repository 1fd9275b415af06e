/**
 * Issue 16's scenario: 2,000 traces with 5 logs each (some traces with errors), 500 logs without trace ids,
 * policy "errors + 10 %" with a logs section; and the checks on what the sampler exported.
 */
import assert from 'node:assert/strict';
import { SeededIds } from './seeded-ids.js';
import type { DecodedLog, LogSpec } from './sdk-logs.js';

/** Errors kept by a rule, 10 % of the other traces by the trace-id hash. */
export const ERRORS_PLUS_10 = `
policies:
  - name: errors
    type: status_code
    status_code: { status_codes: [ERROR] }
  - name: ten-percent
    type: probabilistic
    probabilistic: { sampling_percentage: 10 }
`;

/** ERRORS_PLUS_10 with a logs section: every WARN and above, 20 % of the rest. */
export const SCENARIO_POLICY = `${ERRORS_PLUS_10}logs:
  policies:
    - { name: warnings, type: severity, severity: { min: WARN } }
    - { name: some-info, type: probabilistic, probabilistic: { sampling_percentage: 20 } }
`;

export interface ScenarioTrace {
  readonly traceId: string;
  readonly spanIds: readonly string[];
  readonly error: boolean;
  readonly logs: readonly LogSpec[];
}

export interface Scenario {
  readonly traces: readonly ScenarioTrace[];
  /** Logs without a trace id; every fifth is a WARN. */
  readonly untraced: readonly LogSpec[];
  readonly totalLogs: number;
}

export function makeScenario(seed = 1616, traces = 2000, logsPerTrace = 5, untraced = 500): Scenario {
  const ids = new SeededIds(seed);
  const out: ScenarioTrace[] = [];
  for (let t = 0; t < traces; t++) {
    const traceId = ids.generateTraceId();
    const spanIds = [ids.generateSpanId(), ids.generateSpanId()];
    const error = t % 10 === 3; // 10 % of the traces fail
    const logs: LogSpec[] = Array.from({ length: logsPerTrace }, (_, k) => ({
      traceId,
      spanId: spanIds[k % 2] as string,
      severityNumber: error && k === logsPerTrace - 1 ? 17 : 9,
      severityText: error && k === logsPerTrace - 1 ? 'ERROR' : 'INFO',
      body: `trace ${t} line ${k}`,
      attributes: { 'log.no': k },
      timeMs: 1_700_000_000_000 + t * 10 + k,
    }));
    out.push({ traceId, spanIds, error, logs });
  }
  const free: LogSpec[] = Array.from({ length: untraced }, (_, k) => ({
    severityNumber: k % 5 === 0 ? 13 : 9,
    severityText: k % 5 === 0 ? 'WARN' : 'INFO',
    body: `background ${k}`,
    timeMs: 1_700_000_100_000 + k,
  }));
  return { traces: out, untraced: free, totalLogs: traces * logsPerTrace + untraced };
}

export interface ScenarioFigures {
  readonly keptTraces: number;
  readonly exportedLogs: number;
  readonly exportedTraced: number;
  readonly exportedUntraced: number;
  readonly estimate: number;
  readonly relativeError: number;
}

/**
 * The checks: every kept trace has all of its logs (with the weight of its spans), no log of a dropped
 * trace is exported, logs without trace ids follow the logs policy, the weighted count estimates the truth
 * within 10 %. `keptSpanWeights`: the kept traces by id, with the weight their spans carry.
 */
export function checkScenario(
  s: Scenario,
  keptSpanWeights: ReadonlyMap<string, number>,
  logs: readonly DecodedLog[],
): ScenarioFigures {
  const byTrace = new Map<string, DecodedLog[]>();
  const untraced: DecodedLog[] = [];
  for (const l of logs) {
    if (l.traceId === '') untraced.push(l);
    else {
      const list = byTrace.get(l.traceId);
      if (list) list.push(l);
      else byTrace.set(l.traceId, [l]);
    }
  }
  let exportedTraced = 0;
  for (const t of s.traces) {
    const got = byTrace.get(t.traceId) ?? [];
    const weight = keptSpanWeights.get(t.traceId);
    if (weight === undefined) {
      assert.equal(got.length, 0, `a log of dropped trace ${t.traceId} was exported`);
      continue;
    }
    assert.deepEqual(
      got.map((l) => l.body).sort(),
      t.logs.map((l) => l.body as string).sort(),
      `kept trace ${t.traceId} has all of its logs, once each`,
    );
    for (const l of got)
      assert.ok(Math.abs((l.weight ?? NaN) - weight) < 1e-9, 'a log carries its trace weight');
    if (t.error) assert.equal(weight, 1, 'an error trace is kept by rule');
    exportedTraced += got.length;
  }
  assert.equal(
    exportedTraced,
    [...byTrace.values()].reduce((n, l) => n + l.length, 0),
    'no log of an unknown trace',
  );
  // Logs without trace ids: every WARN kept at weight 1, the others at 20 % (weight 5).
  const warns = untraced.filter((l) => l.severityNumber >= 13);
  assert.equal(warns.length, s.untraced.filter((l) => (l.severityNumber ?? 0) >= 13).length);
  for (const l of warns) assert.equal(l.weight, 1);
  for (const l of untraced) if (l.severityNumber < 13) assert.ok(Math.abs((l.weight ?? NaN) - 5) < 1e-9);
  const estimate = logs.reduce((n, l) => n + (l.weight ?? 1), 0);
  const relativeError = Math.abs(estimate - s.totalLogs) / s.totalLogs;
  assert.ok(relativeError < 0.1, `weighted log count ${estimate.toFixed(0)} of ${s.totalLogs}`);
  return {
    keptTraces: keptSpanWeights.size,
    exportedLogs: logs.length,
    exportedTraced,
    exportedUntraced: untraced.length,
    estimate,
    relativeError,
  };
}
