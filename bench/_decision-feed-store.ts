/**
 * The store of bench/decision-feed.ts, in its own process so that its CPU (process.cpuUsage) is the
 * store's alone: started on 127.0.0.1 port 0 over the directory in argv[2], with bearer-token auth (as a
 * cluster would run it). Sends its ports over IPC, then answers 'cpu' with process.cpuUsage() and 'stop'
 * with a shutdown.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { storeConfigSchema, validateConfig } from '../src/config/index.js';
import { startStore } from '../src/store/store.js';
import { Metrics, silentLogger } from '../src/telemetry/index.js';

const dir = process.argv[2];
const token = process.argv[3];
if (!dir || !token || !process.send) throw new Error('usage: fork(_decision-feed-store.ts, [dir, token])');
const tokenFile = join(dir, 'tokens');
writeFileSync(tokenFile, `${token}\n`);
const config = validateConfig(
  storeConfigSchema(),
  {
    receivers: { otlp: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
    admin: { endpoint: '127.0.0.1:0' },
    query: { endpoint: '127.0.0.1:0', refresh_interval: '1h' },
    storage: { url: `file://${join(dir, 'data')}` },
    wal_dir: join(dir, 'wal'),
    compaction: { enabled: false, interval: '0s' },
    auth: { required: true, token_files: [tokenFile] },
    log: { level: 'silent' },
  },
  'bench',
);
const store = await startStore(config, {
  logger: silentLogger(),
  metrics: new Metrics(),
  filePollIntervalMs: 3_600_000,
});
process.send({ ports: store.ports, epoch: store.decisions.epoch });
process.on('message', (m) => {
  if (m === 'cpu') process.send!({ cpu: process.cpuUsage(), head: store.decisions.head.seq });
  if (m === 'stop') void store.shutdown().then(() => process.exit(0));
});
