// The decision feed (issue 9): ids of traces kept by a rule, published by agents and read back from every store
// replica. The agent runs the client; the store runs the log and its HTTP handler.
export { DecisionFeedClient } from './feed-client.js';
export { DecisionFeedHttp } from './decision-feed-http.js';
export { DecisionLog } from './decision-log.js';
export { DECISIONS_PATH } from './feed-protocol.js';
