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
