export { BlockCatalog } from './block-catalog.js';
export type { BlockCatalogOptions } from './block-catalog.js';
export { BlockPipeline } from './block-pipeline.js';
export type { BlockPipelineOptions, WalItem } from './block-pipeline.js';
export { Compactor } from './compactor.js';
export type { CompactionReport, CompactorOptions } from './compactor.js';
export { QueryEngine } from './query-engine.js';
export type { PendingSpans, QueryEngineOptions, SearchQuery } from './query-engine.js';
export type { SearchHit, SearchMetrics, SearchResult, SearchSpan, SearchSpanSet } from './trace-search.js';
export { QueryServer } from './query-server.js';
export type { QueryServerOptions } from './query-server.js';
export { runStore } from './run-store.js';
export { compactionLeadership, startStore } from './store.js';
export type { RunningStore, StoreDependencies } from './store.js';
export { OTLP_GRPC_EXPORT_PATH, OTLP_TRACES_PATH, roleForPath } from './access-role.js';
export { PolicyHttp } from './policy-http.js';
export type { PolicyHttpOptions } from './policy-http.js';
export type { AccessRole } from './access-role.js';
export { StoreAuth } from './store-auth.js';
export type { Authorize, StoreAuthOptions } from './store-auth.js';
export { TokenAuth } from './token-auth.js';
export type { TokenAuthOptions } from './token-auth.js';
export { TokenReviewer, tokenExpiryMs } from './token-review.js';
export type {
  TokenReviewCall,
  TokenReviewerOptions,
  TokenReviewResult,
  TokenReviewStatus,
} from './token-review.js';
export { WriteAheadLog } from './write-ahead-log.js';
export type { WalSegment, WriteAheadLogOptions } from './write-ahead-log.js';
export { ServiceGraph, pairWeight } from './service-graph.js';
export type {
  ConnectionType,
  ServiceGraphEdge,
  ServiceGraphNode,
  ServiceGraphOptions,
  ServiceGraphView,
} from './service-graph.js';
export { BadRequest, registerQueryRoutes, RouteTable } from './query-routes.js';
export type { QueryRoute, RouteProvider, RouteRequest, RouteServer } from './query-routes.js';
