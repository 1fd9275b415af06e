import type { Logger } from './logger.js';

/**
 * Waits for SIGTERM or SIGINT, then drains once: resolves 0 when `shutdown` finished within `timeoutMs`,
 * 1 when it did not (the caller exits with that code). A second signal does not start a second drain.
 */
export function installShutdown(options: {
  logger: Logger;
  timeoutMs: number;
  shutdown: () => Promise<void>;
}): Promise<number> {
  return new Promise((resolve) => {
    let started = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (started) {
        options.logger.warn({ signal }, 'already draining');
        return;
      }
      started = true;
      options.logger.info({ signal, timeoutMs: options.timeoutMs }, 'shutting down');
      const timer = setTimeout(() => {
        options.logger.error(
          { timeoutMs: options.timeoutMs },
          'shutdown_timeout passed before the drain finished',
        );
        resolve(1);
      }, options.timeoutMs);
      timer.unref();
      options.shutdown().then(
        () => {
          clearTimeout(timer);
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve(0);
        },
        (err: unknown) => {
          clearTimeout(timer);
          options.logger.error({ err }, 'drain failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
