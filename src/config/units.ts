/** Parsing of the contract's duration ("500ms", "10s", "5m", "336h") and size ("64MiB", 4096) strings. */

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)$/;

/** Milliseconds in a duration string such as "1m30s" or "500ms"; undefined when it is not one. */
export function parseDurationMs(input: string): number | undefined {
  const text = input.trim();
  if (text === '0') return 0;
  // Go-style compound durations ("1h30m") are a sequence of number+unit parts.
  const parts = text.match(/\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d)/g);
  if (!parts || parts.join('') !== text) return undefined;
  let total = 0;
  for (const part of parts) {
    const m = DURATION_RE.exec(part);
    if (!m) return undefined;
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
  }
  return total;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** Bytes in a size such as 4096, "4MiB" or "1.5GiB"; undefined when it is not one. */
export function parseSizeBytes(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.floor(input) : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(input.trim());
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] as string).toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}

/** "host:port" split, accepting "[::1]:4317"; undefined when the port is missing or not a number. */
export function parseEndpoint(input: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(input.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}
