export { BearerTokenFile } from './bearer-token.js';
export { readCaFile } from './ca-file.js';
export { HttpRequestError, KeepAliveAgents, sendRequest } from './client-request.js';
export type { SentResponse } from './client-request.js';
export { headerValue } from './header-value.js';
export { ReplicaSource } from './replicas.js';
export type { Replica, ResolveHost } from './replicas.js';
export { StoreHttpClient, StoreRequestError } from './store-http-client.js';
export type { StoreRequestFailure } from './store-http-client.js';
export {
  answerUnreadableRequests,
  BodyAborted,
  listen,
  readBoundedBody,
  timeoutChecking,
} from './server-plumbing.js';
export { tlsServerNameFor } from './tls-server-name.js';
