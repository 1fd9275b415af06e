/**
 * The agent's side of the decision feed (issue 9): publishes the ids of traces this agent kept by a rule to
 * one store replica, and reads every replica's feed of such ids, handing them to the sampler's `release`.
 */
import type { IncomingMessage } from 'node:http';
import { SentinelError } from '../errors.js';
import {
  headerValue,
  ReplicaSource,
  StoreHttpClient,
  StoreRequestError,
  type Replica,
  type ResolveHost,
  type StoreRequestFailure,
} from '../http/index.js';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import type { Logger, Metrics } from '../telemetry/index.js';
import {
  decodeDecisionIds,
  DECISION_ID_BYTES,
  DECISIONS_BINARY_TYPE,
  DECISIONS_PATH,
  formatFeedCursor,
  MAX_DECISION_IDS,
  readFeedHeaders,
} from './feed-protocol.js';
import { PendingIds } from './pending-ids.js';

export interface FeedClientOptions {
  /** `sampling.completion.stores`: query URLs of every replica. */
  readonly stores: readonly string[];
  /** `sampling.completion.stores_dns`: a headless Service, resolved to every replica each round. */
  readonly storesDns: string;
  readonly pollIntervalMs: number;
  /** Picks this agent's preferred replica for publishing (a stable hash), so agents spread over replicas. */
  readonly podName: string;
  readonly bearerTokenFile?: string;
  readonly tls?: { readonly caFile: string; readonly insecureSkipVerify: boolean };
  /** Ids read from a feed; called once per answer. */
  readonly onIds: (traceIds: string[]) => void;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Resolves a host name to addresses (tests replace DNS). */
  readonly resolve?: ResolveHost;
  /** Ids waiting to be published at most; beyond, the oldest are dropped (counted). */
  readonly maxPending?: number;
  readonly requestTimeoutMs?: number;
}

/** Follow-up reads of one replica per round at most when it says more remain (65,536 ids each). */
const MAX_PAGES_PER_ROUND = 16;
/** Cursors of replicas no longer resolved are kept this long, for one that comes back under a new address. */
const MAX_REMEMBERED_EPOCHS = 256;
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
/**
 * A rule keep is published this long after it was decided (ids decided meanwhile go in the same POST), not at
 * the next round: the feed's delay is then one reader's poll_interval instead of up to two, which halves the
 * time upstream agents must hold dropped traces. POSTs stay rare: an agent sends one only when it has news.
 */
const PUBLISH_DELAY_MS = 100;

type ErrorReason = StoreRequestFailure | 'dns';

/**
 * One round every `poll_interval`: resolve the replicas, publish pending ids (to the preferred replica, then
 * the others in turn until one takes them), then read each replica's feed from where this agent left it.
 * Cursors are kept per feed epoch, not per address, so a replica that restarts under a new pod IP is read on
 * from the same place. A failing replica costs a counted error and is tried again next round; nothing here
 * ever blocks the data path.
 */
export class DecisionFeedClient {
  private readonly options: FeedClientOptions;
  private readonly clock: Clock;
  private readonly http: StoreHttpClient;
  private readonly source: ReplicaSource;
  /** Ids waiting to be published, as the bytes of a POST body. */
  private readonly pending: PendingIds;
  /** Feed epoch of each replica URL read so far. */
  private readonly epochOf = new Map<string, string>();
  /** Next seq to read, per feed epoch (insertion order = least recently used first). */
  private readonly cursorOf = new Map<string, number>();
  private timer: ClockTimer | undefined;
  private publishTimer: ClockTimer | undefined;
  /** Publications run one at a time, so a round and a prompt publish never send the same ids. */
  private publishChain: Promise<void> = Promise.resolve();
  /** The replicas of the last round, for prompt publishing between rounds. */
  private lastReplicas: Replica[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;

  private readonly m;

  constructor(options: FeedClientOptions) {
    if (options.stores.length === 0 && options.storesDns === '')
      throw new SentinelError(
        'SENTINEL_ERR_CONFIG_INVALID',
        'sampling.completion: expected stores (URLs) or stores_dns (a headless Service name)',
      );
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.pending = new PendingIds(options.maxPending ?? MAX_DECISION_IDS * 4);
    this.source = new ReplicaSource({
      urls: options.stores,
      dns: options.storesDns,
      dnsKey: 'sampling.completion.stores_dns',
      resolve: options.resolve,
    });
    this.http = new StoreHttpClient({
      bearerTokenFile: options.bearerTokenFile,
      tls: options.tls,
      caFileKey: 'sampling.completion.tls.ca_file',
      timeoutMs: options.requestTimeoutMs ?? Math.max(2000, Math.min(10_000, options.pollIntervalMs * 5)),
      // One answer holds at most 65,536 ids; anything larger is not the feed.
      maxResponseBytes: (MAX_DECISION_IDS + 64) * DECISION_ID_BYTES,
    });
    const metrics = options.metrics;
    this.m = {
      published: metrics.counter(
        'sampling_completion_published_ids_total',
        'Ids of traces this agent kept by a rule, taken by a store for its decision feed.',
      ),
      publishDropped: metrics.counter(
        'sampling_completion_publish_dropped_ids_total',
        'Ids of rule-kept traces dropped unpublished because no store took them and the pending list was full.',
      ),
      pending: metrics.gauge(
        'sampling_completion_publish_pending_ids',
        'Ids of rule-kept traces waiting to be published.',
      ),
      errors: metrics.counter(
        'sampling_completion_feed_errors_total',
        'Failed decision-feed requests, by operation (publish, poll, resolve) and reason (network, timeout, status, bad_response, dns).',
        ['operation', 'reason'],
      ),
      lag: metrics.histogram(
        'sampling_completion_feed_lag_seconds',
        'Time from a store appending an id to its feed to this agent reading it (the oldest id of each answer; store and agent clocks).',
        [],
        LAG_BUCKETS,
      ),
      resets: metrics.counter(
        'sampling_completion_feed_resets_total',
        'Feed answers that started over at the oldest entry because the cursor was unknown to the replica (its feed was lost, or a new one).',
      ),
      missed: metrics.counter(
        'sampling_completion_feed_missed_ids_total',
        'Feed entries a replica no longer retained when this agent came to read them.',
      ),
      replicas: metrics.gauge('sampling_completion_feed_replicas', 'Store replicas the last round polled.'),
    };
  }

  /** Queues a rule-kept trace id; it is published within PUBLISH_DELAY_MS (or at the next round). */
  publish(traceId: string): void {
    if (this.stopped) return;
    const dropped = this.pending.add(traceId);
    if (dropped < 0) {
      this.options.logger.warn({ traceId }, 'decision feed: not a trace id (32 hex digits); not published');
      return;
    }
    this.countPending(dropped);
    if (this.publishTimer === undefined && this.lastReplicas.length > 0) {
      this.publishTimer = this.clock.setTimeout(() => {
        this.publishTimer = undefined;
        void this.publishPending(this.lastReplicas);
      }, PUBLISH_DELAY_MS);
    }
  }

  private countPending(dropped: number): void {
    if (dropped > 0) this.m.publishDropped.inc(dropped);
    this.m.pending.set(this.pending.count);
  }

  /** Starts polling every `poll_interval`. */
  start(): this {
    this.schedule(0);
    return this;
  }

  /** Stops polling; a last round publishes what is pending (ids kept at shutdown). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.publishTimer) this.clock.clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    await this.running;
    if (this.pending.count > 0) {
      await this.publishPending(await this.replicas().catch(() => [])).catch(() => undefined);
    }
    this.http.close();
  }

  /** One round: publish, then read every replica. Resolves when done (errors are counted, not thrown). */
  async round(): Promise<void> {
    let replicas: Replica[];
    try {
      replicas = await this.replicas();
    } catch (err) {
      this.m.errors.inc({ operation: 'resolve', reason: 'dns' });
      this.options.logger.warn({ err: (err as Error).message }, 'resolving the store replicas failed');
      return;
    }
    this.m.replicas.set(replicas.length);
    this.lastReplicas = replicas;
    await this.publishPending(replicas);
    await Promise.all(replicas.map((r) => this.read(r)));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const started = this.clock.now();
      this.running = this.round()
        .catch((err: unknown) => this.options.logger.error({ err }, 'decision feed round failed'))
        .finally(() => {
          this.running = undefined;
          const elapsed = this.clock.now() - started;
          this.schedule(Math.max(0, this.options.pollIntervalMs - elapsed));
        });
    }, delayMs);
  }

  private replicas(): Promise<Replica[]> {
    return this.source.replicas();
  }

  private publishPending(replicas: Replica[]): Promise<void> {
    this.publishChain = this.publishChain.then(() => this.sendPending(replicas)).catch(() => undefined);
    return this.publishChain;
  }

  private async sendPending(replicas: Replica[]): Promise<void> {
    if (this.pending.count === 0 || replicas.length === 0) return;
    const first = stableHash(this.options.podName) % replicas.length;
    while (this.pending.count > 0) {
      // Taken out while in flight, so that ids queued meanwhile (and the bound) cannot shift them.
      const body = this.pending.take(MAX_DECISION_IDS);
      let taken = false;
      for (let i = 0; i < replicas.length && !taken; i++) {
        const replica = replicas[(first + i) % replicas.length] as Replica;
        try {
          await this.request(replica, 'POST', DECISIONS_PATH, body);
          taken = true;
        } catch (err) {
          this.countError('publish', err, replica);
        }
      }
      if (!taken) {
        // Kept for the next round, in front of what came meanwhile; the bound drops the oldest.
        this.countPending(this.pending.putBack(body));
        return;
      }
      this.m.published.inc(body.length / DECISION_ID_BYTES);
    }
    this.m.pending.set(this.pending.count);
  }

  private async read(replica: Replica): Promise<void> {
    for (let page = 0; page < MAX_PAGES_PER_ROUND; page++) {
      const epoch = this.epochOf.get(replica.url);
      const seq = epoch === undefined ? undefined : this.cursorOf.get(epoch);
      const after = epoch !== undefined && seq !== undefined ? formatFeedCursor({ epoch, seq }) : '';
      let res: { headers: IncomingMessage['headers']; body: Buffer };
      try {
        res = await this.request(
          replica,
          'GET',
          `${DECISIONS_PATH}?after=${encodeURIComponent(after)}`,
          undefined,
        );
      } catch (err) {
        this.countError('poll', err, replica);
        return;
      }
      const page0 = readFeedHeaders((name) => headerValue(res.headers[name]));
      if (!page0 || res.body.length % DECISION_ID_BYTES !== 0) {
        this.m.errors.inc({ operation: 'poll', reason: 'bad_response' });
        return;
      }
      const { cursor } = page0;
      if (after === '') {
        // First contact with this address: a cursor of the same feed (the replica, restarted under a new
        // address) continues where it stopped; otherwise start at the head, as this agent holds nothing older.
        this.epochOf.set(replica.url, cursor.epoch);
        const known = this.cursorOf.get(cursor.epoch);
        this.remember(cursor.epoch, known !== undefined && known < cursor.seq ? known : cursor.seq);
        if (known !== undefined && known < cursor.seq) continue;
        return;
      }
      if (page0.reset) this.m.resets.inc();
      if (page0.missed > 0) this.m.missed.inc(page0.missed);
      if (cursor.epoch !== epoch) this.epochOf.set(replica.url, cursor.epoch);
      this.remember(cursor.epoch, cursor.seq);
      if (res.body.length > 0) {
        if (page0.oldestAppendedMs !== undefined)
          this.m.lag.observe(Math.max(0, Date.now() - page0.oldestAppendedMs) / 1000);
        this.options.onIds(decodeDecisionIds(res.body));
      }
      if (!page0.more) return;
    }
  }

  private remember(epoch: string, seq: number): void {
    this.cursorOf.delete(epoch);
    this.cursorOf.set(epoch, seq);
    if (this.cursorOf.size > MAX_REMEMBERED_EPOCHS) {
      const oldest = this.cursorOf.keys().next().value as string;
      this.cursorOf.delete(oldest);
    }
  }

  private countError(operation: 'publish' | 'poll', err: unknown, replica: Replica): void {
    const reason: ErrorReason = err instanceof StoreRequestError ? err.reason : 'network';
    this.m.errors.inc({ operation, reason });
    this.options.logger.debug(
      { store: replica.url, operation, err: (err as Error).message },
      'decision feed request failed',
    );
  }

  private request(
    replica: Replica,
    method: 'GET' | 'POST',
    path: string,
    body: Buffer | undefined,
  ): Promise<{ headers: IncomingMessage['headers']; body: Buffer }> {
    return this.http.request(new URL(path, replica.url + '/'), {
      method,
      headers: body
        ? { accept: DECISIONS_BINARY_TYPE, 'content-type': DECISIONS_BINARY_TYPE }
        : { accept: DECISIONS_BINARY_TYPE },
      body,
      servername: replica.servername,
    });
  }
}

/** FNV-1a 32 of a string: the same pod always prefers the same replica. */
function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
