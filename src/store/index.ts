export { runStore } from './run-store.js';
export { startStore } from './store.js';
export type { RunningStore } from './store.js';
