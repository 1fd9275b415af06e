import { readFileSync, readlinkSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger, Metrics } from '../telemetry/index.js';
import { DownwardApiFormatError, parseDownwardApiFile } from './downward-api-format.js';

/** The two podinfo files Sentinel reads. */
export type PodinfoFile = 'labels' | 'annotations';
const FILES: readonly PodinfoFile[] = ['labels', 'annotations'];

/** The last good content of each file; undefined when the file was never read successfully. */
export interface PodinfoSnapshot {
  readonly labels: ReadonlyMap<string, string> | undefined;
  readonly annotations: ReadonlyMap<string, string> | undefined;
}

export interface PodinfoWatcherOptions {
  readonly dir: string;
  readonly pollIntervalMs: number;
  /** false: rely on the periodic check only (also what happens when fs.watch fails). */
  readonly watch?: boolean;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Called after a re-read changed the snapshot. */
  readonly onChange: (snapshot: PodinfoSnapshot) => void;
}

/**
 * Follows a Downward API volume. The kubelet writes a new timestamped directory, points `..data_tmp` at it and
 * renames that over `..data` (kubernetes pkg/volume/util `AtomicWriter`); `labels` is a symlink into `..data`.
 * A version is therefore the `..data` link target: both files are read from the one resolved directory, so a
 * swap between the two reads cannot mix versions. fs.watch on the directory reacts within milliseconds; an
 * unref'd periodic check catches what it misses (fs.watch is unreliable on some volume types). A file that does
 * not parse is logged and counted once per version, and its last good values stay.
 */
export class PodinfoWatcher {
  private readonly options: PodinfoWatcherOptions;
  private readonly errors;
  private readonly reloads;
  private labels: ReadonlyMap<string, string> | undefined;
  private annotations: ReadonlyMap<string, string> | undefined;
  /** Version key of what was last looked at (good or bad), so a bad version is reported once. */
  private seen: Record<PodinfoFile, string | undefined> = { labels: undefined, annotations: undefined };
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: PodinfoWatcherOptions) {
    this.options = options;
    this.errors = options.metrics.counter(
      'enrich_podinfo_errors_total',
      'Podinfo (Downward API volume) files that could not be read or parsed; the last good values were kept.',
      ['file', 'reason'],
    );
    this.reloads = options.metrics.counter(
      'enrich_podinfo_reloads_total',
      'Podinfo files read again after the kubelet updated them.',
      ['file'],
    );
  }

  /** Reads the files once (synchronously, so the first spans already see them), then starts following them. */
  start(): void {
    this.refresh();
    this.ensureWatch();
    this.timer = setInterval(() => {
      this.ensureWatch();
      this.refresh();
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  snapshot(): PodinfoSnapshot {
    return { labels: this.labels, annotations: this.annotations };
  }

  /** Re-reads what changed since the last look; returns true when the snapshot changed. */
  refresh(): boolean {
    if (this.closed) return false;
    const base = this.resolveBase();
    let changed = false;
    for (const file of FILES) {
      const version = this.versionOf(base, file);
      if (version === undefined || version === this.seen[file]) continue;
      this.seen[file] = version;
      const parsed = this.readFile(base, file);
      if (parsed === undefined) continue;
      const previous = file === 'labels' ? this.labels : this.annotations;
      if (previous !== undefined && sameMap(previous, parsed)) continue;
      if (file === 'labels') this.labels = parsed;
      else this.annotations = parsed;
      if (previous !== undefined) this.reloads.inc({ file });
      changed = true;
    }
    if (changed) this.options.onChange(this.snapshot());
    return changed;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** The directory holding the current version: `dir/<..data target>` under the kubelet, else `dir` itself. */
  private resolveBase(): { path: string; link: string | undefined } {
    const dir = this.options.dir;
    try {
      const target = readlinkSync(join(dir, '..data'));
      return { path: resolve(dir, target), link: target };
    } catch {
      return { path: dir, link: undefined };
    }
  }

  /** A key that changes when the file's content may have: the link target, else size and mtime. */
  private versionOf(base: { path: string; link: string | undefined }, file: PodinfoFile): string | undefined {
    try {
      const st = statSync(join(base.path, file));
      return base.link !== undefined ? `link:${base.link}` : `stat:${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Absent before ever being read: no volume mounted (outside Kubernetes), nothing to report.
        const had = file === 'labels' ? this.labels : this.annotations;
        if (had !== undefined && this.seen[file] !== 'missing') {
          this.seen[file] = 'missing';
          this.report(
            file,
            'missing',
            `${file} disappeared from ${this.options.dir}; keeping the last good values`,
          );
        }
        return undefined;
      }
      return `error:${(err as Error).message}`;
    }
  }

  private readFile(base: { path: string }, file: PodinfoFile): Map<string, string> | undefined {
    let text: string;
    try {
      text = readFileSync(join(base.path, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // A swap removed the old directory between resolving and reading: read the new one at the next look.
        this.seen[file] = undefined;
        this.scheduleRefresh();
        return undefined;
      }
      this.report(file, 'read', `cannot read ${file} in ${this.options.dir}: ${(err as Error).message}`);
      return undefined;
    }
    try {
      return parseDownwardApiFile(text);
    } catch (err) {
      const why = err instanceof DownwardApiFormatError ? err.message : String(err);
      this.report(
        file,
        'malformed',
        `${file} in ${this.options.dir} is malformed (${why}); keeping the last good values`,
      );
      return undefined;
    }
  }

  private report(file: PodinfoFile, reason: string, message: string): void {
    this.errors.inc({ file, reason });
    this.options.logger.warn({ code: 'SENTINEL_ERR_PODINFO_MALFORMED', file, reason }, message);
  }

  private ensureWatch(): void {
    if (this.watcher || this.closed || this.options.watch === false) return;
    try {
      this.watcher = watch(this.options.dir, { persistent: false }, () => this.scheduleRefresh());
      this.watcher.on('error', (err) => {
        this.options.logger.debug({ err }, 'podinfo watch failed; the periodic check goes on');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // No directory yet (or no inotify): the periodic check covers it and retries the watch.
      this.watcher = undefined;
    }
  }

  /** The kubelet's swap is several renames; react once after they settle. */
  private scheduleRefresh(): void {
    if (this.debounce || this.closed) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.refresh();
    }, 25);
    this.debounce.unref();
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
