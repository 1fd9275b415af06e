export { DEFAULT_COMPARE_OPTIONS, compareSpans } from './compare-spans.js';
export type {
  CompareOptions,
  CompareReport,
  CompareRow,
  CompareSection,
  CompareSpan,
  LatencyDistribution,
  VariantSamples,
  Verdict,
} from './compare-spans.js';
export { COMPARE_PARAMS, describeQuery, parseCompareParams } from './compare-query.js';
export type { CompareQuery } from './compare-query.js';
export {
  CompareSpanCollector,
  MAX_COMPARE_SPANS,
  blockMayMatch,
  compareRequest,
  compareRowFilter,
  loadSpansFromStorage,
  storedSpanMatches,
  toCompareSpan,
} from './load-spans.js';
export type { CompareScan } from './load-spans.js';
export { renderDistributionSvg, renderHtml, renderJson, renderTable } from './render.js';
export { COMPARE_EXIT_CODES, runCompare } from './run-compare.js';
export type { CompareCommandIo } from './run-compare.js';
export {
  normalCdf,
  normalQuantile,
  pairDifferenceQuantile,
  quantileInterval,
  superiority,
  weightedQuantile,
  weightedSample,
} from './weighted-stats.js';
export type { WeightedSample } from './weighted-stats.js';
export { neighboursOf, renderNeighboursSvg } from './neighbours.js';
export type { NeighbourEdge, ServiceNeighbours } from './neighbours.js';
