/**
 * Issue 16: the logs scanner and assembler (src/otlp/wire-logs*.ts) on requests the SDK's own serializer wrote.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addKeptLog,
  logWeightSuffix,
  readLogAttributes,
  readLogBody,
  RequestAssembler,
  scanLogsRequest,
  scanSignalRequest,
  severityFromText,
} from '../src/otlp/index.js';

const SentinelErrorCodeOf = (e: unknown): unknown => (e as { code?: unknown }).code;
import { lenField, UNKNOWN_FIELD } from './helpers/wire.js';
import { decodeLogs, encodeLogs } from './helpers/sdk-logs.js';
import { mutate, seededRandom } from './helpers/fuzz.js';
import { SentinelError } from '../src/errors.js';

const T1 = '0af7651916cd43dd8448eb211c80319c';
const S1 = 'b7ad6b7169203331';

describe('scanLogsRequest', () => {
  test('indexes every record with its trace id, span id, severity, text and time', () => {
    const bytes = encodeLogs([
      {
        traceId: T1,
        spanId: S1,
        severityNumber: 13,
        severityText: 'WARN',
        body: 'slow',
        timeMs: 1_700_000_000_123,
      },
      { severityNumber: 9, severityText: 'INFO', body: 'no trace' },
      { severityText: 'error', body: 'text only' },
    ]);
    const logs = scanLogsRequest(bytes);
    assert.equal(logs.count, 3);
    assert.deepEqual(logs.traceIds, [T1, '', '']);
    assert.deepEqual(logs.spanIds, [S1, '', '']);
    assert.deepEqual([...logs.severities], [13, 9, 17]);
    assert.deepEqual(logs.severityTexts, ['WARN', 'INFO', 'error']);
    assert.equal(logs.timeMs(0), 1_700_000_000_123);
    assert.equal(
      readLogBody(
        logs.buf,
        logs.offsets[0] as number,
        (logs.offsets[0] as number) + (logs.lengths[0] as number),
      ),
      'slow',
    );
    assert.equal(logs.scope(0).resource.serviceName, 'checkout');
  });

  test('reassembled records are the bytes the SDK wrote, plus sampling.weight where asked', () => {
    const bytes = encodeLogs([
      { traceId: T1, severityNumber: 13, body: 'a', attributes: { 'user.id': 'u1' } },
      { severityNumber: 9, body: 'b' },
    ]);
    const logs = scanLogsRequest(bytes);
    const asIs = new RequestAssembler();
    for (let i = 0; i < logs.count; i++) addKeptLog(asIs, logs, i, undefined);
    assert.deepEqual(Buffer.from(asIs.finish()), Buffer.from(bytes));

    const weighted = new RequestAssembler();
    addKeptLog(weighted, logs, 0, 10);
    addKeptLog(weighted, logs, 1, 1, true);
    const bytesOut = weighted.finish();
    // Byte for byte: each record as the SDK wrote it, then the appended attribute fields.
    const again = scanLogsRequest(bytesOut);
    assert.deepEqual(again.record(0), Buffer.concat([logs.record(0), logWeightSuffix(10, false)]));
    assert.deepEqual(again.record(1), Buffer.concat([logs.record(1), logWeightSuffix(1, true)]));
    const out = decodeLogs(bytesOut);
    assert.equal(out.length, 2);
    assert.equal(out[0]?.weight, 10);
    assert.equal(out[0]?.attributes['user.id'], 'u1');
    assert.equal(out[0]?.traceId, T1);
    assert.equal(out[1]?.weight, 1);
    assert.equal(out[1]?.attributes['sampling.completed'], true);
  });

  test('a record that already carries sampling.weight has it replaced, not doubled', () => {
    const logs = scanLogsRequest(encodeLogs([{ traceId: T1, attributes: { 'sampling.weight': 3 } }]));
    const a = new RequestAssembler();
    addKeptLog(a, logs, 0, 20);
    const out = scanLogsRequest(a.finish());
    const off = out.offsets[0] as number;
    const attrs = readLogAttributes(out.buf, off, off + (out.lengths[0] as number), undefined);
    assert.deepEqual(
      attrs.filter((kv) => kv.key === 'sampling.weight').map((kv) => kv.value),
      [{ kind: 'double', value: 20 }],
    );
  });

  test('unknown fields in a record, a ResourceLogs and the request survive reassembly', () => {
    // LogRecord { severity_number 9, field 99 }, ScopeLogs { log_records }, ResourceLogs { scope_logs, field 99 }
    const record = Buffer.concat([Buffer.from([0x10, 9]), UNKNOWN_FIELD]);
    const scopeLogs = lenField(2, record);
    const resourceLogs = Buffer.concat([lenField(2, scopeLogs), UNKNOWN_FIELD]);
    const request = Buffer.concat([lenField(1, resourceLogs), UNKNOWN_FIELD]);
    const logs = scanLogsRequest(request);
    assert.equal(logs.count, 1);
    const a = new RequestAssembler();
    addKeptLog(a, logs, 0, undefined);
    assert.deepEqual(a.finish(), request);
  });

  test('malformed input is a coded error naming the field path and offset', () => {
    // trace_id of 3 bytes
    const bad = lenField(1, lenField(2, lenField(2, lenField(9, Buffer.from([1, 2, 3])))));
    assert.throws(
      () => scanLogsRequest(bad),
      (e: unknown) => {
        assert.equal(SentinelErrorCodeOf(e), 'SENTINEL_ERR_OTLP_INVALID');
        assert.match(
          (e as Error).message,
          /log_record\.trace_id must be 16 bytes, got 3 in resource_logs\.scope_logs/,
        );
        return true;
      },
    );
    // severity_number with a LEN wire type
    const wrongType = lenField(1, lenField(2, lenField(2, lenField(2, Buffer.from('x')))));
    assert.throws(
      () => scanLogsRequest(wrongType),
      /log_record\.severity_number: expected wire type 0, got 2 at byte \d+ in resource_logs\.scope_logs/,
    );
    // truncated body
    const full = encodeLogs([{ body: 'truncated body here' }]);
    assert.throws(
      () => scanLogsRequest(full.subarray(0, full.length - 3)),
      (e: unknown) => {
        assert.equal(SentinelErrorCodeOf(e), 'SENTINEL_ERR_OTLP_DECODE');
        return true;
      },
    );
  });

  test('severity texts map to numbers as the logs data model names them', () => {
    assert.equal(severityFromText('WARN'), 13);
    assert.equal(severityFromText('warning'), 13);
    assert.equal(severityFromText('ERROR3'), 19);
    assert.equal(severityFromText('Info'), 9);
    assert.equal(severityFromText('loud'), 0);
    assert.equal(severityFromText(''), 0);
  });

  test('3,000 mutated requests: scanned, or refused with a coded error as the receivers refuse it, never another exception', () => {
    const valid = encodeLogs(
      Array.from({ length: 8 }, (_, k) => ({
        traceId: k % 2 ? T1 : undefined,
        spanId: S1,
        severityNumber: 9 + k,
        body: `record ${k}`,
        attributes: { k, nested: 'x' },
      })),
    );
    const rand = seededRandom(16);
    let refused = 0;
    for (let k = 0; k < 3000; k++) {
      const body = mutate(valid, rand);
      let doorError: unknown;
      try {
        scanSignalRequest('logs', body);
      } catch (err) {
        doorError = err;
      }
      let logs;
      try {
        logs = scanLogsRequest(body);
      } catch (err) {
        assert.ok(
          doorError !== undefined,
          `mutation ${k}: the receiver's scan took what the sampler refuses`,
        );
        assert.ok(err instanceof SentinelError, `mutation ${k}: ${String(err)}`);
        assert.match(err.code, /^SENTINEL_ERR_OTLP_(DECODE|INVALID)$/);
        refused++;
        continue;
      }
      assert.equal(doorError, undefined, `mutation ${k}: the sampler took what the receiver's scan refuses`);
      // What scanned reassembles and scans again to the same records.
      const a = new RequestAssembler();
      for (let i = 0; i < logs.count; i++) addKeptLog(a, logs, i, undefined);
      const again = scanLogsRequest(a.finish());
      assert.equal(again.count, logs.count, `mutation ${k}`);
      assert.deepEqual(again.traceIds, logs.traceIds, `mutation ${k}`);
    }
    assert.ok(refused > 100, `some mutations are refused (${refused})`);
  });
});
