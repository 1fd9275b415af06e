export { CountingObjectStore } from './object-store.js';
export type { ObjectInfo, ObjectStore, ObjectStoreStats } from './object-store.js';
export { LocalObjectStore } from './local-object-store.js';
export { S3ObjectStore } from './s3-object-store.js';
export type { S3Options } from './s3-object-store.js';
export { openObjectStore } from './open-object-store.js';
