import { WIRE_INDEX_BYTES_PER_LOG, type WireLogs, type WireSpans } from '../otlp/index.js';
import { WireTrace } from './buffered-trace.js';
import { HeldSpans } from './held-requests.js';
import { IdTable } from './id-table.js';
import { grow, INITIAL_ROWS, NONE, Rows } from './rows.js';

/**
 * Heap bytes of a buffered trace beyond its spans: its row in the trace columns (68 B) and in the id table (16 B,
 * and two to four 4-byte slots), times the columns' slack (they grow by half: 1x to 1.5x). bench/trace-buffer.ts
 * measured 145 B per trace at 20,000 traces (the agent's 10k spans/s) and 115 B at 50,000, after a full GC on
 * Node 20, while the columns grew by doubling and the id table kept a 4-byte hash per row (136 B at 20,000
 * since); the object with two arrays in a Map that it replaced, 521 B.
 */
export const TRACE_OVERHEAD_BYTES = 150;
/**
 * Heap bytes per buffered span beyond its share of its request: its entry row (request row, index, next: 12 B)
 * times the slack, and its share of the request rows. bench/trace-buffer.ts measured 17.1 B at 180,000 spans and
 * 14.0 B at 450,000.
 */
export const SPAN_OVERHEAD_BYTES = 18;
/** Heap bytes per buffered log record beyond its share of its request: an entry row and its index columns. */
export const LOG_OVERHEAD_BYTES = SPAN_OVERHEAD_BYTES + WIRE_INDEX_BYTES_PER_LOG;

/**
 * Waiting traces, one row each (issue 13): when first seen, counts, bytes, the first and last of its span and log
 * entries, and its place in the first-seen order (`prev`, `next`: an intrusive list, oldest first).
 */
class TraceRows extends Rows {
  firstSeen = new Float64Array(INITIAL_ROWS);
  bytes = new Float64Array(INITIAL_ROWS);
  logBytes = new Float64Array(INITIAL_ROWS);
  spans = new Int32Array(INITIAL_ROWS);
  logs = new Int32Array(INITIAL_ROWS);
  spanHead = new Int32Array(INITIAL_ROWS);
  spanTail = new Int32Array(INITIAL_ROWS);
  logHead = new Int32Array(INITIAL_ROWS);
  logTail = new Int32Array(INITIAL_ROWS);
  prev = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.firstSeen = grow(this.firstSeen, n);
    this.bytes = grow(this.bytes, n);
    this.logBytes = grow(this.logBytes, n);
    this.spans = grow(this.spans, n);
    this.logs = grow(this.logs, n);
    this.spanHead = grow(this.spanHead, n);
    this.spanTail = grow(this.spanTail, n);
    this.logHead = grow(this.logHead, n);
    this.logTail = grow(this.logTail, n);
    this.prev = grow(this.prev, n);
  }
}

/** A buffered span or log record: which request row holds it, its index there, the trace's next one (`next`). */
class EntryRows extends Rows {
  request = new Int32Array(INITIAL_ROWS);
  index = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.request = grow(this.request, n);
    this.index = grow(this.index, n);
  }
}

/** The scanned requests that buffered entries name, each counted: a row is let go with its last entry. */
class RequestRows extends Rows {
  list: Array<WireSpans | WireLogs | undefined> = [];
  refs = new Int32Array(INITIAL_ROWS);
  protected override resize(n: number): void {
    this.refs = grow(this.refs, n);
  }
}

/**
 * Traces waiting for their decision, by id, in first-seen order. Spans stay in the request bytes they came in;
 * `bytes` is their share of those requests plus the index, the figure `max_buffered_bytes` bounds.
 *
 * Laid out as rows of typed-array columns (issue 13: at 10k spans/s about 20,000 traces wait 10 s, and an object
 * with two arrays per trace was most of what the agent promoted to the old space): a trace is a row, its spans a
 * chain of entry rows (request row, index), the oldest-first order an intrusive list, the id a row's four words
 * in a hash table of rows (id-table.ts). Left in the JS heap: one array slot per scanned request that waiting
 * spans name. A trace is named by its row; a row is valid from `open` until `free`.
 */
export class TraceBuffer {
  private readonly ids = new IdTable();
  /** The id last found or opened and its row: an SDK exports a trace's spans side by side. */
  private lastId: string | undefined;
  private lastRow = NONE;
  private readonly t = new TraceRows();
  private readonly e = new EntryRows();
  private readonly r = new RequestRows();
  private oldestRow = NONE;
  private newestRow = NONE;
  /** The request the last entry named and its row (a pass adds many entries of one request in a row). */
  private lastRequest: WireSpans | WireLogs | undefined;
  private lastRequestRow = NONE;
  private spans = 0;
  private logs = 0;
  private byteCount = 0;

  get size(): number {
    return this.ids.size;
  }

  get spanCount(): number {
    return this.spans;
  }

  get logCount(): number {
    return this.logs;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** The row of a buffered trace, or NONE. */
  find(traceId: string): number {
    if (traceId === this.lastId) return this.lastRow;
    const row = this.ids.find(traceId);
    if (row !== NONE) {
      this.lastId = traceId;
      this.lastRow = row;
    }
    return row;
  }

  has(traceId: string): boolean {
    return this.ids.find(traceId) !== NONE;
  }

  /** Starts a trace (the caller checked it is not buffered); returns its row, the newest. */
  open(traceId: string, nowMs: number): number {
    const t = this.t;
    const row = t.add();
    t.firstSeen[row] = nowMs;
    t.bytes[row] = 0;
    t.logBytes[row] = 0;
    t.spans[row] = 0;
    t.logs[row] = 0;
    t.spanHead[row] = t.spanTail[row] = NONE;
    t.logHead[row] = t.logTail[row] = NONE;
    t.prev[row] = this.newestRow;
    t.next[row] = NONE;
    if (this.newestRow === NONE) this.oldestRow = row;
    else t.next[this.newestRow] = row;
    this.newestRow = row;
    this.ids.add(traceId, row);
    this.lastId = traceId;
    this.lastRow = row;
    this.byteCount += TRACE_OVERHEAD_BYTES;
    return row;
  }

  /** Adds span `i` of `request` to the trace in `row`, charging `share` bytes of the request. */
  addSpan(row: number, request: WireSpans, i: number, share: number): void {
    const t = this.t;
    const entry = this.entry(request, i);
    if (t.spanTail[row] === NONE) t.spanHead[row] = entry;
    else this.e.next[t.spanTail[row] as number] = entry;
    t.spanTail[row] = entry;
    t.spans[row] = (t.spans[row] as number) + 1;
    t.bytes[row] = (t.bytes[row] as number) + share;
    this.spans++;
    this.byteCount += share + SPAN_OVERHEAD_BYTES;
  }

  /**
   * Adds record `i` of `logs` to the trace in `row` (issue 16): a log with a trace id waits with its trace, in
   * the same budget, charged its share of the request plus its entry as a span is.
   */
  addLog(row: number, logs: WireLogs, i: number, share: number): void {
    const t = this.t;
    const entry = this.entry(logs, i);
    if (t.logTail[row] === NONE) t.logHead[row] = entry;
    else this.e.next[t.logTail[row] as number] = entry;
    t.logTail[row] = entry;
    t.logs[row] = (t.logs[row] as number) + 1;
    t.logBytes[row] = (t.logBytes[row] as number) + share;
    this.logs++;
    this.byteCount += share + LOG_OVERHEAD_BYTES;
  }

  /**
   * Takes the trace in `row` out (decided): it is no longer found, counted or in the order, but its id, counts
   * and entries can still be read until `free(row)`.
   */
  remove(row: number): void {
    const t = this.t;
    this.ids.delete(row);
    if (row === this.lastRow) {
      this.lastId = undefined;
      this.lastRow = NONE;
    }
    const prev = t.prev[row] as number;
    const next = t.next[row] as number;
    if (prev === NONE) this.oldestRow = next;
    else t.next[prev] = next;
    if (next === NONE) this.newestRow = prev;
    else t.prev[next] = prev;
    const spanCount = t.spans[row] as number;
    const logCount = t.logs[row] as number;
    this.spans -= spanCount;
    this.logs -= logCount;
    this.byteCount -=
      (t.bytes[row] as number) +
      spanCount * SPAN_OVERHEAD_BYTES +
      TRACE_OVERHEAD_BYTES +
      (logCount > 0 ? (t.logBytes[row] as number) + logCount * LOG_OVERHEAD_BYTES : 0);
    if (this.ids.size === 0) {
      this.byteCount = 0; // no float drift once empty
      this.logs = 0;
    }
  }

  /** Lets a removed trace's row and entries go, to be reused. */
  free(row: number): void {
    const t = this.t;
    this.freeChain(t.spanHead[row] as number);
    this.freeChain(t.logHead[row] as number);
    this.ids.forget(row);
    t.delete(row);
  }

  /** The oldest trace's row, or NONE. */
  oldest(): number {
    return this.oldestRow;
  }

  /** The next younger trace's row after a buffered `row`, or NONE. */
  younger(row: number): number {
    return this.t.next[row] as number;
  }

  /** The rows of every buffered trace, oldest first (a copy: for passes that remove as they go). */
  rows(): number[] {
    const out: number[] = [];
    for (let row = this.oldestRow; row !== NONE; row = this.t.next[row] as number) out.push(row);
    return out;
  }

  /** A handle on the trace in `row`, for the decision and the policies (valid until `free(row)`). */
  trace(row: number): WireTrace {
    return new WireTrace(this, row);
  }

  /** The trace's id (made from the row's id words: a new string each call). */
  traceId(row: number): string {
    return this.ids.idOf(row);
  }

  firstSeenMs(row: number): number {
    return this.t.firstSeen[row] as number;
  }

  spansOf(row: number): number {
    return this.t.spans[row] as number;
  }

  logsOf(row: number): number {
    return this.t.logs[row] as number;
  }

  /** The spans' share of their requests' bytes. */
  spanBytesOf(row: number): number {
    return this.t.bytes[row] as number;
  }

  /** The log records' share of their requests' bytes. */
  logBytesOf(row: number): number {
    return this.t.logBytes[row] as number;
  }

  /** The trace's first span entry (in arrival order), or NONE; `nextEntry` walks on. */
  firstSpan(row: number): number {
    return this.t.spanHead[row] as number;
  }

  firstLog(row: number): number {
    return this.t.logHead[row] as number;
  }

  nextEntry(entry: number): number {
    return this.e.next[entry] as number;
  }

  /** The scanned request an entry's span (or record) is in. */
  entryRequest(entry: number): WireSpans | WireLogs {
    return this.r.list[this.e.request[entry] as number] as WireSpans | WireLogs;
  }

  /** The entry's index in its request. */
  entryIndex(entry: number): number {
    return this.e.index[entry] as number;
  }

  /** Rows in use, for tests and benches: traces, entries, requests. */
  get rowStats(): { traces: number; entries: number; requests: number } {
    let entries = 0;
    for (let row = this.oldestRow; row !== NONE; row = this.t.next[row] as number)
      entries += (this.t.spans[row] as number) + (this.t.logs[row] as number);
    let requests = 0;
    for (const r of this.r.list) if (r !== undefined) requests++;
    return { traces: this.ids.size, entries, requests };
  }

  private entry(request: WireSpans | WireLogs, i: number): number {
    let req = this.lastRequestRow;
    if (request !== this.lastRequest) {
      req = this.r.add();
      this.r.list[req] = request;
      this.r.refs[req] = 0;
      if (request instanceof HeldSpans) request.pin();
      this.lastRequest = request;
      this.lastRequestRow = req;
    }
    this.r.refs[req] = (this.r.refs[req] as number) + 1;
    const e = this.e;
    const entry = e.add();
    e.request[entry] = req;
    e.index[entry] = i;
    e.next[entry] = NONE;
    return entry;
  }

  private freeChain(first: number): void {
    const e = this.e;
    const r = this.r;
    for (let entry = first; entry !== NONE;) {
      const next = e.next[entry] as number;
      const req = e.request[entry] as number;
      const refs = (r.refs[req] as number) - 1;
      r.refs[req] = refs;
      if (refs === 0) {
        if (this.lastRequestRow === req) {
          this.lastRequest = undefined;
          this.lastRequestRow = NONE;
        }
        const request = r.list[req];
        r.list[req] = undefined;
        r.delete(req);
        // Its bytes are read no more after this pass (held-requests.ts).
        if (request instanceof HeldSpans) request.unpin();
      }
      e.delete(entry);
      entry = next;
    }
  }
}
