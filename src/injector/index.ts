export { runInjector } from './run-injector.js';
