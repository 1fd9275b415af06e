import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the module `name` (without extension) beside `baseUrl` as an unref'ed worker thread: the `.js` file in dist;
 * under tsx (tests, `npm run sentinel`) the `.ts` file, through a bootstrap that registers tsx first, since a worker
 * does not inherit the loader. (The span block encoder's and the logs encoder's; `resourceLimits` bounds its heap.)
 */
export function startModuleWorker(
  baseUrl: string,
  name: string,
  options: Pick<WorkerOptions, 'resourceLimits'> = {},
): Worker {
  const worker = baseUrl.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
          new URL(`./${name}.ts`, baseUrl).href,
        )}); });`,
        { eval: true, ...options },
      )
    : new Worker(new URL(`./${name}.js`, baseUrl), options);
  worker.unref();
  return worker;
}

/** Inputs packed in one buffer, `[start, end)` each, to transfer to a worker. */
export function packInputs(inputs: readonly Uint8Array[]): {
  buffer: ArrayBuffer;
  ranges: [number, number][];
} {
  let size = 0;
  for (const p of inputs) size += p.byteLength;
  const packed = new Uint8Array(size);
  const ranges: [number, number][] = [];
  let at = 0;
  for (const p of inputs) {
    packed.set(p, at);
    ranges.push([at, at + p.byteLength]);
    at += p.byteLength;
  }
  return { buffer: packed.buffer, ranges };
}

/**
 * Terminates `worker`, waiting at most `waitMs` on a timer that keeps the process alive meanwhile: terminate() has
 * been seen never to settle for a worker stopped under load (bench/pipeline.ts then exited 13, an unsettled
 * top-level await, in the store's abort). Resolves false when it did not settle in time, the worker then left to
 * the process exit.
 */
export async function terminateWorker(worker: Worker, waitMs: number): Promise<boolean> {
  // An unref'ed worker would not keep the event loop alive until its exit is reported.
  worker.ref();
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    worker.terminate().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
  ]);
  clearTimeout(timer);
  if (!settled) worker.unref();
  return settled;
}

/** A job's answer when the worker gave none (it failed, or its owner closed it). */
export interface JobFailed {
  readonly id: number;
  readonly ok: false;
  readonly error: string;
}

/**
 * The jobs given to a worker thread and not answered yet, by id. The worker is ref'ed while a job waits (the
 * process stays up for the answer) and unref'ed once none does. (The block encoder's and the logs encoder's.)
 */
export class WorkerJobs<R extends { readonly id: number }> {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: R | JobFailed) => void>();

  /** Resolves the job a worker's message answers: the worker's 'message' listener. */
  readonly answer = (r: R): void => {
    const done = this.waiting.get(r.id);
    this.waiting.delete(r.id);
    done?.(r);
  };

  /** Answers every waiting job as failed with `error`. */
  failAll(error: string): void {
    for (const [id, done] of this.waiting) done({ id, ok: false, error });
    this.waiting.clear();
  }

  /** Posts the job `make(id)` to `worker`, moving `transfer` to it, and resolves with the answer. */
  post(worker: Worker, make: (id: number) => unknown, transfer: ArrayBuffer): Promise<R | JobFailed> {
    const id = this.nextId++;
    const job = make(id);
    worker.ref();
    return new Promise<R | JobFailed>((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage(job, [transfer]);
    }).finally(() => {
      if (this.waiting.size === 0) worker.unref();
    });
  }
}
