import { pino, type Level } from 'pino';
import type { Logger } from '../../src/telemetry/index.js';

/** A logger that keeps every line at `level` and above (as parsed objects), for tests that assert a line was written. */
export function capturingLogger(level: Level = 'debug'): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  // pino writes to any object with write(), a JSON line at a time.
  const stream = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  return { logger: pino({ level }, stream), lines };
}
