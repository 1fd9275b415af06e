import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DECISION_ID_BYTES,
  FEED_CURSOR_HEADER,
  FEED_MISSED_HEADER,
  FEED_MORE_HEADER,
  FEED_OLDEST_MS_HEADER,
  FEED_RESET_HEADER,
  MAX_DECISION_IDS,
  decodeDecisionIds,
  encodeDecisionIds,
  formatFeedCursor,
  parseFeedCursor,
  readFeedHeaders,
  type DecisionsPageJson,
  type FeedCursor,
} from '../src/decision-feed/feed-protocol.js';
import { DecisionIdIndex } from '../src/decision-feed/decision-id-index.js';
import {
  DECISION_RECORD_BYTES,
  DecisionLog,
  type DecisionLogOptions,
} from '../src/decision-feed/decision-log.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { storeConfigSchema, validateConfig } from '../src/config/index.js';
import { isSentinelError } from '../src/errors.js';
import { makeCertificate } from './fixtures/injector/tls.js';
import { capturingLogger, startTestStore } from './helpers/store-harness.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sentinel-decisions-'));
  dirs.push(d);
  return d;
}
const logs: DecisionLog[] = [];
after(async () => {
  await Promise.all(logs.map((l) => l.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function ids(n: number): string[] {
  return Array.from({ length: n }, () => randomBytes(DECISION_ID_BYTES).toString('hex'));
}

async function openLog(options: Partial<DecisionLogOptions> & { dir: string }): Promise<DecisionLog> {
  const log = await DecisionLog.open({
    maxEntries: 1000,
    retentionMs: 600_000,
    logger: silentLogger(),
    ...options,
  });
  logs.push(log);
  return log;
}

function readAll(
  log: DecisionLog,
  from: FeedCursor,
  limit = MAX_DECISION_IDS,
): { ids: string[]; cursor: FeedCursor } {
  const out: string[] = [];
  let cursor = from;
  for (;;) {
    const page = log.read(cursor, limit);
    out.push(...decodeDecisionIds(page.ids));
    cursor = page.cursor;
    if (!page.more) return { ids: out, cursor };
  }
}

describe('decision feed wire helpers', () => {
  it('parses and formats cursors, and refuses malformed ones', () => {
    const c = parseFeedCursor('0123456789abcdef.42');
    assert.deepEqual(c, { epoch: '0123456789abcdef', seq: 42 });
    assert.equal(formatFeedCursor(c!), '0123456789abcdef.42');
    for (const bad of [
      '',
      '0123456789abcdef',
      '0123456789ABCDEF.1',
      '0123456789abcdef.-1',
      'x.1',
      '0123456789abcdef.01',
    ])
      assert.equal(parseFeedCursor(bad), undefined, bad);
  });

  it('turns hex ids into raw bytes and back, lower-casing them', () => {
    const upper = 'AB'.repeat(16);
    assert.deepEqual(decodeDecisionIds(encodeDecisionIds([upper, '01'.repeat(16)])), [
      'ab'.repeat(16),
      '01'.repeat(16),
    ]);
    assert.throws(() => encodeDecisionIds(['abc']), /traceIds\[0\]: expected 32 hex digits/);
  });
});

describe('DecisionIdIndex', () => {
  it('finds exactly the ids it holds through random adds and deletes in a crowded table', () => {
    const ids = randomBytes(2000 * 16);
    // Ids 1000..1999 repeat ids 0..999 byte for byte, to probe for them while their twins are absent.
    ids.copy(ids, 1000 * 16, 0, 1000 * 16);
    const index = new DecisionIdIndex(64, (seq) => ({ buf: ids, offset: seq * 16 }));
    const held = new Set<number>();
    let seed = 7;
    const rand = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    for (let step = 0; step < 20_000; step++) {
      const seq = rand(1000);
      if (held.has(seq)) {
        index.delete(seq);
        held.delete(seq);
      } else if (held.size < 64) {
        index.add(seq);
        held.add(seq);
      }
      const probe = rand(1000);
      assert.equal(index.find(ids, (probe + 1000) * 16), held.has(probe) ? probe : undefined);
    }
    assert.equal(index.size, held.size);
  });
});

describe('DecisionLog', () => {
  it('appends ids and reads them back in order from a cursor, and a new reader starts at the head', async () => {
    const log = await openLog({ dir: tempDir() });
    const start = log.read(undefined, 10);
    assert.equal(start.count, 0);
    assert.deepEqual(start.cursor, { epoch: log.epoch, seq: 0 });
    const a = ids(3);
    const r = await log.append(encodeDecisionIds(a));
    assert.deepEqual(r, { accepted: 3, appended: 3, cursor: { epoch: log.epoch, seq: 3 } });
    const page = log.read(start.cursor, 10);
    assert.deepEqual(decodeDecisionIds(page.ids), a);
    assert.deepEqual(page.cursor, { epoch: log.epoch, seq: 3 });
    assert.equal(page.reset, false);
    assert.equal(page.missed, 0);
    assert.equal(page.more, false);
    assert.equal(typeof page.oldestAppendedMs, 'number');
    assert.equal(log.read(page.cursor, 10).count, 0);
    assert.deepEqual(log.read(undefined, 10).cursor, { epoch: log.epoch, seq: 3 });
  });

  it('does not append an id it still retains, within a request or across requests', async () => {
    const log = await openLog({ dir: tempDir() });
    const [x, y] = ids(2) as [string, string];
    assert.equal((await log.append(encodeDecisionIds([x, x, y]))).appended, 2);
    const again = await log.append(encodeDecisionIds([y, x]));
    assert.deepEqual(again, { accepted: 2, appended: 0, cursor: { epoch: log.epoch, seq: 2 } });
    assert.deepEqual(readAll(log, { epoch: log.epoch, seq: 0 }).ids, [x, y]);
  });

  it('appends each id once when concurrent appends overlap and cross segment boundaries', async () => {
    const log = await openLog({ dir: tempDir(), segmentEntries: 7 });
    const a = ids(100);
    await Promise.all([
      log.append(encodeDecisionIds(a.slice(0, 60))),
      log.append(encodeDecisionIds([...a.slice(40, 100), ...a.slice(0, 10)])),
      log.append(encodeDecisionIds(a.slice(20, 30))),
    ]);
    const got = readAll(log, { epoch: log.epoch, seq: 0 }).ids;
    assert.equal(got.length, 100);
    assert.deepEqual(new Set(got), new Set(a));
    assert.deepEqual(got.slice(0, 60), a.slice(0, 60)); // in append order
  });

  it('answers at most limit ids and says more until the reader is at the head', async () => {
    const log = await openLog({ dir: tempDir(), segmentEntries: 4 });
    const a = ids(10);
    await log.append(encodeDecisionIds(a));
    const first = log.read({ epoch: log.epoch, seq: 0 }, 4);
    assert.equal(first.count, 4);
    assert.equal(first.more, true);
    assert.deepEqual(readAll(log, { epoch: log.epoch, seq: 0 }, 3).ids, a);
  });

  it('resets to the oldest retained entry for a cursor of another epoch or past the head', async () => {
    const log = await openLog({ dir: tempDir() });
    const a = ids(5);
    await log.append(encodeDecisionIds(a));
    for (const cursor of [
      { epoch: 'ffffffffffffffff', seq: 2 },
      { epoch: log.epoch, seq: 99 },
    ]) {
      const page = log.read(cursor, 100);
      assert.equal(page.reset, true);
      assert.deepEqual(decodeDecisionIds(page.ids), a);
      assert.deepEqual(page.cursor, { epoch: log.epoch, seq: 5 });
    }
  });

  it('counts the entries a slow reader missed once max_entries evicted them, and deletes whole segments', async () => {
    const dir = tempDir();
    const log = await openLog({ dir, maxEntries: 5, segmentEntries: 2 });
    const a = ids(9);
    for (const id of a) await log.append(encodeDecisionIds([id]));
    assert.equal(log.size, 5);
    const page = log.read({ epoch: log.epoch, seq: 1 }, 100);
    assert.equal(page.missed, 3);
    assert.equal(page.reset, false);
    assert.deepEqual(decodeDecisionIds(page.ids), a.slice(4));
    // Segments of 2 entries: [0,1] [2,3] are wholly evicted; [4,5] [6,7] [8] remain.
    const files = readdirSync(dir).filter((f) => f.endsWith('.decisions'));
    assert.equal(files.length, 3);
    // An evicted id is no longer retained, so it may be appended again.
    assert.equal((await log.append(encodeDecisionIds([a[0]!]))).appended, 1);
  });

  it('drops entries older than the retention, by the injected clock, even under max_entries', async () => {
    let now = 1_000_000;
    const log = await openLog({ dir: tempDir(), retentionMs: 600_000, now: () => now });
    const [old, young] = ids(2) as [string, string];
    await log.append(encodeDecisionIds([old]));
    now += 300_000;
    await log.append(encodeDecisionIds([young]));
    now += 301_000; // old is 601 s old, young 301 s
    const page = log.read({ epoch: log.epoch, seq: 0 }, 10);
    assert.equal(page.missed, 1);
    assert.deepEqual(decodeDecisionIds(page.ids), [young]);
    assert.equal(page.oldestAppendedMs, 1_300_000);
    now += 300_000;
    assert.equal(log.size, 1); // not yet re-evaluated
    assert.equal(log.read({ epoch: log.epoch, seq: 0 }, 10).count, 0);
    assert.equal(log.size, 0);
    assert.deepEqual(log.read(undefined, 10).cursor, { epoch: log.epoch, seq: 2 });
  });

  it('keeps its epoch, head and entries across a restart, so an old cursor reads on', async () => {
    const dir = tempDir();
    const a = ids(7);
    const first = await openLog({ dir, segmentEntries: 3 });
    await first.append(encodeDecisionIds(a.slice(0, 5)));
    const part = first.read({ epoch: first.epoch, seq: 0 }, 2);
    await first.close();
    const second = await openLog({ dir, segmentEntries: 3 });
    assert.equal(second.epoch, first.epoch);
    assert.deepEqual(second.head, { epoch: first.epoch, seq: 5 });
    assert.equal((await second.append(encodeDecisionIds(a.slice(3)))).appended, 2); // a[3], a[4] retained
    const rest = readAll(second, part.cursor);
    assert.deepEqual(rest.ids, a.slice(2));
    assert.equal(second.read(part.cursor, 100).reset, false);
  });

  it('truncates a partly written last record at start, counts and logs it, and appends after it', async () => {
    const dir = tempDir();
    const a = ids(3);
    const first = await openLog({ dir });
    await first.append(encodeDecisionIds(a));
    await first.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.decisions'));
    appendFileSync(join(dir, segment!), randomBytes(10));
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const second = await openLog({ dir, metrics, logger });
    assert.equal(await metrics.value('store_decisions_torn_records_total'), 1);
    assert.ok(lines.some((l) => String(l['msg']).includes('truncated a partly written record')));
    assert.equal(statSync(join(dir, segment!)).size, 3 * DECISION_RECORD_BYTES);
    assert.deepEqual(second.head.seq, 3);
    const b = ids(1);
    await second.append(encodeDecisionIds(b));
    assert.deepEqual(readAll(second, { epoch: second.epoch, seq: 0 }).ids, [...a, ...b]);
    assert.equal(statSync(join(dir, segment!)).size, 4 * DECISION_RECORD_BYTES);
  });

  it('starts a new epoch when its directory is lost, so old cursors reset', async () => {
    const dir = tempDir();
    const first = await openLog({ dir });
    await first.append(encodeDecisionIds(ids(4)));
    const cursor = first.head;
    await first.close();
    rmSync(dir, { recursive: true, force: true });
    const second = await openLog({ dir });
    assert.notEqual(second.epoch, first.epoch);
    const b = ids(2);
    await second.append(encodeDecisionIds(b));
    const page = second.read(cursor, 10);
    assert.equal(page.reset, true);
    assert.deepEqual(decodeDecisionIds(page.ids), b);
  });

  it('writes an epoch of 16 lower-case hex digits into its directory', async () => {
    const dir = tempDir();
    const log = await openLog({ dir });
    assert.match(log.epoch, /^[0-9a-f]{16}$/);
    writeFileSync(join(dir, 'unrelated'), 'x'); // other files are left alone
    await log.close();
    assert.equal((await openLog({ dir })).epoch, log.epoch);
  });
});

describe('/api/decisions on the store query server', async () => {
  const tokenDir = tempDir();
  const tokenFile = join(tokenDir, 'tokens');
  writeFileSync(tokenFile, 's3cret\n');
  const h = await startTestStore();
  const authed = await startTestStore({ overrides: { auth: { required: true, token_files: [tokenFile] } } });
  after(async () => {
    await h.dispose();
    await authed.dispose();
  });
  const base = `http://127.0.0.1:${h.store.ports.query}/api/decisions`;
  const post = (body: Uint8Array | string, type: string, headers: Record<string, string> = {}) =>
    fetch(base, { method: 'POST', headers: { 'content-type': type, ...headers }, body });
  const head = async (): Promise<string> => ((await (await fetch(base)).json()) as DecisionsPageJson).cursor;

  it('publishes raw ids and serves them raw with the feed headers', async () => {
    const start = await head();
    const a = ids(3);
    const res = await post(encodeDecisionIds(a), 'application/octet-stream');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { accepted: number; appended: number; cursor: string };
    assert.equal(body.accepted, 3);
    assert.equal(body.appended, 3);
    const got = await fetch(`${base}?after=${start}`, { headers: { accept: 'application/octet-stream' } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(decodeDecisionIds(new Uint8Array(await got.arrayBuffer())), a);
    assert.equal(got.headers.get(FEED_CURSOR_HEADER), body.cursor);
    assert.equal(got.headers.get(FEED_RESET_HEADER), null);
    assert.equal(got.headers.get(FEED_MORE_HEADER), null);
    assert.equal(got.headers.get(FEED_MISSED_HEADER), null);
    assert.ok(Number(got.headers.get(FEED_OLDEST_MS_HEADER)) > 1.7e12);
    const parsed = readFeedHeaders((n) => got.headers.get(n));
    assert.equal(parsed?.cursor.seq, parseFeedCursor(body.cursor)?.seq);
    // At the head: an empty body and no oldest-ms.
    const empty = await fetch(`${base}?after=${body.cursor}`, {
      headers: { accept: 'application/octet-stream' },
    });
    assert.equal((await empty.arrayBuffer()).byteLength, 0);
    assert.equal(empty.headers.get(FEED_OLDEST_MS_HEADER), null);
    assert.ok((await h.metrics.value('store_decisions_served_ids_total')) >= 3);
    assert.ok(
      (await h.metrics.value('store_query_requests_total', { route: 'decisions_publish', status: '200' })) >=
        1,
    );
  });

  it('publishes JSON ids of either case and serves the JSON form, with more and reset', async () => {
    const start = await head();
    const a = ids(3);
    const res = await post(
      JSON.stringify({ traceIds: a.map((x) => x.toUpperCase()) }),
      'application/json; charset=utf-8',
    );
    assert.equal(res.status, 200);
    const first = (await (await fetch(`${base}?after=${start}&limit=2`)).json()) as DecisionsPageJson;
    assert.deepEqual(first.traceIds, a.slice(0, 2));
    assert.equal(first.more, true);
    assert.equal(first.reset, false);
    assert.equal(first.missed, 0);
    assert.equal(typeof first.oldestAppendedMs, 'number');
    const second = (await (await fetch(`${base}?after=${first.cursor}`)).json()) as DecisionsPageJson;
    assert.deepEqual(second.traceIds, a.slice(2));
    assert.equal(second.more, false);
    const reset = await fetch(`${base}?after=ffffffffffffffff.1&limit=1`, {
      headers: { accept: 'application/octet-stream' },
    });
    assert.equal(reset.headers.get(FEED_RESET_HEADER), '1');
    assert.equal(reset.headers.get(FEED_MORE_HEADER), '1');
    await reset.arrayBuffer();
  });

  it('refuses every malformed request with 400 or 415 and SENTINEL_ERR_DECISIONS_INVALID, and counts it', async () => {
    const zero = new Uint8Array(32);
    zero[0] = 1; // first id fine, second all zero
    const cases: Array<{ name: string; send: () => Promise<Response>; status: number; message: RegExp }> = [
      {
        name: 'empty binary body',
        send: () => post(new Uint8Array(0), 'application/octet-stream'),
        status: 400,
        message: /n x 16 raw trace-id bytes/,
      },
      {
        name: '17 bytes',
        send: () => post(new Uint8Array(17).fill(1), 'application/octet-stream'),
        status: 400,
        message: /got 17 bytes/,
      },
      {
        name: '65,537 ids',
        send: () => post(new Uint8Array((MAX_DECISION_IDS + 1) * 16).fill(1), 'application/octet-stream'),
        status: 400,
        message: /at most 65536 ids/,
      },
      {
        name: 'an all-zero id',
        send: () => post(zero, 'application/octet-stream'),
        status: 400,
        message: /trace id 1: expected a non-zero id/,
      },
      {
        name: 'invalid JSON',
        send: () => post('{"traceIds": [', 'application/json'),
        status: 400,
        message: /invalid JSON/,
      },
      {
        name: 'JSON without traceIds',
        send: () => post('{"ids": []}', 'application/json'),
        status: 400,
        message: /"traceIds"/,
      },
      {
        name: 'JSON with no ids',
        send: () => post('{"traceIds": []}', 'application/json'),
        status: 400,
        message: /expected 1 to 65536 ids, got 0/,
      },
      {
        name: 'JSON with a short id',
        send: () => post(JSON.stringify({ traceIds: [ids(1)[0], 'abc'] }), 'application/json'),
        status: 400,
        message: /traceIds\[1\]: expected 32 hex digits, got "abc"/,
      },
      {
        name: 'JSON with an all-zero id',
        send: () => post(JSON.stringify({ traceIds: ['0'.repeat(32)] }), 'application/json'),
        status: 400,
        message: /traceIds\[0\]: expected a non-zero id/,
      },
      {
        name: 'text/plain',
        send: () => post('x', 'text/plain'),
        status: 415,
        message: /content-type: expected application\/octet-stream or application\/json/,
      },
      {
        name: 'gzip',
        send: () =>
          post(new Uint8Array(16).fill(1), 'application/octet-stream', { 'content-encoding': 'gzip' }),
        status: 415,
        message: /content-encoding/,
      },
      {
        name: 'a malformed cursor',
        send: () => fetch(`${base}?after=nope`),
        status: 400,
        message: /after: expected a cursor/,
      },
      {
        name: 'limit 0',
        send: () => fetch(`${base}?after=&limit=0`),
        status: 400,
        message: /limit: expected a positive integer/,
      },
    ];
    const before = await h.metrics.value('store_decisions_invalid_total');
    const headBefore = await head();
    for (const c of cases) {
      const res = await c.send();
      assert.equal(res.status, c.status, c.name);
      const body = (await res.json()) as { error: string; code: string };
      assert.equal(body.code, 'SENTINEL_ERR_DECISIONS_INVALID', c.name);
      assert.match(body.error, c.message, c.name);
    }
    assert.equal((await h.metrics.value('store_decisions_invalid_total')) - before, cases.length);
    assert.equal(await head(), headBefore, 'nothing was appended');
    assert.ok((await h.metrics.value('store_decisions_feed_requests_total', { status: '400' })) >= 2);
    // The server is still there.
    assert.equal((await fetch(base)).status, 200);
  });

  it('appends nothing from a client that goes away mid-body, and keeps serving', async () => {
    const headBefore = await head();
    const socket = connect(h.store.ports.query, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'POST /api/decisions HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 1600\r\n\r\n',
    );
    socket.write(randomBytes(100));
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    for (let i = 0; i < 100; i++) {
      if (
        (await h.metrics.value('store_query_requests_total', {
          route: 'decisions_publish',
          status: 'aborted',
        })) > 0
      )
        break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(
      await h.metrics.value('store_query_requests_total', { route: 'decisions_publish', status: 'aborted' }),
      1,
    );
    assert.equal(await head(), headBefore);
  });

  it('answers 405 naming the allowed methods for other verbs', async () => {
    const res = await fetch(base, { method: 'PUT', body: 'x' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');
    await res.arrayBuffer();
  });

  it('requires a bearer token for both verbs when auth is required', async () => {
    const url = `http://127.0.0.1:${authed.store.ports.query}/api/decisions`;
    const body = encodeDecisionIds(ids(1));
    const anonymous = [
      await fetch(url),
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body }),
    ];
    for (const r of anonymous) {
      assert.equal(r.status, 401);
      await r.arrayBuffer();
    }
    const auth = { authorization: 'Bearer s3cret' };
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...auth },
      body,
    });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { appended: number }).appended, 1);
    assert.equal((await fetch(url, { headers: auth })).status, 200);
  });
});

describe('/api/decisions over the store TLS', () => {
  it('publishes and serves ids over HTTPS with the query server certificate', async () => {
    const cert = makeCertificate('sentinel-store', tempDir());
    const h = await startTestStore({
      overrides: { tls: { cert_file: cert.certFile, key_file: cert.keyFile } },
    });
    const call = (method: string, path: string, headers: Record<string, string>, body?: Uint8Array) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: h.store.ports.query, method, path, headers, ca: cert.cert },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const a = ids(2);
      const posted = await call(
        'POST',
        '/api/decisions',
        { 'content-type': 'application/octet-stream' },
        encodeDecisionIds(a),
      );
      assert.equal(posted.status, 200);
      const got = await call('GET', `/api/decisions?after=${h.store.decisions.epoch}.0`, {
        accept: 'application/octet-stream',
      });
      assert.equal(got.status, 200);
      assert.deepEqual(decodeDecisionIds(got.body), a);
    } finally {
      await h.dispose();
    }
  });
});

describe('decisions config and the store lifecycle', () => {
  it('defaults to 262,144 entries, 10 minutes and a directory under wal_dir, and names a bad key', () => {
    const c = validateConfig(storeConfigSchema(), {}, 'test');
    assert.deepEqual(c.decisions, { dir: '', max_entries: 262_144, retention: 600_000 });
    assert.throws(
      () => validateConfig(storeConfigSchema(), { decisions: { max_entries: 0, extra: 1 } }, 'test'),
      (err: unknown) =>
        isSentinelError(err, 'SENTINEL_ERR_CONFIG_INVALID') &&
        /decisions\.max_entries/.test(err.message) &&
        /extra/.test(err.message),
    );
  });

  it('opens the feed in <wal_dir>/decisions on start and keeps it across a graceful restart', async () => {
    const dir = tempDir();
    const first = await startTestStore({ dir });
    const base = (port: number) => `http://127.0.0.1:${port}/api/decisions`;
    const a = ids(4);
    const posted = await fetch(base(first.store.ports.query), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: encodeDecisionIds(a),
    });
    assert.equal(posted.status, 200);
    await posted.arrayBuffer();
    const page = (await (
      await fetch(`${base(first.store.ports.query)}?after=${first.store.decisions.epoch}.0&limit=1`)
    ).json()) as DecisionsPageJson;
    assert.deepEqual(page.traceIds, a.slice(0, 1));
    await first.store.shutdown();
    assert.ok(readdirSync(join(dir, 'wal', 'decisions')).includes('epoch'));
    const second = await startTestStore({ dir });
    try {
      const rest = (await (
        await fetch(`${base(second.store.ports.query)}?after=${page.cursor}`)
      ).json()) as DecisionsPageJson;
      assert.deepEqual(rest.traceIds, a.slice(1));
      assert.equal(rest.reset, false);
      assert.equal(await second.metrics.value('store_decisions_entries'), 4);
    } finally {
      await second.dispose();
    }
  });
});

describe('the decision feed across a kill -9 of the store', () => {
  const dir = tempDir();
  let child: ChildProcess | undefined;
  after(() => {
    child?.kill('SIGKILL');
  });

  function startChild(): Promise<{ query: number }> {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'store-child.ts')],
      {
        env: { ...process.env, SENTINEL_TEST_STORE_DIR: dir, SENTINEL_TEST_STORE_OVERRIDES: '{}' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const c = child;
    return new Promise((resolve, reject) => {
      let out = '';
      c.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve(JSON.parse(line) as { query: number });
      });
      c.once('exit', (code) => reject(new Error(`the store child exited with ${code}`)));
    });
  }

  it('loses no published id and repeats none for a reader that resumes with its old cursor', async () => {
    let { query } = await startChild();
    let base = `http://127.0.0.1:${query}/api/decisions`;
    const start = ((await (await fetch(base)).json()) as DecisionsPageJson).cursor;
    const published = ids(3000);
    for (let i = 0; i < 30; i++) {
      const res = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: encodeDecisionIds(published.slice(i * 100, (i + 1) * 100)),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const read: string[] = [];
    const poll = async (after: string, limit: number) => {
      const res = await fetch(`${base}?after=${after}&limit=${limit}`, {
        headers: { accept: 'application/octet-stream' },
      });
      assert.equal(res.status, 200);
      read.push(...decodeDecisionIds(new Uint8Array(await res.arrayBuffer())));
      return readFeedHeaders((n) => res.headers.get(n))!;
    };
    const part = await poll(start, 1200);
    assert.equal(read.length, 1200);

    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGKILL');
    await exited;
    ({ query } = await startChild());
    base = `http://127.0.0.1:${query}/api/decisions`;

    let cursor = formatFeedCursor(part.cursor);
    for (;;) {
      const page = await poll(cursor, 1000);
      assert.equal(page.reset, false);
      assert.equal(page.missed, 0);
      cursor = formatFeedCursor(page.cursor);
      if (!page.more) break;
    }
    assert.equal(read.length, published.length, 'no id lost, none repeated');
    assert.deepEqual(read, published);
  });
});
