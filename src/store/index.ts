export { runStore } from './run-store.js';
export { startStore } from './store.js';
