/**
 * One call into a short-lived worker thread, answered synchronously (issue 13). The agent validates its config
 * and its sampling policies with zod and yaml, whose modules and schemas held 3.2 MiB of V8 heap and 6.7 MiB of
 * anonymous memory for the process's life when imported on its main thread; on a worker that exits, 1.2 MiB
 * stays (BENCHMARKS.md "Session 11"). The caller blocks until the answer comes (Atomics.wait), so the functions
 * built on it keep the synchronous contract of the in-process validation they replace: a policy reload is still
 * applied, or refused, by the call that noticed the change.
 *
 * The worker module exports `handle(request)`; what it returns (or the error it throws) must be structured-clone
 * data. Under tsx (tests, `npm run sentinel`) the `.ts` module is started through a bootstrap that registers tsx
 * first, since a worker does not inherit the loader; in dist/ the `.js` entry beside the calling chunk.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { ErrorCodes, SentinelError } from '../errors.js';

/** How long a worker may take to start and answer before the call fails (a loaded CI machine under tsx: seconds). */
const ANSWER_TIMEOUT_MS = 60_000;

/** What the worker posts back. */
type Answer<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly message: string; readonly code?: string; readonly name?: string };

/** The worker's whole program: import the module, call `handle`, post the answer, wake the caller. */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { port, signal, url, tsx, request } = workerData;
const reply = (answer) => {
  port.postMessage(answer);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
};
(async () => {
  if (tsx) (await import('tsx/esm/api')).register();
  return (await import(url)).handle(request);
})()
  .then((value) => reply({ ok: true, value }))
  // Also an answer that cannot be cloned: the caller gets an error rather than a wait.
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

/**
 * Runs `handle(request)` of the module `name` (without extension) beside `baseUrl` on a new worker thread and
 * returns its result; the worker is gone once this returns. Throws what the worker threw: a SentinelError as
 * one (same code and message), any other error as a WorkerCallError.
 */
export function callWorkerSync<Req, Res>(baseUrl: string, name: string, request: Req): Res {
  const tsx = baseUrl.endsWith('.ts');
  const url = new URL(`./${name}.${tsx ? 'ts' : 'js'}`, baseUrl).href;
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(BOOTSTRAP, {
    eval: true,
    workerData: { port: port2, signal, url, tsx, request },
    transferList: [port2],
    // Not the process's preloads (`--import`, `--require`): the bootstrap registers tsx itself where needed.
    execArgv: [],
  });
  worker.unref();
  try {
    const woke = Atomics.wait(signal, 0, 0, ANSWER_TIMEOUT_MS);
    const answer = receiveMessageOnPort(port1)?.message as Answer<Res> | undefined;
    if (answer === undefined)
      throw new Error(
        `the ${name} worker did not answer${woke === 'timed-out' ? ` within ${ANSWER_TIMEOUT_MS} ms` : ''}`,
      );
    if (!answer.ok) {
      if (answer.code !== undefined && Object.hasOwn(ErrorCodes, answer.code))
        throw new SentinelError(answer.code as keyof typeof ErrorCodes, answer.message);
      throw new WorkerCallError(answer.message, answer.code, answer.name);
    }
    return answer.value;
  } finally {
    port1.close();
    void worker.terminate();
  }
}
