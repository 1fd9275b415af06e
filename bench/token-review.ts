/**
 * What does checking an agent's projected token cost the store, per request? (Issue 14.)
 * Baseline, measured in this run: a static `auth.token_files` token (SHA-256 + constant-time compare).
 * - cached: a token TokenReview confirmed earlier, answered from the lru-cache (SHA-256, the JWT's `exp` read,
 *   one LRU get);
 * - uncached: a new token each call, so a TokenReview through @kubernetes/client-node over HTTPS to a stand-in
 *   API server on loopback (test/helpers/fake-token-review.ts; a real API server adds its network and its own
 *   work on top, so this is a lower bound).
 * Each figure is the median of ROUNDS rounds, per call, StoreAuth.authorize() as the receivers call it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { StoreAuth } from '../src/store/store-auth.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';
import { projectedToken, startFakeTokenReview } from '../test/helpers/fake-token-review.js';
import { median } from './_stats.js';

const ROUNDS = 5;
const FAST_CALLS = 100_000;
const REVIEW_CALLS = 200;

const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-token-review-'));
const kube = await startFakeTokenReview(dir);
const staticFile = join(dir, 'agent-token');
writeFileSync(staticFile, 'static-agent-token-of-some-length-0123456789\n');
const auth = new StoreAuth({
  required: true,
  agentTokenFiles: [staticFile],
  readerTokenFiles: [],
  tokenReview: { audience: 'sentinel', cacheTtlMs: 3_600_000, kubeconfig: kube.kubeconfig },
  logger: silentLogger(),
  metrics: new Metrics(),
});
await auth.init();
const expS = Math.floor(Date.now() / 1000) + 3600;
const cachedToken = projectedToken('shop:default', 'sentinel', expS);
kube.tokens.set(cachedToken, { username: 'system:serviceaccount:shop:default', audiences: ['sentinel'] });

async function check(header: string): Promise<void> {
  const v = await auth.authorize(header, 'agent');
  if (!v.ok) throw new Error(`refused: ${v.message}`);
}

/** Per-call µs of `calls` sequential checks, header from `next`. */
async function time(calls: number, next: (i: number) => string): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await check(next(i));
  return Number(process.hrtime.bigint() - t0) / 1000 / calls;
}

const staticHeader = 'Bearer static-agent-token-of-some-length-0123456789';
const cachedHeader = `Bearer ${cachedToken}`;
await check(cachedHeader); // the one review of the cached token
let fresh = 0;
const freshHeader = () => {
  const t = projectedToken(`shop:sa-${++fresh}`, 'sentinel', expS);
  kube.tokens.set(t, { username: `system:serviceaccount:shop:sa-${fresh}`, audiences: ['sentinel'] });
  return `Bearer ${t}`;
};
// Warm-up: JIT, the HTTPS keep-alive connection.
await time(10_000, () => staticHeader);
await time(10_000, () => cachedHeader);
await time(20, freshHeader);

const s: number[] = [];
const c: number[] = [];
const u: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  s.push(await time(FAST_CALLS, () => staticHeader));
  c.push(await time(FAST_CALLS, () => cachedHeader));
  u.push(await time(REVIEW_CALLS, freshHeader));
}
const [st, ca, un] = [median(s), median(c), median(u)];
console.log(
  `# node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (shared machine)`,
);
console.log('| check | µs per request (median of 5 rounds) | vs static token |');
console.log('|---|---|---|');
console.log(`| static token (auth.token_files), baseline | ${st.toFixed(2)} | 1.00x |`);
console.log(`| TokenReview, cached | ${ca.toFixed(2)} | ${(ca / st).toFixed(2)}x |`);
console.log(
  `| TokenReview, uncached (HTTPS to a loopback stand-in) | ${un.toFixed(0)} | ${(un / st).toFixed(0)}x |`,
);
console.log(
  `uncached / cached: ${(un / ca).toFixed(0)}x; reviews made: ${[...kube.calls.values()].reduce((a, b) => a + b, 0)}`,
);
auth.close();
await kube.close();
rmSync(dir, { recursive: true, force: true });
