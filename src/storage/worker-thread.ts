import { Worker } from 'node:worker_threads';

/**
 * Starts the module `name` (without extension) beside `baseUrl` as an unref'ed worker thread: the `.js` file in dist;
 * under tsx (tests, `npm run sentinel`) the `.ts` file, through a bootstrap that registers tsx first, since a worker
 * does not inherit the loader. (The logs encoder's; the span block encoder has the same bootstrap inline.)
 */
export function startModuleWorker(baseUrl: string, name: string): Worker {
  const worker = baseUrl.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
          new URL(`./${name}.ts`, baseUrl).href,
        )}); });`,
        { eval: true },
      )
    : new Worker(new URL(`./${name}.js`, baseUrl));
  worker.unref();
  return worker;
}

/**
 * Terminates `worker`, waiting at most `waitMs` (terminate() has been seen never to settle for a worker stopped
 * under load); resolves false when it did not settle in time, the worker then left to the process exit.
 */
export async function terminateWorker(worker: Worker, waitMs: number): Promise<boolean> {
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
