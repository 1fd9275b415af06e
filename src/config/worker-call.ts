/**
 * One call into a short-lived worker process, answered synchronously (issue 13). The agent validates its config
 * and its sampling policies with zod and yaml, whose modules and schemas held 3.2 MiB of V8 heap and 6.7 MiB of
 * anonymous memory for the process's life when imported on its main thread (BENCHMARKS.md "Session 11").
 *
 * A process, not a worker thread: a worker thread that has exited still leaves its process 1.5 MiB more anonymous
 * memory and 1.7 MiB more of the node binary's pages (an empty worker, Node 20), where a child process leaves 0.3
 * and 0.2. The idle agent (bench/agent-idle.ts, Node 20, at 40 s): 57.7 MiB before, 57.1 validating on threads,
 * 54.5 in child processes. The node binary's pages are shared with the agent, so the child's own cost while it
 * runs is its heap, as a thread's would be.
 *
 * callWorkerSync blocks until the answer (spawnSync: about 130 ms for a policy from dist/ on a loaded 2-core
 * machine), for callers with a synchronous contract: reading the config at start, a policy file's check. callWorker
 * does not block (a central policy's fetch, already asynchronous).
 *
 * The module exports `handle(request)`; the request, and what it returns or the error it throws, cross as
 * structured-clone data (node:v8 serialize). Under tsx (tests, `npm run sentinel`) the child runs the `.ts` module
 * with `--import tsx`; in dist/ the `.js` entry beside the calling chunk.
 */
import { execFile, spawnSync } from 'node:child_process';
import { deserialize, serialize } from 'node:v8';
import { ErrorCodes, SentinelError } from '../errors.js';

/** How long the worker may take to start and answer before the call fails (a loaded CI machine under tsx: seconds). */
const ANSWER_TIMEOUT_MS = 60_000;

/** What the worker writes to its stdout. */
type Answer<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly message: string; readonly code?: string; readonly name?: string };

/** The worker's whole program: read the request, import the module, call `handle`, write the answer. */
const BOOTSTRAP = `
const { readFileSync, writeSync } = require('node:fs');
const { deserialize, serialize } = require('node:v8');
const { url, request } = deserialize(readFileSync(0));
const reply = (answer) => {
  const bytes = serialize(answer);
  for (let at = 0; at < bytes.length; ) at += writeSync(1, bytes, at);
};
(async () => (await import(url)).handle(request))()
  .then((value) => reply({ ok: true, value }))
  // Also an answer that cannot be cloned: the caller gets an error.
  .catch((err) => reply({ ok: false, message: String(err && err.message !== undefined ? err.message : err), code: err && err.code, name: err && err.name }));
`;

/** An error the worker threw that is not a SentinelError, as the caller sees it: its message, name and code. */
export class WorkerCallError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, name: string | undefined) {
    super(message);
    this.code = code;
    if (name !== undefined) this.name = name;
  }
}

/** The URL of the worker module `name` beside `baseUrl`: the `.ts` source under tsx, the `.js` entry in dist/. */
export function workerModuleUrl(baseUrl: string, name: string): string {
  return new URL(`./${name}.${baseUrl.endsWith('.ts') ? 'ts' : 'js'}`, baseUrl).href;
}

/** The node command line that runs the module `name` beside `baseUrl`, and its stdin. */
function workerCommand(baseUrl: string, name: string, request: unknown): { args: string[]; input: Buffer } {
  const tsx = baseUrl.endsWith('.ts');
  const url = workerModuleUrl(baseUrl, name);
  return { args: [...(tsx ? ['--import', 'tsx'] : []), '-e', BOOTSTRAP], input: serialize({ url, request }) };
}

const SPAWN_OPTIONS = { maxBuffer: 64 * 1024 * 1024, timeout: ANSWER_TIMEOUT_MS, windowsHide: true };

/** The worker's answer, from how it ended; what it said on stderr besides a good answer goes to ours. */
function answerOf<Res>(
  name: string,
  ended: {
    error?: Error | undefined;
    status: number | null;
    signal: string | null;
    // null when the process could not be started (spawnSync with no such binary).
    stdout: Buffer | null;
    stderr: Buffer | null;
  },
): Res {
  const stderr = ended.stderr?.toString('utf8') ?? '';
  if (ended.error !== undefined || ended.status !== 0 || !ended.stdout || ended.stdout.length === 0) {
    const why =
      ended.error?.message ?? (ended.signal ? `signal ${ended.signal}` : `exit code ${ended.status}`);
    throw new Error(`the ${name} process did not answer (${why})${stderr ? `: ${stderr.trim()}` : ''}`);
  }
  if (stderr !== '') process.stderr.write(stderr);
  const answer = deserialize(ended.stdout) as Answer<Res>;
  if (answer.ok) return answer.value;
  if (answer.code !== undefined && Object.hasOwn(ErrorCodes, answer.code))
    throw new SentinelError(answer.code as keyof typeof ErrorCodes, answer.message);
  throw new WorkerCallError(answer.message, answer.code, answer.name);
}

/**
 * Runs `handle(request)` of the module `name` (without extension) beside `baseUrl` in a new node process and
 * returns its result; the process is gone once this returns. Throws what the worker threw: a SentinelError as
 * one (same code and message), any other error as a WorkerCallError.
 */
export function callWorkerSync<Req, Res>(baseUrl: string, name: string, request: Req): Res {
  const { args, input } = workerCommand(baseUrl, name, request);
  const run = spawnSync(process.execPath, args, { ...SPAWN_OPTIONS, input });
  return answerOf<Res>(name, run);
}

/** callWorkerSync without blocking this thread while the worker runs. */
export function callWorker<Req, Res>(baseUrl: string, name: string, request: Req): Promise<Res> {
  const { args, input } = workerCommand(baseUrl, name, request);
  return new Promise<Res>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      args,
      { ...SPAWN_OPTIONS, encoding: 'buffer' },
      (error, stdout, stderr) => {
        const exit = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        try {
          resolve(
            answerOf<Res>(name, {
              // A non-zero exit is reported by its code; a spawn failure (no code) by its error.
              error: exit && typeof exit.code !== 'number' && !exit.signal ? exit : undefined,
              status: exit ? (typeof exit.code === 'number' ? exit.code : null) : 0,
              signal: exit?.signal ?? null,
              stdout,
              stderr,
            }),
          );
        } catch (err) {
          reject(err as Error);
        }
      },
    );
    child.stdin?.end(input);
  });
}
