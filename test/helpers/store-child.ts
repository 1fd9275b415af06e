/**
 * A store in a child process, for crash tests: started from the test config of `SENTINEL_TEST_STORE_DIR`
 * (plus JSON overrides in `SENTINEL_TEST_STORE_OVERRIDES`); prints its ports as one JSON line, then runs
 * until killed.
 */
import { startStore } from '../../src/store/store.js';
import { Metrics, silentLogger } from '../../src/telemetry/index.js';
import { testStoreConfig } from './store-harness.js';

const dir = process.env['SENTINEL_TEST_STORE_DIR'];
if (!dir) throw new Error('SENTINEL_TEST_STORE_DIR is not set');
const overrides = JSON.parse(process.env['SENTINEL_TEST_STORE_OVERRIDES'] ?? '{}') as Record<string, unknown>;
const store = await startStore(testStoreConfig(dir, overrides), {
  logger: silentLogger(),
  metrics: new Metrics(),
});
process.stdout.write(JSON.stringify(store.ports) + '\n');
setInterval(() => {}, 1 << 30);
