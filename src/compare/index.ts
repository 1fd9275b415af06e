export type { CompareReport } from './compare-spans.js';
export { compareRequest } from './load-spans.js';
export { renderHtml, renderTable } from './render.js';
export { runCompare } from './run-compare.js';
export type { CompareCommandIo } from './run-compare.js';
