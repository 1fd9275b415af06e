import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, storeConfigSchema } from '../config/index.js';
import {
  decodeLogsRequest,
  decodeTraceRequest,
  encodeTraceRequestJson,
  logsDataToJson,
} from '../otlp/index.js';
import { readWalRecords } from './wal-record.js';

/**
 * Quarantined WAL segments (docs/store-robustness.md "Quarantine"): a segment whose block cannot be encoded is
 * moved from `<wal_dir>/` to `<wal_dir>/quarantine/<segment>.wal`, beside `<segment>.json` holding why. Replay
 * reads only `<wal_dir>/*.wal`, so a restart does not try it again. Nothing deletes them: an operator reads
 * them with `sentinel store quarantine list|show` and removes them when done.
 */
export const QUARANTINE_DIR = 'quarantine';

/** `<segment>.json` beside a quarantined segment. */
export interface QuarantineReason {
  readonly segment: string;
  readonly quarantinedAt: string;
  /** The block id the segment would have become. */
  readonly blockId: string;
  readonly spans: number;
  readonly records: number;
  readonly bytes: number;
  readonly error: string;
}

/** Moves `path` (a sealed segment) into the quarantine directory and writes its reason beside it. */
export async function quarantineSegment(
  walDir: string,
  path: string,
  reason: Omit<QuarantineReason, 'segment' | 'quarantinedAt'>,
  now: number,
): Promise<string> {
  const dir = join(walDir, QUARANTINE_DIR);
  await mkdir(dir, { recursive: true });
  const name = basename(path);
  const record: QuarantineReason = {
    segment: name,
    quarantinedAt: new Date(now).toISOString(),
    ...reason,
  };
  // The reason first: a crash between the two leaves the segment in place, and it is tried (and
  // quarantined) once more after the restart, never lost.
  await writeFile(join(dir, `${name}.json`), JSON.stringify(record, null, 2) + '\n');
  const target = join(dir, name);
  await rename(path, target);
  return target;
}

/** Every quarantined segment with its reason, oldest first. */
export async function listQuarantine(walDir: string): Promise<QuarantineReason[]> {
  const dir = join(walDir, QUARANTINE_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: QuarantineReason[] = [];
  for (const name of names.filter((n) => n.endsWith('.wal')).sort()) {
    try {
      out.push(JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as QuarantineReason);
    } catch {
      out.push({
        segment: name,
        quarantinedAt: '',
        blockId: '',
        spans: 0,
        records: 0,
        bytes: 0,
        error: 'no readable reason file',
      });
    }
  }
  return out;
}

/**
 * The records of a quarantined segment as OTLP/JSON export requests (one per record), ready to resend. `logs`: the
 * segment is a logs WAL segment (`<wal_dir>/logs`, issue 16), its records ExportLogsServiceRequests.
 */
export async function quarantinedRequests(walDir: string, segment: string, logs = false): Promise<string[]> {
  if (basename(segment) !== segment || !segment.endsWith('.wal')) {
    throw new Error(
      `expected a segment name as "sentinel store quarantine list" prints it, got ${JSON.stringify(segment)}`,
    );
  }
  const buf = await readFile(join(walDir, QUARANTINE_DIR, segment));
  const out: string[] = [];
  for (const ev of readWalRecords(buf)) {
    if (ev.kind === 'corrupt') break;
    out.push(
      logs
        ? JSON.stringify(logsDataToJson(decodeLogsRequest(ev.payload)))
        : encodeTraceRequestJson(decodeTraceRequest(ev.payload)),
    );
  }
  return out;
}

const USAGE = `usage: sentinel store quarantine list [--config FILE | --wal-dir DIR] [--logs] [--json]
       sentinel store quarantine show SEGMENT [--config FILE | --wal-dir DIR] [--logs]

  list    every WAL segment the store set aside because its block could not be encoded, with the reason
  show    the reason, then each record of SEGMENT as one line of OTLP/JSON (POST it to /v1/traces once fixed)
  --wal-dir DIR   the store's wal_dir (default: wal_dir of --config, $SENTINEL_CONFIG, or ./wal)
  --logs          the logs WAL's quarantine (<wal_dir>/logs/quarantine); show prints ExportLogsServiceRequests
`;

/** `sentinel store quarantine ...`. */
export async function runQuarantine(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        'wal-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
        logs: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    err(`sentinel store quarantine: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, segment] = positionals;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const storeWalDir =
    values['wal-dir'] ??
    loadConfig(storeConfigSchema(), {
      file: values.config ?? (process.env['SENTINEL_CONFIG'] || undefined),
      env: process.env,
    }).wal_dir;
  // The logs WAL lives in <wal_dir>/logs with its own quarantine (issue 16).
  const walDir = values.logs ? join(storeWalDir, 'logs') : storeWalDir;
  if (action === 'list' && segment === undefined) {
    const list = await listQuarantine(walDir);
    if (values.json) out(JSON.stringify(list, null, 2) + '\n');
    else if (list.length === 0) out(`no quarantined segments in ${join(walDir, QUARANTINE_DIR)}\n`);
    else
      for (const q of list)
        out(`${q.segment}\t${q.quarantinedAt}\t${q.spans} spans\t${q.records} records\t${q.error}\n`);
    return 0;
  }
  if (action === 'show' && segment !== undefined) {
    const reason = (await listQuarantine(walDir)).find((q) => q.segment === segment);
    if (!reason) {
      err(`sentinel store quarantine: no quarantined segment ${JSON.stringify(segment)} in ${walDir}\n`);
      return 1;
    }
    out(`# ${JSON.stringify(reason)}\n`);
    for (const line of await quarantinedRequests(walDir, segment, values.logs)) out(line + '\n');
    return 0;
  }
  err(USAGE);
  return 2;
}
