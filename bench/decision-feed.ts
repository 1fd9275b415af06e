/**
 * Issue 9: what the decision feed costs. On a real store query server (its own process, bearer-token auth,
 * plain HTTP/1.1 keep-alive): bytes on the wire per GET /api/decisions for 0, 10, 100 and 1,000 ids per poll
 * and per POST, the store's CPU per request (process.cpuUsage of the store process) beside GET /health in the
 * same run, and the memory of a full feed. From those, the bandwidth per agent and per store replica and a
 * replica's CPU share for 1,000 agents polling every replica every second.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type OutgoingHttpHeaders } from 'node:http';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DECISION_ID_BYTES,
  FEED_CURSOR_HEADER,
  decodeDecisionIds,
} from '../src/decision-feed/feed-protocol.js';
import { DecisionLog } from '../src/decision-feed/decision-log.js';
import { silentLogger } from '../src/telemetry/index.js';
import { median } from './_stats.js';

const N = Number(process.env['BENCH_N'] ?? 6000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CONCURRENCY = 8;
const AGENTS = 1000;
const SIZES = [0, 10, 100, 1000];

const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-decisions-'));
const token = randomBytes(32).toString('base64url'); // 43 chars, like a generated Secret
const child = fork(new URL('./_decision-feed-store.ts', import.meta.url).pathname, [dir, token], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const [hello] = (await once(child, 'message')) as [{ ports: { query: number }; epoch: string }];
const port = hello.ports.query;
const epoch = hello.epoch;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function storeCpuUs(): Promise<number> {
  child.send('cpu');
  const [m] = (await once(child, 'message')) as [{ cpu: NodeJS.CpuUsage }];
  return m.cpu.user + m.cpu.system;
}

interface Series {
  /** Store CPU per request, µs (less what the idle store spends in the same time). */
  cpuUs: number;
  /** Bytes the client wrote per request (request line, headers, body). */
  requestBytes: number;
  /** Bytes the client read per request (status line, headers, body). */
  responseBytes: number;
}

/** `n` requests from `CONCURRENCY` keep-alive connections; bytes counted on the client's sockets. */
async function measure(
  n: number,
  make: (i: number) => { method: string; path: string; headers: OutgoingHttpHeaders; body?: Uint8Array },
  check: (status: number, body: Buffer, headers: Record<string, unknown>) => void,
): Promise<Series> {
  const sockets: Socket[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  // Every connection of this series, to read its byte counters at the end.
  (agent as unknown as { createConnection: (o: NetConnectOpts) => Socket }).createConnection = (o) => {
    const s = createConnection(o);
    sockets.push(s);
    return s;
  };
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const r = make(i);
      const req = request(
        { host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              check(res.statusCode ?? 0, Buffer.concat(chunks), res.headers);
              resolve();
            } catch (err) {
              reject(err as Error);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  // Open the connections outside the measured window.
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => one(i)));
  const before = sockets.reduce((s, x) => s + x.bytesWritten, 0);
  const beforeRead = sockets.reduce((s, x) => s + x.bytesRead, 0);
  const cpu0 = await storeCpuUs();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await one(next++);
    }),
  );
  const cpu1 = await storeCpuUs();
  const idleUs = (idleUsPerMs * (performance.now() - t0)) | 0;
  const written = sockets.reduce((s, x) => s + x.bytesWritten, 0) - before;
  const read = sockets.reduce((s, x) => s + x.bytesRead, 0) - beforeRead;
  agent.destroy();
  return { cpuUs: (cpu1 - cpu0 - idleUs) / n, requestBytes: written / n, responseBytes: read / n };
}

const auth = { authorization: `Bearer ${token}` };
const ids = (n: number) => randomBytes(n * DECISION_ID_BYTES);

/** POSTs fresh ids (CONCURRENCY requests of `n` ids, the warm-up of an empty series). */
async function fill(n: number): Promise<void> {
  await measure(
    0,
    () => ({
      method: 'POST',
      path: '/api/decisions',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: ids(n),
    }),
    (status) => assert200(status),
  );
}
function assert200(status: number): void {
  if (status !== 200) throw new Error(`expected 200, got ${status}`);
}

console.log(
  `# decision feed: node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ' ',
    )}; ${N} requests per series, ${ROUNDS} rounds, ${CONCURRENCY} keep-alive connections; store in its own process`,
);

// What the store spends doing nothing (timers, GC), subtracted from each series; measured after the warm-up.
let idleUsPerMs = 0;
async function measureIdle(): Promise<void> {
  const c0 = await storeCpuUs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 2000));
  idleUsPerMs = ((await storeCpuUs()) - c0) / (performance.now() - t0);
  console.log(`idle store after the warm-up: ${fmt(idleUsPerMs * 1000)} µs CPU per second (subtracted)`);
}

// Fill the feed so that any GET can be answered with exactly k ids: after = head - k.
await fill(1000);
child.send('cpu');
const [{ head }] = (await once(child, 'message')) as [{ head: number }];

const health: Series[] = [];
const gets = new Map<number, Series[]>(SIZES.map((k) => [k, []]));
// Round -1 warms the store up (JIT, buffers) and is not recorded.
for (let round = -1; round < ROUNDS; round++) {
  if (round === 0) await measureIdle();
  const n = round < 0 ? Math.ceil(N / 4) : N;
  const keep = <T>(list: T[], x: T) => {
    if (round >= 0) list.push(x);
  };
  keep(
    health,
    await measure(
      n,
      () => ({ method: 'GET', path: '/health', headers: {} }),
      (status) => assert200(status),
    ),
  );
  for (const k of SIZES) {
    keep(
      gets.get(k)!,
      await measure(
        k === 1000 ? Math.ceil(n / 2) : n,
        () => ({
          method: 'GET',
          path: `/api/decisions?after=${epoch}.${head - k}`,
          headers: { ...auth, accept: 'application/octet-stream' },
        }),
        (status, body, headers) => {
          assert200(status);
          if (decodeDecisionIds(body).length !== k || !headers[FEED_CURSOR_HEADER])
            throw new Error(`expected ${k} ids and a cursor`);
        },
      ),
    );
  }
}
const postSeries = new Map<number, Series[]>([
  [1, []],
  [100, []],
]);
for (let round = -1; round < ROUNDS; round++) {
  const n = round < 0 ? Math.ceil(N / 4) : N;
  for (const k of [1, 100]) {
    const series = await measure(
      k === 1 ? n : Math.ceil(n / 5),
      () => ({
        method: 'POST',
        path: '/api/decisions',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body: ids(k),
      }),
      (status, body) => {
        assert200(status);
        if ((JSON.parse(body.toString()) as { appended: number }).appended !== k)
          throw new Error('expected every id appended');
      },
    );
    if (round >= 0) postSeries.get(k)!.push(series);
  }
}
child.send('stop');
await once(child, 'exit');

const summary = (xs: Series[]): Series => ({
  cpuUs: median(xs.map((x) => x.cpuUs)),
  requestBytes: median(xs.map((x) => x.requestBytes)),
  responseBytes: median(xs.map((x) => x.responseBytes)),
});
const healthS = summary(health);
const getS = new Map([...gets].map(([k, xs]) => [k, summary(xs)]));
const postS = new Map([...postSeries].map(([k, xs]) => [k, summary(xs)]));

console.log(
  '\n## per request (median of rounds; bytes are HTTP/1.1 bytes on the socket, no TCP/IP or TLS framing)',
);
console.log('| request | request bytes | response bytes | store CPU µs/request | CPU µs of each round |');
console.log('|---|---:|---:|---:|---|');
const row = (name: string, s: Series, all: Series[]) =>
  console.log(
    `| ${name} | ${fmt(s.requestBytes)} | ${fmt(s.responseBytes)} | ${fmt(s.cpuUs, 1)} | ${all.map((x) => fmt(x.cpuUs, 1)).join(', ')} |`,
  );
row('baseline: GET /health (no auth)', healthS, health);
for (const k of SIZES) row(`GET /api/decisions, ${k} ids`, getS.get(k)!, gets.get(k)!);
for (const k of [1, 100]) row(`POST /api/decisions, ${k} new ids`, postS.get(k)!, postSeries.get(k)!);

// Model of a poll answering k ids (k may be fractional: an average); bytes and CPU linear between measurements.
const req0 = getS.get(0)!.requestBytes;
const respWithIds = getS.get(10)!.responseBytes - 10 * DECISION_ID_BYTES; // headers when the body is not empty
const getBytes = (k: number) =>
  req0 + (k === 0 ? getS.get(0)!.responseBytes : respWithIds + k * DECISION_ID_BYTES);
const getCpuUs = (k: number) => {
  for (let i = 1; i < SIZES.length; i++) {
    const a = SIZES[i - 1]!;
    const b = SIZES[i]!;
    if (k <= b || i === SIZES.length - 1) {
      const ca = getS.get(a)!.cpuUs;
      const cb = getS.get(b)!.cpuUs;
      return ca + ((cb - ca) * (k - a)) / (b - a);
    }
  }
  return getS.get(0)!.cpuUs;
};
const post1 = postS.get(1)!;
const postOverhead = post1.requestBytes - DECISION_ID_BYTES + post1.responseBytes;

console.log(
  `\n## ${fmt(AGENTS)} agents, each polling every replica once a second and publishing its own rule-kept ids to one replica`,
);
console.log(
  'Cluster-wide rule-kept rate λ; each replica holds λ/R ids/s, so each poll answers λ/R ids on average. An agent POSTs when it has ids (probability 1 - e^(-λ/1000) per second).',
);
console.log(
  '| replicas R | λ ids/s | ids per poll | per agent: polls | per agent: POSTs | per agent total | per replica: in + out | replica CPU (share of one core) |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
const perSecond = (bytes: number) => `${fmt(bytes)} B/s`;
const mbit = (bytes: number) => `${fmt((bytes * 8) / 1e6, 2)} Mbit/s`;
for (const R of [1, 2, 3]) {
  for (const rate of [10, 100, 300]) {
    const k = rate / R;
    const pollsPerAgent = R * getBytes(k);
    const postsPerSecond = 1 - Math.exp(-rate / AGENTS); // per agent
    const postsPerAgent = postsPerSecond * postOverhead + (rate / AGENTS) * DECISION_ID_BYTES;
    const replicaBytes =
      AGENTS * getBytes(k) + (AGENTS * postsPerSecond * postOverhead) / R + (rate / R) * 16;
    const replicaCpuUs = AGENTS * getCpuUs(k) + ((AGENTS * postsPerSecond) / R) * post1.cpuUs;
    console.log(
      `| ${R} | ${rate} | ${fmt(k, 1)} | ${perSecond(pollsPerAgent)} | ${perSecond(postsPerAgent)} | ${perSecond(pollsPerAgent + postsPerAgent)} | ${mbit(replicaBytes)} | ${fmt(replicaCpuUs / 1e4, 1)} % |`,
    );
  }
}
console.log(
  `baseline: ${fmt(AGENTS)} GET /health per second would take ${mbit(AGENTS * (healthS.requestBytes + healthS.responseBytes))} and ${fmt((AGENTS * healthS.cpuUs) / 1e4, 1)} % of a core`,
);

// Memory of a full feed at the default bound (the ids, their times and the de-dup set).
const ENTRIES = 262_144;
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const mem0 = process.memoryUsage();
const log = await DecisionLog.open({
  dir: join(dir, 'memory'),
  maxEntries: ENTRIES,
  retentionMs: 3_600_000,
  logger: silentLogger(),
});
for (let i = 0; i < ENTRIES / 65_536; i++) await log.append(ids(65_536));
gc?.();
const mem1 = process.memoryUsage();
const perEntry = (mem1.heapUsed - mem0.heapUsed + mem1.arrayBuffers - mem0.arrayBuffers) / ENTRIES;
console.log(
  `\n## memory of a full feed (${fmt(ENTRIES)} entries${gc ? '' : ', without --expose-gc: rough'}): ${fmt(perEntry, 1)} B per entry (heap + buffers), ${fmt((perEntry * ENTRIES) / 2 ** 20, 1)} MiB; on disk ${24} B per entry, ${fmt((24 * ENTRIES) / 2 ** 20, 1)} MiB`,
);
await log.close();
rmSync(dir, { recursive: true, force: true });
