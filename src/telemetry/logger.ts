import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** The process logger: pino JSON on stdout. Span payloads are never logged at info. */
export function createLogger(level: LevelWithSilent = 'info', name = 'sentinel'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A logger that writes nothing, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
