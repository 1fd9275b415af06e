import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's `prometheus` package (.ci/run installs it); undefined where it is not installed. */
export function prometheusBinary(): string | undefined {
  for (const p of [process.env['SENTINEL_TEST_PROMETHEUS'], '/usr/bin/prometheus'])
    if (p && existsSync(p)) return p;
  return undefined;
}

/** An instant-query result of the HTTP API (`/api/v1/query`), vector type. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface RunningPrometheus {
  readonly url: string;
  /** An instant query, as Grafana's Prometheus data source sends `instant: true` queries. */
  query(expr: string): Promise<PromSample[]>;
  /** Waits until every target has been scraped at least once after `sinceMs`, and is up. */
  scrapedSince(sinceMs: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Prometheus on 127.0.0.1, scraping each `job -> ports` every second, with its data in a temp dir. */
export async function startPrometheus(
  binary: string,
  jobs: Readonly<Record<string, readonly number[]>>,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-prometheus-'));
  const config = [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    ...Object.entries(jobs).map(
      ([job, ports]) =>
        `  - job_name: ${job}\n    static_configs: [{ targets: [${ports.map((p) => `"127.0.0.1:${p}"`).join(', ')}] }]`,
    ),
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config + '\n');
  // The port is free when freePort() looks and may be taken before Prometheus binds it (Prometheus cannot report
  // a port 0 it was given): a start that fails with "address already in use" is tried again on another port.
  let started: { child: ChildProcess; url: string } | undefined;
  for (let attempt = 1; !started; attempt++) {
    try {
      started = await launch(binary, dir, await freePort());
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
  const { child, url } = started;
  const get = async (path: string): Promise<unknown> => {
    const res = await fetch(url + path);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const targetCount = Object.values(jobs).reduce((n, p) => n + p.length, 0);
  return {
    url,
    query: async (expr) => {
      const data = (await get(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
        resultType: string;
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
      if (data.resultType !== 'vector')
        throw new Error(`expected a vector from ${expr}, got ${data.resultType}`);
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    scrapedSince: async (sinceMs, timeoutMs = 30_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const data = (await get('/api/v1/targets')) as {
          activeTargets: { health: string; lastScrape: string }[];
        };
        const fresh = data.activeTargets.filter(
          (t) => t.health === 'up' && Date.parse(t.lastScrape) > sinceMs,
        ).length;
        if (fresh === targetCount) return;
        if (Date.now() > until) throw new Error(`${fresh} of ${targetCount} targets scraped and up`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts Prometheus listening on `port`; resolves once it answers /-/ready, rejects if it exits first. */
async function launch(
  binary: string,
  dir: string,
  port: number,
): Promise<{ child: ChildProcess; url: string }> {
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) return { child, url };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus not ready in 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
